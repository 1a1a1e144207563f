package bench

import (
	"context"
	"log/slog"

	"github.com/ethereum/go-ethereum/params"

	"github.com/strata-chain/strata/follower"
	"github.com/strata-chain/strata/sequencer"
)

// Node is an in-process Strata that a bench drives the way a user would: a
// sequencer making blocks into a store of its own, serving JSON-RPC and,
// when asked, the block stream. bench declares it and never opens a store
// itself; cmd/strata wires its node behind it (DESIGN.md §3).
type Node interface {
	// OnBlock registers f to be called for every block the sequencer
	// makes. It must be called before Run.
	OnBlock(f func(sequencer.BlockInfo))
	// Run makes blocks until ctx ends.
	Run(ctx context.Context) error
	// Started is closed once the sequencer has built its load and makes
	// blocks.
	Started() <-chan struct{}
	// Head is the number of the newest block made.
	Head() uint64
	// RPCURL is the JSON-RPC endpoint (http://host:port).
	RPCURL() string
	// StreamURL is the block stream (strata://host:port), empty unless
	// NodeConfig.Stream was set.
	StreamURL() string
	// ChainConfig is the chain the sequencer makes.
	ChainConfig() *params.ChainConfig
	// DiskUsage is the store's size on disk in bytes.
	DiskUsage() uint64
	// Close stops the node and closes its store; it is idempotent.
	Close() error
}

// NodeConfig is what a bench asks of a node: a fullstack node on loopback
// with its store in DataDir.
type NodeConfig struct {
	DataDir   string
	Sequencer sequencer.Config
	Stream    bool // serve the block stream (gRPC) on a free port
	Log       *slog.Logger
}

// Store is a store of its own that a bench's follower follows into.
type Store interface {
	follower.Chain
	Close() error
}

// Wiring is what cmd/strata hands a bench that runs a chain: how to start
// a node and how to open a follower's store. Both are required.
type Wiring struct {
	NewNode   func(ctx context.Context, cfg NodeConfig) (Node, error) // a started node; ctx bounds the start
	OpenStore func(dir string, log *slog.Logger) (Store, error)
}
