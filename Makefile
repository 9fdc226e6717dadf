# Rehearsal — every target runs on a fresh Debian machine with Go; `make help` lists them.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
export GOEXPERIMENT := jsonv2
export GOFLAGS := -buildvcs=false

GO        ?= go
BIN       := bin
DEMO      ?= .rehearsal/demo
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X github.com/rehearsal-dev/rehearsal/internal/version.Version=$(VERSION)
KO_DOCKER_REPO ?= kind.local
KO_VERSION ?= v0.18.0
MASK_REPS ?= 3

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

.PHONY: build
build: ## build the rehearsal CLI and the step binaries into bin/
	@mkdir -p $(BIN)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/rehearsal ./cmd/steps/...

.PHONY: demo
demo: build ## run the whole local pipeline on fixtures/ (stops at the gate, approves it, verifies the packet)
	@rm -rf $(DEMO)
	@echo "== rehearsal run --demo (stops at the gate the rules require)"
	@set +e; $(BIN)/rehearsal run --demo --workspace $(DEMO); rc=$$?; set -e; \
	  if [ $$rc -ne 4 ]; then echo "expected exit 4 (awaiting approval), got $$rc" >&2; exit 1; fi
	@echo "== first owner approves"
	@set +e; $(BIN)/rehearsal approve --workspace $(DEMO) --gate migration --as bob --decision approve --comment "expand/contract checked"; rc=$$?; set -e; \
	  if [ $$rc -ne 4 ]; then echo "expected exit 4 (second approver needed), got $$rc" >&2; exit 1; fi
	@echo "== second owner approves"
	$(BIN)/rehearsal approve --workspace $(DEMO) --gate migration --as frank --decision approve --comment "backup verified"
	@echo "== verify the signed packet"
	$(BIN)/rehearsal packet verify $(DEMO)
	@echo "packet: $(DEMO)/packet.md (signed: $(DEMO)/packet.sig)"

.PHONY: test
test: test-deps ## everything CI runs: vet, format check, unit and integration tests, rule tests
	$(MAKE) lint
	$(GO) run ./cmd/rehearsal rules test rules/
	$(GO) test -count=1 ./...

.PHONY: test-deps
test-deps: # git and openssl: tests compare with `git diff --numstat` and sign with openssl keys; MariaDB: the mask tests start their own server on loopback
	@command -v git >/dev/null && command -v openssl >/dev/null && command -v mariadbd >/dev/null || \
	  { apt-get update && apt-get install -y git openssl mariadb-server; }

.PHONY: bench
bench: ## benchmarks (classify+coordinate vs git diff --numstat; coordinate and plan on 1,000 services; scan vs the trivy CLI; mask vs an unmasked copy of 1M customers + 2M orders in MariaDB, MASK_REPS rounds)
	@mkdir -p .cache/tmp
	@# benchmark workspaces live on the repository's filesystem (.cache/tmp), as a run's workspace would, not in /tmp
	TMPDIR=$(CURDIR)/.cache/tmp $(GO) test -run '^$$' -bench . -benchmem -count 3 ./steps/... ./internal/rules/... ./internal/mask/...
	hack/bench/scan.sh 7
	REPS=$(MASK_REPS) hack/bench/mask.sh

.PHONY: lint
lint: ## go vet and gofmt
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.cache/*')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

.PHONY: images
images: ## build step images with ko (KO_DOCKER_REPO=kind.local loads them into kind)
	KO_DOCKER_REPO=$(KO_DOCKER_REPO) $(GO) run github.com/google/ko@$(KO_VERSION) build --base-import-paths ./cmd/steps/...

.PHONY: kind-up
kind-up: ## create the kind cluster from kind-config.yaml and install Argo Workflows (needs kind, kubectl, a Docker engine)
	kind create cluster --config kind-config.yaml
	kubectl create namespace argo --dry-run=client -o yaml | kubectl apply -f -
	kubectl apply -n argo -f https://github.com/argoproj/argo-workflows/releases/download/v3.7.18/quick-start-minimal.yaml

.PHONY: deploy
deploy: ## apply rules ConfigMap, RBAC, WorkflowTemplates (images resolved by ko) to the current cluster
	kubectl kustomize deploy | KO_DOCKER_REPO=$(KO_DOCKER_REPO) $(GO) run github.com/google/ko@$(KO_VERSION) resolve --base-import-paths -f - | kubectl apply -f -

.PHONY: e2e
e2e: ## real Argo on a single-node Kubernetes built from source (as root): up, images, deploy/, test/e2e, always down
	hack/cluster/e2e.sh $(E2E_FLAGS)

.PHONY: clean
clean: ## remove build output and local runs
	rm -rf $(BIN) .rehearsal
