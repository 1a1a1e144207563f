# Strata. Needs only Go (>= 1.26); everything else is built from go.mod.
GO        ?= go
BIN       := bin
VERSION   := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
CONFIG    ?= configs/devnet.yaml
DATADIR   ?= ./data
TEST_TIMEOUT ?= 14m
BENCH_DURATION ?= 60s

OPGETH    := $(BIN)/op-geth

# make run-opgeth: op-geth's datadir and ports, and the block time Strata drives it at
OPGETH_DATADIR    ?= $(DATADIR)/op-geth
OPGETH_HTTP_PORT  ?= 8645
OPGETH_AUTH_PORT  ?= 8551
ENGINE_BLOCK_TIME ?= 1s
# op-geth executes each block twice (build, import) and traces it for Strata's follower
ENGINE_LOAD_GAS   ?= 5000000

.PHONY: all build run run-opgeth test test-short bench bench-full crash soak lint fmt clean op-geth proto

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/strata ./cmd/strata

## run: a full-stack 200 ms devnet on an embedded Pebble store, JSON-RPC on 127.0.0.1:8545
run: build
	$(BIN)/strata run --config $(CONFIG) --datadir $(DATADIR)

## run-opgeth: engine mode: op-geth builds the blocks at 1 s (ENGINE_BLOCK_TIME) under a 5 Mgas/s load
## (ENGINE_LOAD_GAS), driven by Strata over the Engine API as op-node's sequencer drives it, and Strata
## follows it and serves proofs on 127.0.0.1:8545. The first run writes the genesis (strata genesis) to
## $(DATADIR)/genesis.json and a JWT secret to $(DATADIR)/jwt.hex, and initialises op-geth in
## $(OPGETH_DATADIR); op-geth serves JSON-RPC on 127.0.0.1:$(OPGETH_HTTP_PORT) and the Engine API on
## 127.0.0.1:$(OPGETH_AUTH_PORT), logs to $(DATADIR)/op-geth.log and stops with Strata; nothing listens
## beyond loopback. Running it again resumes both. A datadir `make run` made holds another chain: give
## another DATADIR.
run-opgeth: build $(OPGETH)
	@mkdir -p $(DATADIR)
	@test -s $(DATADIR)/jwt.hex || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > $(DATADIR)/jwt.hex
	@if [ ! -d $(OPGETH_DATADIR)/geth/chaindata ]; then \
		$(BIN)/strata genesis --config $(CONFIG) --out $(DATADIR)/genesis.json && \
		$(OPGETH) init --datadir $(OPGETH_DATADIR) --state.scheme hash $(DATADIR)/genesis.json > $(DATADIR)/op-geth.log 2>&1 || \
		{ tail -20 $(DATADIR)/op-geth.log; exit 1; }; \
	fi
	@printf '[Node.P2P]\nListenAddr = "127.0.0.1:0"\n' > $(DATADIR)/op-geth.toml
	@$(OPGETH) --config $(DATADIR)/op-geth.toml --datadir $(OPGETH_DATADIR) --state.scheme hash --gcmode archive \
		--syncmode full --nodiscover --maxpeers 0 --nat none --ipcdisable --rollup.txpool.disable-gossip \
		--http --http.addr 127.0.0.1 --http.port $(OPGETH_HTTP_PORT) --http.api eth,debug,net,web3,txpool \
		--authrpc.addr 127.0.0.1 --authrpc.port $(OPGETH_AUTH_PORT) --authrpc.jwtsecret $(DATADIR)/jwt.hex \
		>> $(DATADIR)/op-geth.log 2>&1 & pid=$$!; \
	trap 'kill $$pid 2>/dev/null; wait $$pid' EXIT INT TERM; \
	for i in $$(seq 1 120); do \
		curl -sf -o /dev/null -H 'Content-Type: application/json' \
			-d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' http://127.0.0.1:$(OPGETH_HTTP_PORT) && break; \
		kill -0 $$pid 2>/dev/null || { echo "op-geth exited:"; tail -20 $(DATADIR)/op-geth.log; exit 1; }; \
		sleep 0.5; \
	done; \
	$(BIN)/strata run --config $(CONFIG) --datadir $(DATADIR) --sequencer.block_time $(ENGINE_BLOCK_TIME) \
		--sequencer.load.gas_per_second $(ENGINE_LOAD_GAS) --engine.url http://127.0.0.1:$(OPGETH_AUTH_PORT) \
		--engine.jwt $(DATADIR)/jwt.hex --engine.rpc http://127.0.0.1:$(OPGETH_HTTP_PORT)

## op-geth: the op-geth binary the integration tests run (opgethtest, and op-geth --dev for
## Ethereum-shaped chains), built from the op-geth release pinned in tools/opgeth/go.mod (the one
## go.mod replaces go-ethereum with; a test keeps them equal)
op-geth: $(OPGETH)
$(OPGETH): tools/opgeth/go.mod tools/opgeth/go.sum
	cd tools/opgeth && $(GO) build -o ../../$(OPGETH) github.com/ethereum/go-ethereum/cmd/geth

## proto: regenerate history/stream/streampb and api/statuspb from api/proto with buf and the protoc-gen-go(-grpc)
## plugins, built into bin/ (the generated code is committed: a build needs none of them)
proto:
	GOBIN=$(abspath $(BIN)) $(GO) install github.com/bufbuild/buf/cmd/buf@v1.75.0
	GOBIN=$(abspath $(BIN)) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
	GOBIN=$(abspath $(BIN)) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.5.1
	GOBIN=$(abspath $(BIN)) $(GO) install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway@v2.33.0
	cd api/proto && PATH=$(abspath $(BIN)):$$PATH buf generate

## test: every test (unit, randomized model, crash, op-geth compatibility and differential)
test: $(OPGETH)
	STRATA_OPGETH=$(abspath $(OPGETH)) $(GO) test -timeout $(TEST_TIMEOUT) -count=1 ./...

test-short:
	$(GO) test -short -count=1 ./...

## bench: a short base-like run (small initial state) at 200 ms and 2 s blocks, judged against configs/contract.yaml (< 5 min)
bench: build
	$(BIN)/strata bench run --profile configs/profiles/base-like.yaml --initial-accounts 100000 --initial-slots 500000 \
		--block-times 200ms,2s --warmup 10s --duration $(BENCH_DURATION) --follower --out bench/results

## bench-full: the headline run: base-like on 1 M accounts and 10 M slots, 200 ms and 2 s blocks
bench-full: build
	$(BIN)/strata bench run --profile configs/profiles/base-like.yaml --block-times 200ms,2s --warmup 20s --duration 2m --follower --out bench/results

## crash: the kill test at full length (make test runs it briefly): CRASH_KILLS SIGKILLs of strata, alternating
## a fullstack node with tiny retention spans (flush, thinning, pruning every few blocks) and strata catchup,
## every reopened store checked (reported blocks held, consistent, proofs verify, digest equals a replica's);
## then as many in-process power cuts. Takes about an hour; $(CRASH_DATADIR) is wiped first.
CRASH_KILLS   ?= 1000
CRASH_DATADIR ?= $(DATADIR)/crash
crash: build
	rm -rf $(CRASH_DATADIR)
	$(BIN)/strata bench crash --kills $(CRASH_KILLS) --scenario all --datadir $(CRASH_DATADIR)
	$(BIN)/strata bench crash --powercut --kills $(CRASH_KILLS)

## soak: 30 minutes following a 200 ms base-like chain (a source and a follower, both strata) while serving proofs
## at constant arrival to 1, 4 and 16 clients beside a victim client; lag, proof latency, RSS and goroutines
## are sampled every second, judged and plotted into $(SOAK_OUT) (make test runs a 20 s devnet version)
SOAK_OUT ?= $(DATADIR)/soak
soak: build
	$(BIN)/strata bench soak --profile base-like --initial-accounts 100000 --initial-slots 500000 --duration 30m --clients 1,4,16 --out $(SOAK_OUT)

## lint: go vet, a gofmt check, and no tracked file over 1 MiB (the repository holds
## source: binaries, datadirs and raw bench output are regenerated, not committed)
MAX_FILE_BYTES := 1048576
lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@big=$$(git ls-files -s | awk -F'\t' '{ split($$1, m, " "); if (m[1] != "160000") print m[2], $$2 }' \
		| git cat-file --batch-check='%(objectsize) %(rest)' \
		| awk '$$1 > $(MAX_FILE_BYTES) { printf "  %s: %d bytes (%.1f MiB)\n", substr($$0, index($$0, " ") + 1), $$1, $$1 / 1048576 }'); \
	if [ -n "$$big" ]; then echo "tracked files over 1 MiB (remove them from git and ignore them):"; echo "$$big"; exit 1; fi

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf $(BIN)
