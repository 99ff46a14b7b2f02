# pkgindex: a private Python package index and its Kubernetes operator.
SHELL := /usr/bin/env bash
.DEFAULT_GOAL := help

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
BIN := $(CURDIR)/bin
ROOT ?= ./packages
LISTEN ?= :8080

STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(BIN)/staticcheck-$(STATICCHECK_VERSION)

FUZZTIME ?= 10s
FUZZ_TARGETS := server/dist:FuzzParse server/dist:FuzzCompare server/simple:FuzzNegotiate server/store:FuzzCleanRel server/auth:FuzzParse server/auth:FuzzBasic

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

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
unit: ## go tests with the race detector
	go test -race -count=1 ./...

.PHONY: fuzz
fuzz: ## run each fuzz target for FUZZTIME
	@set -e; for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; fn=$${t##*:}; \
	  echo "fuzz $$pkg $$fn"; \
	  go test ./$$pkg -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME); \
	done

.PHONY: lint
lint: $(STATICCHECK) ## gofmt, go vet, staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...
	$(STATICCHECK) ./...

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
