# netpolgen's build, test and benchmark entry points. `make test` is what CI
# runs (.ci/run); it must pass on a clean clone with only Go installed.

GO       ?= go
BIN      ?= bin/netpolgen
PKGS     ?= ./...
FUZZTIME ?= 20s
# Tools built from source (hubble CLI, kube-apiserver, etcd) are cached per
# version outside the clone, so a fresh CI clone on the same machine reuses them.
TOOLS_CACHE ?= $(shell $(GO) env GOPATH)/netpolgen-tools

.PHONY: all build test vet fmt-check unit fuzz bench example clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/netpolgen

test: fmt-check vet unit fuzz

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.cache/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

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

# The real hubble CLI, for the replay integration tests: built from the
# module proxy (tools/hubble pins it) at the cilium version in go.mod, once
# per version, into TOOLS_CACHE. The tests skip only when it is absent.
HUBBLE_VERSION := $(shell awk '$$1 == "github.com/cilium/cilium" {print $$2}' go.mod)
HUBBLE_BIN     := $(TOOLS_CACHE)/hubble-$(HUBBLE_VERSION)

.PHONY: hubble
hubble: $(HUBBLE_BIN)

$(HUBBLE_BIN):
	@grep -q "github.com/cilium/cilium $(HUBBLE_VERSION)" tools/hubble/go.mod || \
		{ echo "tools/hubble/go.mod does not pin cilium $(HUBBLE_VERSION) as go.mod does: update it (cd tools/hubble && go get github.com/cilium/cilium@$(HUBBLE_VERSION) && go mod tidy)"; exit 1; }
	mkdir -p $(TOOLS_CACHE)
	cd tools/hubble && $(GO) build -trimpath -ldflags "-s -w -X github.com/cilium/cilium/hubble/pkg.Version=$(HUBBLE_VERSION:v%=%)" -o $@.tmp github.com/cilium/cilium/hubble
	mv $@.tmp $@

unit: hubble
