# Strata. Needs only Go (>= 1.26); everything else is built from go.mod.
GO        ?= go
BIN       := bin
VERSION   := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
CONFIG    ?= configs/devnet.yaml
DATADIR   ?= ./data
TEST_TIMEOUT ?= 14m
BENCH_DURATION ?= 60s

GETH      := $(BIN)/geth

.PHONY: all build run test test-short bench lint fmt clean geth

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/strata ./cmd/strata

## run: a full-stack 200 ms devnet on an embedded Pebble store, JSON-RPC on 127.0.0.1:8545
run: build
	$(BIN)/strata run --config $(CONFIG) --datadir $(DATADIR)

## geth: the geth binary integration tests run, built from the go-ethereum
## version pinned in tools/geth/go.mod (kept equal to go.mod's by a test)
geth: $(GETH)
$(GETH): tools/geth/go.mod tools/geth/go.sum
	cd tools/geth && $(GO) build -o ../../$(GETH) github.com/ethereum/go-ethereum/cmd/geth

## test: every test (unit, randomized model, crash, geth compatibility)
test: $(GETH)
	STRATA_GETH=$(abspath $(GETH)) $(GO) test -timeout $(TEST_TIMEOUT) -count=1 ./...

test-short:
	$(GO) test -short -count=1 ./...

## bench: a short devnet run measuring ingest, proof latency under load and disk per block
bench: build
	$(BIN)/strata bench devnet --duration $(BENCH_DURATION) --clients 4 --out bench/results

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf $(BIN)
