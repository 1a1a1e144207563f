package main

import (
	"context"
	"log/slog"
	"net"

	"github.com/ethereum/go-ethereum/params"

	"github.com/strata-chain/strata/bench"
	"github.com/strata-chain/strata/history/store"
	"github.com/strata-chain/strata/sequencer"
)

// benchWiring hands the bench commands this binary's node and store.
func benchWiring() bench.Wiring {
	return bench.Wiring{NewNode: startBenchNode, OpenStore: openBenchStore}
}

// startBenchNode starts a fullstack node as a bench asks: loopback, its
// store in the bench's directory, the block stream on a free port when
// asked.
func startBenchNode(ctx context.Context, c bench.NodeConfig) (bench.Node, error) {
	cfg := nodeConfig{
		Mode: "fullstack", DataDir: c.DataDir, HTTPAddr: "127.0.0.1",
		Store: store.DefaultConfig(), Sequencer: c.Sequencer,
	}
	if c.Stream {
		cfg.GRPCPort = freeTCPPort()
	}
	n, err := startNode(ctx, cfg, c.Log)
	if err != nil {
		return nil, err
	}
	return benchNode{n}, nil
}

// openBenchStore opens a follower's store in dir.
func openBenchStore(dir string, log *slog.Logger) (bench.Store, error) {
	return store.Open(dir, store.DefaultConfig(), log)
}

// benchNode is a started node seen as bench.Node.
type benchNode struct{ n *node }

func (b benchNode) OnBlock(f func(sequencer.BlockInfo)) { b.n.onBlock(f) }
func (b benchNode) Run(ctx context.Context) error       { return b.n.run(ctx) }
func (b benchNode) Started() <-chan struct{}            { return b.n.seq.Started() }
func (b benchNode) Head() uint64                        { return b.n.seq.Head().Number.Uint64() }
func (b benchNode) RPCURL() string                      { return "http://" + b.n.api.HTTPAddr() }
func (b benchNode) ChainConfig() *params.ChainConfig    { return b.n.seq.ChainConfig() }
func (b benchNode) DiskUsage() uint64                   { return b.n.store.DiskUsage() }
func (b benchNode) Close() error                        { return b.n.Close() }

func (b benchNode) StreamURL() string {
	if b.n.grpc == nil {
		return ""
	}
	return "strata://" + b.n.grpc.Addr()
}

// freeTCPPort is a loopback port that was free a moment ago, 0 if none
// was found.
func freeTCPPort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
