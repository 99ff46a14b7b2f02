# pkgindex: a private Python package index and its Kubernetes operator.
SHELL := /usr/bin/env bash
.DEFAULT_GOAL := help

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
BIN := $(CURDIR)/bin
IMG ?= ghcr.io/pkgindex/pkgindex:$(VERSION)
CONTAINER_TOOL ?= docker
ROOT ?= ./packages
LISTEN ?= :8080

STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(BIN)/staticcheck-$(STATICCHECK_VERSION)
CONTROLLER_GEN_VERSION := v0.23.0
CONTROLLER_GEN := $(BIN)/controller-gen-$(CONTROLLER_GEN_VERSION)
KUSTOMIZE_VERSION := v5.8.2
KUSTOMIZE := $(BIN)/kustomize-$(KUSTOMIZE_VERSION)

# envtest runs a kube-apiserver and etcd of the Kubernetes minor client-go
# targets, built from the module proxy by hack/envtest-bins.sh.
K8S_VERSION := 1.37.2
ENVTEST_ASSETS := $(BIN)/k8s/$(K8S_VERSION)

# A count, not a duration: with a duration, Go 1.26's fuzz coordinator can
# report "context deadline exceeded" as a failure when -fuzztime ends while
# a worker is busy (golang/go#75804, fixed in Go 1.27). About 5s a target here.
FUZZTIME ?= 500000x
FUZZ_TARGETS := server/dist:FuzzParse server/dist:FuzzCompare server/simple:FuzzNegotiate server/store:FuzzCleanRel

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-17s %s\n", $$1, $$2}'

.PHONY: build
build: ## build bin/pkgindex
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/pkgindex .

.PHONY: serve
serve: build ## run the index on ./packages (ROOT=dir LISTEN=addr to change)
	@mkdir -p $(ROOT)
	$(BIN)/pkgindex serve --root $(ROOT) --listen $(LISTEN)

.PHONY: test
test: lint fuzz unit ## everything CI runs: lint, all tests (real pip) with -race, short fuzzing

.PHONY: unit
unit: envtest $(KUSTOMIZE) ## go tests with the race detector (the operator's against envtest)
	KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) KUSTOMIZE=$(KUSTOMIZE) go test -race -count=1 ./...

.PHONY: envtest
envtest: ## build kube-apiserver and etcd for envtest into bin/k8s/ (once; the script reuses them)
	@hack/envtest-bins.sh $(K8S_VERSION) >/dev/null

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## generate the CRD and RBAC under config/ from the markers
	$(CONTROLLER_GEN) rbac:roleName=pkgindex-operator crd paths=./api/... paths=./controllers/... \
	  output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac

.PHONY: generate
generate: $(CONTROLLER_GEN) ## generate deepcopy methods of the API types
	$(CONTROLLER_GEN) object paths=./api/...

GENERATED := api/v1alpha1/zz_generated.deepcopy.go config/crd/bases config/rbac/role.yaml

.PHONY: verify-generated
verify-generated: manifests generate ## fail when generated files differ from what is committed
	@git diff --exit-code -- $(GENERATED) || { echo "generated files are stale: run make manifests generate and commit"; exit 1; }
	@untracked=$$(git ls-files --others --exclude-standard -- $(GENERATED)); \
	  if [ -n "$$untracked" ]; then echo "generated files not committed:"; echo "$$untracked"; exit 1; fi

.PHONY: deploy-yaml
deploy-yaml: manifests $(KUSTOMIZE) ## print the operator's install manifests (config/default)
	$(KUSTOMIZE) build config/default

.PHONY: operator
operator: build ## run the operator against the current kubeconfig (install the CRD first: kubectl apply -k config/crd)
	$(BIN)/pkgindex operator --leader-elect=false --log-format=text --image=$(IMG)

.PHONY: image
image: ## build the container image IMG (server and operator) with CONTAINER_TOOL
	$(CONTAINER_TOOL) build --build-arg VERSION=$(VERSION) -t $(IMG) .

.PHONY: fuzz
fuzz: ## run each fuzz target for FUZZTIME
	@set -e; for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; fn=$${t##*:}; \
	  echo "fuzz $$pkg $$fn"; \
	  go test ./$$pkg -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME); \
	done

.PHONY: lint
lint: $(STATICCHECK) verify-generated ## gofmt, go vet, staticcheck, generated files up to date
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...
	$(STATICCHECK) ./...

$(CONTROLLER_GEN):
	@mkdir -p $(BIN)
	GOBIN=$(BIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)
	mv $(BIN)/controller-gen $@

$(KUSTOMIZE):
	@mkdir -p $(BIN)
	GOBIN=$(BIN) go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)
	mv $(BIN)/kustomize $@

$(STATICCHECK):
	@mkdir -p $(BIN)
	GOBIN=$(BIN) go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv $(BIN)/staticcheck $@

.PHONY: bench
bench: ## Go benchmarks of the hot paths
	go test -run '^$$' -bench . -benchmem ./server/...

.PHONY: load
load: build ## wrk load figures on generated trees (hack/load.sh)
	hack/load.sh

.PHONY: clean
clean: ## remove build output
	rm -rf $(BIN)
