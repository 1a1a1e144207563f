// Package api serves Strata's history over JSON-RPC with go-ethereum's rpc
// server: the eth_ methods proof clients use (answers byte-compatible with
// geth), op-node's optimism_outputAtBlock, optimism_syncStatus and
// optimism_rollupConfig, op-geth's debug_chainConfig and raw debug_
// encodings, and what fault-proof and ZK proof hosts read from their L2
// node: debug_dbGet (trie nodes and code by hash), debug_executionWitness
// and op-reth's debug_executePayload (docs/proof-hosts.md). It knows nothing
// of where blocks come from. It also serves operators: OpsServer (metrics,
// /healthz, /readyz, GET /v1/status) and GRPCServer (health,
// strata.v1.Status and whatever the node registers).
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ethereum-optimism/optimism/op-node/rollup"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-chain/strata/history"
)

// TxPool takes transactions for the next blocks (eth_sendRawTransaction).
type TxPool interface {
	SubmitTransaction(tx *types.Transaction) error
}

// Config wires the API to a store.
type Config struct {
	ChainConfig *params.ChainConfig
	// RollupConfig is the op-node rollup config of an OP Stack chain, served
	// by optimism_rollupConfig; with it optimism_outputAtBlock and
	// optimism_syncStatus read each L2 block's L1 origin and sequence number
	// from its L1-attributes deposit. Nil on a node without one. It must
	// agree with ChainConfig and the genesis (chain.CheckRollup).
	RollupConfig *rollup.Config
	Reader       history.Reader
	// TxPool is nil on a node that takes no transactions.
	TxPool TxPool
	// Finality returns the safe and finalized block numbers; nil means both
	// are the head (a single-sequencer devnet with no L1).
	Finality func() (safe, finalized uint64)
	// MaxStorageKeys bounds the keys of one eth_getProof (geth: 1024).
	MaxStorageKeys int
	// ProofConcurrency bounds the proofs built at once (reth: 25); requests
	// beyond it wait for a permit.
	ProofConcurrency int
	// FutureWait is how long a request for a block newer than the head
	// waits for that block to be ingested. 0 answers at once with geth's
	// "header not found", extended with the head's number (also in the
	// error's data field).
	FutureWait time.Duration
	// Tiers reports the retention tiers (strata_tiers); nil if unknown.
	Tiers func() []Tier
	// ProofLatency, if set, observes the seconds each eth_getProof took.
	ProofLatency prometheus.Observer
	// HeavyConcurrency bounds the block re-executions running at once
	// (debug_executionWitness, debug_executePayload; op-reth: 3). A call
	// beyond it is refused at once with the busy error (code -32005).
	HeavyConcurrency int
	// DbGetConcurrency bounds the debug_dbGet calls running at once (default
	// 64), with the same busy error.
	DbGetConcurrency int
	// HeavyTimeout bounds each limited call (default 30 s); one that runs
	// past it gets code -32002.
	HeavyTimeout time.Duration
	// NodeIndexSize bounds the node references debug_dbGet remembers to
	// find nodes by hash (default 262,144: about 57 MB at 219 bytes each;
	// a host fetching a 30 Mgas block's pre-state notes about 45,000).
	NodeIndexSize int
	// RootIndexBlocks is how many of the newest blocks' state roots
	// debug_dbGet finds without the block's header having been read through
	// the API first (default 18,000: an hour of 200 ms blocks).
	RootIndexBlocks int
	// DebugMetrics, if set, counts the limited calls (NewDebugMetrics).
	DebugMetrics *DebugMetrics
	Log          *slog.Logger
}

const (
	defaultMaxStorageKeys   = 1024
	defaultProofConcurrency = 25
)

// NewRPCServer returns one rpc.Server with every namespace of NewAPIs
// registered and geth's batch limits: for tests and embedders that serve
// everything on one handler. The node serves through NewServer, which
// chooses namespaces per listener.
func NewRPCServer(cfg Config) (*rpc.Server, error) {
	apis, err := NewAPIs(cfg)
	if err != nil {
		return nil, err
	}
	srv := rpc.NewServer()
	srv.SetBatchLimits(DefaultBatchRequestLimit, DefaultBatchResponseMaxSize)
	for _, a := range apis {
		if err := srv.RegisterName(a.Namespace, a.Service); err != nil {
			return nil, fmt.Errorf("register %s: %w", a.Namespace, err)
		}
	}
	return srv, nil
}

// invalidParamsError is a JSON-RPC -32602 error, as geth gives for bad
// arguments.
type invalidParamsError struct{ msg string }

func (e *invalidParamsError) Error() string  { return e.msg }
func (e *invalidParamsError) ErrorCode() int { return -32602 }

// Errors with geth's messages.
var (
	errHeaderNotFound       = errors.New("header not found")
	errHashNotFound         = errors.New("header for hash not found")
	errNotCanonical         = errors.New("hash is not currently canonical")
	errNoTransactions       = errors.New("this node does not accept transactions")
	errNeitherNumberNorHash = errors.New("invalid arguments; neither block nor hash specified")
)

// backend resolves blocks and states for the namespaces.
type backend struct {
	cfg     Config
	permits *fairPermits // proofs built at once, shared fairly between connections
	heavy   *limiter     // block re-executions
	dbget   *limiter     // debug_dbGet
	nodes   *nodeIndex   // trie nodes by hash, for debug_dbGet
}

// acquire takes a proof permit for the request's connection, waiting
// while all are in use (fairPermits decides who goes next).
func (b *backend) acquire(ctx context.Context) (func(), error) {
	return b.permits.acquire(ctx, callerKey(ctx))
}

// number resolves a block number or tag to a held block number:
// latest and pending are the head, safe and finalized come from Finality,
// earliest is the oldest block held. A number above the head, or one the
// store does not hold, is errHeaderNotFound.
func (b *backend) number(bn rpc.BlockNumber) (uint64, error) {
	head, err := b.cfg.Reader.Head()
	if errors.Is(err, history.ErrEmpty) {
		return 0, errHeaderNotFound
	}
	if err != nil {
		return 0, err
	}
	switch bn {
	case rpc.LatestBlockNumber, rpc.PendingBlockNumber:
		return head.Number, nil
	case rpc.SafeBlockNumber, rpc.FinalizedBlockNumber:
		if b.cfg.Finality == nil {
			return head.Number, nil
		}
		safe, fin := b.cfg.Finality()
		if bn == rpc.SafeBlockNumber {
			return safe, nil
		}
		return fin, nil
	case rpc.EarliestBlockNumber:
		return b.cfg.Reader.Oldest()
	}
	if bn < 0 {
		return 0, errHeaderNotFound
	}
	if n := uint64(bn); n > head.Number {
		return b.waitFor(n, head.Number)
	}
	return uint64(bn), nil
}

// futureBlockError answers a request for a block the store does not hold
// yet. The message starts with geth's, so clients that match on it keep
// working; the data field carries the numbers.
type futureBlockError struct{ number, head uint64 }

func (e *futureBlockError) Error() string {
	return fmt.Sprintf("header not found: block %d is newer than the head %d", e.number, e.head)
}
func (e *futureBlockError) ErrorCode() int { return -32000 }
func (e *futureBlockError) Unwrap() error  { return errHeaderNotFound }
func (e *futureBlockError) ErrorData() any {
	return map[string]hexutil.Uint64{"requested": hexutil.Uint64(e.number), "head": hexutil.Uint64(e.head)}
}

// waitFor waits up to FutureWait for block n to be ingested.
func (b *backend) waitFor(n, head uint64) (uint64, error) {
	if b.cfg.FutureWait <= 0 {
		return 0, &futureBlockError{n, head}
	}
	deadline := time.Now().Add(b.cfg.FutureWait)
	tk := time.NewTicker(2 * time.Millisecond)
	defer tk.Stop()
	for range tk.C {
		h, err := b.cfg.Reader.Head()
		if err != nil {
			return 0, err
		}
		if h.Number >= n {
			return n, nil
		}
		if time.Now().After(deadline) {
			return 0, &futureBlockError{n, h.Number}
		}
	}
	return 0, &futureBlockError{n, head}
}

// header resolves a block number, tag or hash to its header, with geth's
// errors.
func (b *backend) header(bnh rpc.BlockNumberOrHash) (*types.Header, error) {
	if bn, ok := bnh.Number(); ok {
		n, err := b.number(bn)
		if err != nil {
			return nil, err
		}
		h, err := b.cfg.Reader.HeaderByNumber(n)
		if errors.Is(err, history.ErrNotFound) {
			return nil, errHeaderNotFound
		}
		return h, err
	}
	if hash, ok := bnh.Hash(); ok {
		n, err := b.cfg.Reader.NumberByHash(hash)
		if errors.Is(err, history.ErrNotFound) {
			return nil, errHashNotFound
		}
		if err != nil {
			return nil, err
		}
		h, err := b.cfg.Reader.HeaderByNumber(n)
		if errors.Is(err, history.ErrNotFound) {
			return nil, errHashNotFound
		}
		if err != nil {
			return nil, err
		}
		if h.Hash() != hash {
			// The store only indexes canonical blocks; a mismatch means the
			// hash was unwound between the two reads.
			if bnh.RequireCanonical {
				return nil, errNotCanonical
			}
			return nil, errHashNotFound
		}
		return h, nil
	}
	return nil, errNeitherNumberNorHash
}

// state opens the state of a block: the header and its state. A block
// older than the store's history is an error that names the oldest block.
func (b *backend) state(bnh *rpc.BlockNumberOrHash) (history.State, *types.Header, error) {
	sel := rpc.BlockNumberOrHashWithNumber(rpc.LatestBlockNumber)
	if bnh != nil {
		sel = *bnh
	}
	h, err := b.header(sel)
	if err != nil {
		return nil, nil, err
	}
	st, err := b.cfg.Reader.StateAt(h.Number.Uint64())
	var future *history.FutureError
	if errors.As(err, &future) {
		return nil, nil, errHeaderNotFound
	}
	if err != nil {
		return nil, nil, err
	}
	if st.Root() != h.Root {
		st.Close()
		return nil, nil, fmt.Errorf("state of block %d has root %s, header has %s", h.Number, st.Root(), h.Root)
	}
	return st, h, nil
}
