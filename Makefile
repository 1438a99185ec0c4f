# netpolgen's build, test and benchmark entry points. `make test` is what CI
# runs (.ci/run); it must pass on a clean clone with only Go installed.

GO       ?= go
BIN      ?= bin/netpolgen
PKGS     ?= ./...
FUZZTIME ?= 20s
# Tools built from source (hubble CLI, kube-apiserver, etcd) are cached per
# version outside the clone, so a fresh CI clone on the same machine reuses them.
TOOLS_CACHE ?= $(shell $(GO) env GOPATH)/netpolgen-tools

.PHONY: all build test vet fmt-check unit fuzz bench example clean shellcheck e2e-kind print-hubble-bin

all: build

build:
	$(GO) build -o $(BIN) ./cmd/netpolgen

test: fmt-check vet shellcheck unit fuzz

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.cache/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

# vet also compiles the Docker-only e2e suite, so it cannot rot unseen.
vet:
	$(GO) vet $(PKGS)
	$(GO) vet -tags e2e ./e2e/...

shellcheck:
	@command -v shellcheck >/dev/null || { echo "shellcheck is not installed (apt-get install shellcheck; .ci/run does this)"; exit 1; }
	shellcheck .ci/run scripts/*.sh e2e/kind/*.sh

unit:
	$(GO) test -count=1 $(PKGS)

# Bounded fuzzing of the decoders; the corpus under testdata/fuzz is replayed
# by `unit` too.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./pkg/observe

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

# Bounded fuzzing of the live client's protobuf wire decoder, seeded from
# the shared captures.
.PHONY: fuzz-wire
fuzz: fuzz-wire
fuzz-wire:
	$(GO) test -run '^$$' -fuzz '^FuzzWireDecode$$' -fuzztime $(FUZZTIME) ./pkg/observe
