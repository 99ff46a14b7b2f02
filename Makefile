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
# pkg:Target, or pkg:Target:COUNT for a target slower than the others (the
# upload handler runs a whole request per input, about 5,000 a second).
FUZZ_TARGETS := server/dist:FuzzParse server/dist:FuzzCompare server/simple:FuzzNegotiate server/store:FuzzCleanRel server/auth:FuzzParse server/auth:FuzzBasic server/form:FuzzReader server/form:FuzzEncoded:200000x server:FuzzUpload:40000x server/policy:FuzzMatch:100000x server/policy:FuzzParse:50000x server/tokens:FuzzCheck:100000x server/trust:FuzzIdentify:100000x server/upstream:FuzzAnchors:200000x

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-17s %s\n", $$1, $$2}'

.PHONY: build
build: ## build bin/pkgindex
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/pkgindex .

.PHONY: serve
serve: build ## run the index on ./packages (ROOT=dir LISTEN=addr to change)
	@mkdir -p $(ROOT)
	$(BIN)/pkgindex serve --root $(ROOT) --listen $(LISTEN)

# Each step of make test that can skip notes what it skipped here, with
# why and the command that makes it run; make test's last line names them.
SKIPPED := $(BIN)/skipped

.PHONY: test
test: lint fuzz unit test-e2e ## everything CI runs: lint, all tests (real pip) with -race, short fuzzing, e2e where it can run; the last line names what skipped
	@go run ./hack/testreport -summary $(SKIPPED)/unit.txt $(SKIPPED)/portable.txt $(SKIPPED)/e2e.txt

.PHONY: unit
unit: envtest ## go tests with the race detector (the operator's against envtest), and the server's again on its portable path
	@mkdir -p $(SKIPPED)
	set -o pipefail; KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) go test -race -count=1 -json ./... | go run ./hack/testreport -skipped $(SKIPPED)/unit.txt
	set -o pipefail; go test -race -count=1 -tags portable -json ./server/... | go run ./hack/testreport -label "-tags portable" -skipped $(SKIPPED)/portable.txt

.PHONY: envtest
envtest: ## build kube-apiserver and etcd for envtest into bin/k8s/ (once; the script reuses them)
	@hack/envtest-bins.sh $(K8S_VERSION) >/dev/null

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## generate the CRD and RBAC under config/ from the markers
	$(CONTROLLER_GEN) rbac:roleName=operator crd paths=./api/... paths=./controllers/... \
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

.PHONY: image-build
image-build: ## build the container image IMG from the Dockerfile with CONTAINER_TOOL (needs a container engine)
	$(CONTAINER_TOOL) build --build-arg VERSION=$(VERSION) --build-arg REVISION=$(shell git rev-parse HEAD 2>/dev/null) -t $(IMG) .

.PHONY: fuzz
fuzz: ## run each fuzz target for FUZZTIME
	@set -e; for t in $(FUZZ_TARGETS); do \
	  IFS=: read -r pkg fn n <<< "$$t"; n=$${n:-$(FUZZTIME)}; \
	  echo "fuzz $$pkg $$fn $$n"; \
	  go test ./$$pkg -run '^$$' -fuzz "^$$fn$$" -fuzztime $$n; \
	done

# Platforms every package is also vetted for, so that the portable twins of
# the Linux fast paths (the files built with !linux || portable) cannot rot.
CROSS_VET := darwin/arm64 windows/amd64

.PHONY: lint
lint: $(STATICCHECK) verify-generated ## gofmt, go vet (also for CROSS_VET platforms), staticcheck, generated files up to date
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...
	@set -e; for p in $(CROSS_VET); do echo "GOOS=$${p%/*} GOARCH=$${p#*/} go vet ./..."; GOOS=$${p%/*} GOARCH=$${p#*/} go vet ./...; done
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

CHECK_DURATION ?= 60s
CHECK_KILLS ?= 0
CHECK_LAYOUT ?=
CHECK_NETFS ?=
CHECK_LATENCY ?= 1ms

.PHONY: consistency
consistency: ## consistency checker: 3 replicas, mixed clients, writers in the root (CHECK_DURATION=60s CHECK_KILLS=2 CHECK_LAYOUT=per-project CHECK_NETFS=1 CHECK_LATENCY=1ms)
	go run ./hack/consistency -replicas 3 -clients 16 -duration $(CHECK_DURATION) -kill $(CHECK_KILLS) \
	  $(if $(CHECK_LAYOUT),-layout $(CHECK_LAYOUT)) $(if $(CHECK_NETFS),-netfs -latency $(CHECK_LATENCY))

SOAK_DURATION ?= 5m

.PHONY: soak
soak: build ## bounded soak, not in CI: 50 clients on 3 replicas with the checker, RSS, fds and p99 over time
	go run ./hack/consistency -bin $(BIN)/pkgindex -replicas 3 -clients 50 -duration $(SOAK_DURATION) -sample 15s -versions 300

.PHONY: clean
clean: ## remove build output
	rm -rf $(BIN)

# Delivery: the image archive, the Helm chart, and the tools their tests
# need (helm and kubectl built from the module proxy into bin/).
IMAGE_REPO ?= ghcr.io/pkgindex/pkgindex
IMAGE_TAG ?= $(VERSION)
IMAGE_ARCH ?= amd64
IMAGE_ARCHIVE ?= $(BIN)/pkgindex-image.tar
# Files in the image carry the commit's time, so rebuilding a commit gives
# the same archive.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null)

.PHONY: image
image: ## reproducible OCI image archive bin/pkgindex-image.tar, no daemon (podman load -i / ctr images import)
	CGO_ENABLED=0 GOOS=linux GOARCH=$(IMAGE_ARCH) go build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/linux_$(IMAGE_ARCH)/pkgindex .
	go run ./hack/image -binary $(BIN)/linux_$(IMAGE_ARCH)/pkgindex -arch $(IMAGE_ARCH) \
	  -tag $(IMAGE_REPO):$(IMAGE_TAG) -version $(VERSION) -revision '$(REVISION)' \
	  -source-date-epoch $(SOURCE_DATE_EPOCH) -out $(IMAGE_ARCHIVE)
	@sha256sum $(IMAGE_ARCHIVE)

HELM_VERSION := v3.22.0
HELM := $(BIN)/helm-$(HELM_VERSION)
KUBECTL := $(BIN)/kubectl-v$(K8S_VERSION)
CHART := charts/pkgindex
# Generated files the chart carries: the CRD, the RBAC rules its templates
# read and the Grafana dashboard (files/), copied from config/ by make
# chart-sync.
CHART_SYNCED := $(CHART)/crds/index.pkgindex.dev_packageindices.yaml $(CHART)/files/role.yaml \
  $(CHART)/files/packageindex_editor_role.yaml $(CHART)/files/packageindex_viewer_role.yaml \
  $(CHART)/files/dashboard.json

.PHONY: chart-sync
chart-sync: manifests ## copy the generated CRD and RBAC rules, and the dashboard, into the chart
	@mkdir -p $(CHART)/crds $(CHART)/files
	cp config/crd/bases/index.pkgindex.dev_packageindices.yaml $(CHART)/crds/
	cp config/rbac/role.yaml config/rbac/packageindex_editor_role.yaml config/rbac/packageindex_viewer_role.yaml $(CHART)/files/
	cp config/grafana/dashboard.json $(CHART)/files/

.PHONY: verify-chart
verify-chart: chart-sync ## fail when the chart's CRD or RBAC rules differ from config/
	@git diff --exit-code -- $(CHART_SYNCED) || { echo "the chart's copies are stale: run make chart-sync and commit"; exit 1; }
	@untracked=$$(git ls-files --others --exclude-standard -- $(CHART_SYNCED)); \
	  if [ -n "$$untracked" ]; then echo "chart files not committed:"; echo "$$untracked"; exit 1; fi

# Chart version and app version follow the project version: a v1.2.3 tag
# gives chart 1.2.3 running image v1.2.3.
CHART_VERSION ?= $(patsubst v%,%,$(VERSION))

.PHONY: chart-package
chart-package: $(HELM) chart-sync ## package the chart as bin/pkgindex-CHART_VERSION.tgz, versioned from VERSION
	$(HELM) package $(CHART) --version $(CHART_VERSION) --app-version $(VERSION) -d $(BIN)

.PHONY: delivery-test
delivery-test: envtest $(HELM) $(KUBECTL) verify-chart ## the chart, kustomize and image tests (helm, kubectl, envtest)
	KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) HELM=$(HELM) KUBECTL=$(KUBECTL) go test -count=1 ./charts/... ./hack/image/...

.PHONY: tools
tools: $(HELM) $(KUBECTL) ## build helm and kubectl for the delivery tests into bin/

$(HELM):
	@mkdir -p $(BIN)
	GOBIN=$(BIN) CGO_ENABLED=0 go install -trimpath -ldflags '-s -w -X helm.sh/helm/v3/internal/version.version=$(HELM_VERSION)' helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
	mv $(BIN)/helm $@

$(KUBECTL):
	hack/kubectl-bin.sh $(K8S_VERSION)

# End to end on a real single-node cluster (hack/e2e.sh): the other four
# Kubernetes binaries built like the envtest ones, the image under test
# tagged e2e, a pause image built the same daemonless way, and the test's
# client, on the host and as an image for the jobs it runs.
E2E_IMAGE := $(IMAGE_REPO):e2e
E2E_IMAGE_ARCHIVE := $(BIN)/pkgindex-e2e-image.tar
PAUSE_ARCHIVE := $(BIN)/pause-image.tar
PAUSE_IMAGE := pkgindex.dev/e2e/pause:1
CLIENT_ARCHIVE := $(BIN)/e2e-client-image.tar
CLIENT_IMAGE := pkgindex.dev/e2e/client:1

.PHONY: e2e-bins
e2e-bins: envtest ## build kube-controller-manager, kube-scheduler, kubelet and kube-proxy into bin/k8s/ (once)
	@hack/node-bins.sh $(K8S_VERSION) >/dev/null

.PHONY: e2e-images
e2e-images: ## the image archive tagged e2e, and the pause and client image archives
	$(MAKE) --no-print-directory image IMAGE_TAG=e2e IMAGE_ARCHIVE=$(E2E_IMAGE_ARCHIVE)
	CGO_ENABLED=0 GOOS=linux GOARCH=$(IMAGE_ARCH) go build -trimpath -ldflags '-s -w' -o $(BIN)/linux_$(IMAGE_ARCH)/pause ./hack/e2e/pause
	go run ./hack/image -bare pause -binary $(BIN)/linux_$(IMAGE_ARCH)/pause -arch $(IMAGE_ARCH) \
	  -tag $(PAUSE_IMAGE) -source-date-epoch $(SOURCE_DATE_EPOCH) -out $(PAUSE_ARCHIVE)
	CGO_ENABLED=0 GOOS=linux GOARCH=$(IMAGE_ARCH) go build -trimpath -ldflags '-s -w' -o $(BIN)/linux_$(IMAGE_ARCH)/client ./hack/e2e/client
	go run ./hack/image -bare client -binary $(BIN)/linux_$(IMAGE_ARCH)/client -arch $(IMAGE_ARCH) \
	  -tag $(CLIENT_IMAGE) -source-date-epoch $(SOURCE_DATE_EPOCH) -out $(CLIENT_ARCHIVE)

.PHONY: e2e
e2e: e2e-bins tools e2e-images ## end to end on a real single-node cluster (as root; needs containerd, runc, CNI plugins, iptables, conntrack)
	go build -o $(BIN)/e2e-client ./hack/e2e/client
	K8S_VERSION=$(K8S_VERSION) KUBECTL=$(KUBECTL) HELM=$(HELM) E2E_CLIENT=$(BIN)/e2e-client \
	  E2E_IMAGE=$(E2E_IMAGE) IMAGE_ARCHIVE=$(E2E_IMAGE_ARCHIVE) PAUSE_ARCHIVE=$(PAUSE_ARCHIVE) E2E_PAUSE_IMAGE=$(PAUSE_IMAGE) \
	  CLIENT_ARCHIVE=$(CLIENT_ARCHIVE) E2E_CLIENT_IMAGE=$(CLIENT_IMAGE) hack/e2e.sh

.PHONY: test-e2e
test-e2e: ## make e2e where this machine can run it (root, containerd, runc, CNI plugins); in CI it must
	@mkdir -p $(SKIPPED); rm -f $(SKIPPED)/e2e.txt
	@if why=$$(hack/e2e.sh --check 2>&1); then $(MAKE) --no-print-directory e2e; \
	elif [ "$${CI:-}" = true ]; then echo "e2e: CI=true, so the end-to-end test may not be skipped: $$why"; exit 1; \
	else echo "e2e: skipped: $$why"; \
	  printf 'e2e (hack/e2e.sh)\t%s\tsudo make e2e (after apt-get install containerd runc containernetworking-plugins iptables conntrack)\n' "$$why" >$(SKIPPED)/e2e.txt; fi
