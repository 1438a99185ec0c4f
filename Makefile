# netpolgen's build, test and benchmark entry points. `make test` is what CI
# runs (.ci/run); it must pass on a clean clone with only Go installed.

GO       ?= go
BIN      ?= bin/netpolgen
PKGS     ?= ./...
FUZZTIME ?= 20s
# Minimizing a new input can outlast -fuzztime on a loaded machine, which
# Go reports as a failure ("context deadline exceeded"); a bounded count
# keeps the run inside its time.
FUZZMINIMIZE ?= 100x
# Tools built from source (hubble CLI, kube-apiserver, etcd) are cached per
# version outside the clone, so a fresh CI clone on the same machine reuses them.
TOOLS_CACHE ?= $(shell $(GO) env GOPATH)/netpolgen-tools

.PHONY: all build test vet fmt-check unit fuzz bench example clean shellcheck e2e-kind print-hubble-bin

all: build

build:
	$(GO) build -o $(BIN) ./cmd/netpolgen

test: fmt-check vet shellcheck unit fuzz e2e-local

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.cache/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

# vet also compiles the Docker-only e2e suite, so it cannot rot unseen.
vet:
	$(GO) vet $(PKGS)
	$(GO) vet -tags e2e ./e2e/...
	$(GO) vet -tags e2elocal ./e2e/local/...

shellcheck:
	@command -v shellcheck >/dev/null || { echo "shellcheck is not installed (apt-get install shellcheck; .ci/run does this)"; exit 1; }
	shellcheck .ci/run scripts/*.sh e2e/kind/*.sh

unit:
	$(GO) test -count=1 $(PKGS)

# Bounded fuzzing of both decoders, the JSON one and the live client's
# protobuf wire decoder (go test -fuzz takes one target per run); the
# corpus under testdata/fuzz is replayed by `unit` too.
.PHONY: fuzz
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) ./pkg/observe/capture
	$(GO) test -run '^$$' -fuzz '^FuzzWireDecode$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) ./pkg/observe/wire

# Benchmarks print each figure beside a baseline measured in the same run.
bench:
	./scripts/bench.sh

# Regenerate the bundled example capture with the project's own generator.
example: build
	$(BIN) gen --seed 1 --duration 1h --out examples/shop-flows.json.gz --truth examples/shop-truth.json

clean:
	rm -rf bin .cache

# The whole loop on a real Cilium cluster in kind: needs Docker, kind, helm,
# kubectl and internet access (see e2e/kind/README.md).
e2e-kind:
	$(GO) test -tags e2e -count=1 -timeout 60m -v ./e2e/kind

# The real hubble CLI, for the replay integration tests: built from the
# module proxy (tools/hubble pins it) at the cilium version in go.mod, once
# per version, into TOOLS_CACHE. The tests skip only when it is absent.
HUBBLE_VERSION := $(shell awk '$$1 == "github.com/cilium/cilium" {print $$2}' go.mod)
HUBBLE_BIN     := $(TOOLS_CACHE)/hubble-$(HUBBLE_VERSION)

.PHONY: hubble
hubble: $(HUBBLE_BIN)

print-hubble-bin:
	@echo $(HUBBLE_BIN)

$(HUBBLE_BIN):
	@grep -q "github.com/cilium/cilium $(HUBBLE_VERSION)" tools/hubble/go.mod || \
		{ echo "tools/hubble/go.mod does not pin cilium $(HUBBLE_VERSION) as go.mod does: update it (cd tools/hubble && go get github.com/cilium/cilium@$(HUBBLE_VERSION) && go mod tidy)"; exit 1; }
	mkdir -p $(TOOLS_CACHE)
	cd tools/hubble && $(GO) build -trimpath -ldflags "-s -w -X github.com/cilium/cilium/hubble/pkg.Version=$(HUBBLE_VERSION:v%=%)" -o $@.tmp github.com/cilium/cilium/hubble
	mv $@.tmp $@

unit: hubble

# kube-apiserver and etcd for the cluster integration tests (envtest), built
# from the module proxy (tools/k8s pins them) once per version into
# TOOLS_CACHE. The tests skip only when these binaries are absent.
K8S_VERSION := $(shell awk '$$1 == "k8s.io/kubernetes" {print $$2}' tools/k8s/go.mod)
K8S_BIN     := $(TOOLS_CACHE)/k8s-$(K8S_VERSION)
K8S_LDFLAGS := -s -w -X k8s.io/component-base/version.gitVersion=$(K8S_VERSION) \
	-X k8s.io/component-base/version.gitMajor=$(word 1,$(subst ., ,$(K8S_VERSION:v%=%))) \
	-X k8s.io/component-base/version.gitMinor=$(word 2,$(subst ., ,$(K8S_VERSION:v%=%)))

.PHONY: testbin
testbin: $(K8S_BIN)/kube-apiserver $(K8S_BIN)/etcd

$(K8S_BIN)/kube-apiserver $(K8S_BIN)/etcd &:
	mkdir -p $(K8S_BIN)/.tmp
	cd tools/k8s && $(GO) build -trimpath -ldflags "$(K8S_LDFLAGS)" -o $(K8S_BIN)/.tmp/ k8s.io/kubernetes/cmd/kube-apiserver ./etcd
	mv $(K8S_BIN)/.tmp/kube-apiserver $(K8S_BIN)/.tmp/etcd $(K8S_BIN)/
	rmdir $(K8S_BIN)/.tmp

unit: testbin

# cilium-agent and cilium-cni for the local datapath suite (e2e/local), built
# from the module proxy (tools/cilium pins them) at the cilium version in
# go.mod, once per version, into TOOLS_CACHE.
CILIUM_VERSION := $(HUBBLE_VERSION)
CILIUM_BIN     := $(TOOLS_CACHE)/cilium-$(CILIUM_VERSION)

.PHONY: cilium-bin print-cilium-bin
cilium-bin: $(CILIUM_BIN)/cilium-agent $(CILIUM_BIN)/cilium-cni

print-cilium-bin:
	@echo $(CILIUM_BIN)

$(CILIUM_BIN)/cilium-agent $(CILIUM_BIN)/cilium-cni &:
	@grep -q "github.com/cilium/cilium $(CILIUM_VERSION)" tools/cilium/go.mod || \
		{ echo "tools/cilium/go.mod does not pin cilium $(CILIUM_VERSION) as go.mod does: update it (cd tools/cilium && go get -tool github.com/cilium/cilium/daemon@$(CILIUM_VERSION) github.com/cilium/cilium/plugins/cilium-cni@$(CILIUM_VERSION))"; exit 1; }
	mkdir -p $(CILIUM_BIN)/.tmp
	cd tools/cilium && $(GO) build -trimpath -ldflags "-s -w" -o $(CILIUM_BIN)/.tmp/cilium-agent github.com/cilium/cilium/daemon
	cd tools/cilium && $(GO) build -trimpath -ldflags "-s -w" -o $(CILIUM_BIN)/.tmp/cilium-cni github.com/cilium/cilium/plugins/cilium-cni
	mv $(CILIUM_BIN)/.tmp/cilium-agent $(CILIUM_BIN)/.tmp/cilium-cni $(CILIUM_BIN)/
	rmdir $(CILIUM_BIN)/.tmp

# The whole loop on a real Cilium datapath on this machine, no containers
# (e2e/local/README.md): needs root and a kernel with BPF; skips, saying
# why, where the host cannot run a datapath.
.PHONY: e2e-local e2e-local-deps
e2e-local: e2e-local-deps cilium-bin hubble testbin
	$(GO) test -tags e2elocal -count=1 -timeout 30m -v ./e2e/local

# clang/llc (LLVM 19) for the BPF programs the agent compiles, and
# iproute2, from Debian when missing (root only; the suite skips otherwise).
e2e-local-deps:
	@if [ "$$(id -u)" != 0 ]; then echo "e2e-local-deps: not root, installing nothing (the suite will skip)"; exit 0; fi; \
	missing=""; \
	[ -x /usr/lib/llvm-19/bin/clang ] || missing="$$missing clang-19"; \
	[ -x /usr/lib/llvm-19/bin/llc ] || missing="$$missing llvm-19"; \
	command -v ip >/dev/null 2>&1 || missing="$$missing iproute2"; \
	if [ -n "$$missing" ]; then echo "installing$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi
