package sequencer

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/consensus/misc/eip1559"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/trie"

	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/history/chain"
	"github.com/strata-chain/strata/history/statedb"
)

// HeaderReader gives the executor the canonical headers BLOCKHASH needs.
type HeaderReader interface {
	HeaderByNumber(n uint64) (*types.Header, error)
}

// Executor runs blocks with go-ethereum's EVM, the way core.StateProcessor
// does (pre-execution system calls, transactions, post-execution requests),
// on a StateDB over a history.State.
type Executor struct {
	config  *params.ChainConfig
	headers HeaderReader
	// Prefetch loads trie nodes concurrently with execution (go-ethereum's
	// trie prefetcher).
	Prefetch bool
}

// NewExecutor returns an executor for a chain with that configuration.
func NewExecutor(config *params.ChainConfig, headers HeaderReader) *Executor {
	return &Executor{config: config, headers: headers}
}

// Config is the chain configuration the executor applies.
func (e *Executor) Config() *params.ChainConfig { return e.config }

// DroppedTx is a transaction Build left out, with the reason.
type DroppedTx = chain.DroppedTx

// Built is a sealed block and the state change it makes.
type Built struct {
	Block    *types.Block
	Receipts types.Receipts
	Update   *history.BlockUpdate
	// Dropped lists the offered transactions that were invalid on this
	// state (nonce, balance, gas); they are not in the block.
	Dropped []DroppedTx
	// Stages times the block's making.
	Stages Stages
}

// Stages is the time each stage of making a block took.
type Stages struct {
	Execute   time.Duration // system calls and transactions
	StateRoot time.Duration // hashing the changed tries
	Commit    time.Duration // collecting the state update
	Seal      time.Duration // header, block and BlockUpdate
}

// Build executes txs on the parent state st and seals a block with header
// template h: the caller sets ParentHash, Number, Time, GasLimit, Coinbase,
// BaseFee, MixDigest and the Prague fields' inputs (ParentBeaconRoot); Build
// fills the roots, bloom and gas used. Transactions that cannot be applied
// are dropped, as a block builder does; the block stops when the next
// transaction no longer fits the gas left.
func (e *Executor) Build(ctx context.Context, st history.State, parent *types.Header, h *types.Header, txs types.Transactions) (*Built, error) {
	return e.execute(ctx, st, parent, types.CopyHeader(h), txs, true)
}

// Replay re-executes a block another client made on the parent state st and
// returns its BlockUpdate with the block's own header. Any transaction that
// fails, or a state root, gas used or receipts root that differs from the
// header, is an error: the block is not ours to change.
func (e *Executor) Replay(ctx context.Context, st history.State, parent *types.Header, block *types.Block) (*Built, error) {
	built, err := e.execute(ctx, st, parent, block.Header(), block.Transactions(), false)
	if err != nil {
		return nil, err
	}
	want := block.Header()
	got := built.Block.Header()
	switch {
	case got.Root != want.Root:
		return nil, &history.RootMismatchError{Number: want.Number.Uint64(), Hash: block.Hash(), Want: want.Root, Computed: got.Root}
	case got.GasUsed != want.GasUsed:
		return nil, fmt.Errorf("replay block %d: gas used %d, header has %d", want.Number, got.GasUsed, want.GasUsed)
	case got.ReceiptHash != want.ReceiptHash:
		return nil, fmt.Errorf("replay block %d: receipts root %s, header has %s", want.Number, got.ReceiptHash, want.ReceiptHash)
	}
	built.Block = block
	built.Update.Header = want
	return built, nil
}

func (e *Executor) execute(ctx context.Context, st history.State, parent, header *types.Header, txs types.Transactions, build bool) (*Built, error) {
	if st.Root() != parent.Root {
		return nil, fmt.Errorf("execute block %d: state %s is not the parent's root %s", header.Number, st.Root(), parent.Root)
	}
	db := statedb.New(st)
	sdb, err := state.New(parent.Root, db)
	if err != nil {
		return nil, fmt.Errorf("execute block %d: open state: %w", header.Number, err)
	}
	if e.Prefetch {
		// Load the trie nodes of touched accounts and slots while the
		// transactions run, so hashing the state root finds them in memory.
		sdb.StartPrefetcher("strata", nil)
		defer sdb.StopPrefetcher()
	}
	var (
		number      = header.Number
		rules       = e.config.Rules(number, true, header.Time)
		withdrawals types.Withdrawals
		mode        = chain.Replay
	)
	if rules.IsShanghai {
		withdrawals = types.Withdrawals{}
	}
	if build {
		mode = chain.Build
	}
	t0 := time.Now()
	applied, err := chain.Apply(ctx, chain.Block{Config: e.config, Headers: e.headers, Header: header, Withdrawals: withdrawals, State: sdb}, txs, mode)
	if err != nil {
		return nil, err // names the block and the transaction, or is ctx's
	}
	out := &Built{Receipts: applied.Receipts, Dropped: applied.Dropped}
	requests := applied.Requests
	t1 := time.Now()
	sdb.IntermediateRoot(true)
	withdrawalsRoot := chain.WithdrawalsRoot(e.config, header.Time, sdb)
	t2 := time.Now()
	root, su, err := sdb.CommitWithUpdate(number.Uint64(), true, true)
	if err != nil {
		return nil, fmt.Errorf("execute block %d: commit: %w", number, err)
	}
	t3 := time.Now()
	if build {
		header.Root = root
		header.GasUsed = applied.GasUsed
		if len(applied.Transactions) == 0 {
			header.TxHash = types.EmptyTxsHash
			header.ReceiptHash = types.EmptyReceiptsHash
			header.Bloom = types.Bloom{}
		} else {
			header.TxHash = types.DeriveSha(applied.Transactions, trie.NewStackTrie(nil))
			header.ReceiptHash = types.DeriveSha(out.Receipts, trie.NewStackTrie(nil))
			header.Bloom = types.MergeBloom(out.Receipts)
		}
		header.UncleHash = types.EmptyUncleHash
		if rules.IsShanghai {
			header.WithdrawalsHash = &withdrawalsRoot
		}
		if rules.IsCancun {
			// No blobs on L2; from Jovian the field holds the block's DA
			// footprint, as op-geth's block builder and validator have it.
			used := uint64(0)
			if e.config.IsJovian(header.Time) {
				if used, err = types.CalcDAFootprint(applied.Transactions); err != nil {
					return nil, fmt.Errorf("execute block %d: %w", number, err)
				}
			}
			header.BlobGasUsed = &used
		}
		if requests != nil {
			rh := types.CalcRequestsHash(requests)
			header.RequestsHash = &rh
		}
		out.Block = types.NewBlockWithHeader(header).WithBody(types.Body{Transactions: applied.Transactions, Withdrawals: withdrawals})
	} else {
		h := types.CopyHeader(header)
		h.Root = root
		h.GasUsed = applied.GasUsed
		h.ReceiptHash = types.EmptyReceiptsHash
		if len(out.Receipts) > 0 {
			h.ReceiptHash = types.DeriveSha(out.Receipts, trie.NewStackTrie(nil))
		}
		out.Block = types.NewBlockWithHeader(h).WithBody(types.Body{Transactions: applied.Transactions, Withdrawals: withdrawals})
	}
	u, err := statedb.ToBlockUpdate(out.Block.Header(), su)
	if err != nil {
		return nil, fmt.Errorf("execute block %d: %w", number, err)
	}
	u.Transactions, u.Receipts = applied.Transactions, out.Receipts
	out.Update = u
	out.Stages = Stages{Execute: t1.Sub(t0), StateRoot: t2.Sub(t1), Commit: t3.Sub(t2), Seal: time.Since(t3)}
	return out, nil
}

// nextBaseFee is the EIP-1559 base fee of the block after parent, made at
// time t.
func nextBaseFee(config *params.ChainConfig, parent *types.Header, t uint64) *big.Int {
	return eip1559.CalcBaseFee(config, parent, t)
}

// ReplayTarget is a store that blocks are replayed from and into.
type ReplayTarget interface {
	HeaderByNumber(n uint64) (*types.Header, error)
	StateAt(n uint64) (history.State, error)
	history.Ingester
}

// ReplayInto replays block on its parent held by chain and ingests it.
func (e *Executor) ReplayInto(ctx context.Context, chain ReplayTarget, block *types.Block) error {
	n := block.NumberU64()
	if n == 0 {
		return errors.New("replay: the genesis is loaded, not replayed")
	}
	parent, err := chain.HeaderByNumber(n - 1)
	if err != nil {
		return fmt.Errorf("replay block %d: parent: %w", n, err)
	}
	st, err := chain.StateAt(n - 1)
	if err != nil {
		return fmt.Errorf("replay block %d: parent state: %w", n, err)
	}
	built, err := e.Replay(ctx, st, parent, block)
	st.Close()
	if err != nil {
		return err
	}
	return chain.Ingest(ctx, built.Update)
}
