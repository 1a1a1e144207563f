package follower

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/strata-chain/strata/catchup"
	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/history/stream"
)

// Chain is the store a follower feeds.
type Chain interface {
	history.Reader
	history.Ingester
	history.BatchIngester
	history.GenesisLoader
	// Unwind drops every block above n in one batch (a reorg).
	Unwind(ctx context.Context, n uint64) error
}

// Config configures a follower.
type Config struct {
	// URL is the upstream's JSON-RPC endpoint (http(s):// or ws(s)://).
	URL string
	// GenesisFile is the chain's genesis in geth's format; needed to start
	// on an empty store.
	GenesisFile string
	// PollInterval is how often the upstream head is polled (WebSocket
	// upstreams also push new heads).
	PollInterval time.Duration
	// MaxReorgDepth is the deepest reorg unwound; a deeper one halts.
	MaxReorgDepth uint64
	// RetryInitial and RetryMax bound the exponential backoff of retries.
	RetryInitial, RetryMax time.Duration
	// RequestTimeout bounds one upstream request.
	RequestTimeout time.Duration
	// ChainConfig is the chain's configuration when it does not come from a
	// genesis file (following another Strata).
	ChainConfig *params.ChainConfig
	// CatchupThreshold is how many blocks behind the upstream's head the
	// follower switches from per-block ingest to parallel catch-up replay
	// (0 never switches). Catch-up applies to Strata stream upstreams; a
	// JSON-RPC upstream that far ahead gets its next blocks requested
	// concurrently while each is built and ingested in turn.
	CatchupThreshold uint64
	// Catchup bounds catch-up replay.
	Catchup catchup.Config
}

// DefaultConfig has the defaults for a 200 ms upstream.
func DefaultConfig() Config {
	return Config{
		PollInterval:   50 * time.Millisecond,
		MaxReorgDepth:  64,
		RetryInitial:   50 * time.Millisecond,
		RetryMax:       5 * time.Second,
		RequestTimeout: 10 * time.Second,

		CatchupThreshold: 25,
		Catchup:          catchup.DefaultConfig(),
	}
}

// Mode is what a follower is doing.
type Mode string

const (
	ModeLive    Mode = "live"     // one block at a time, as they come
	ModeCatchup Mode = "catch-up" // replaying a backlog in batches
)

// BlockInfo describes one followed block.
type BlockInfo struct {
	Number       uint64
	Hash         [32]byte
	Txs          int
	Fetch        time.Duration // upstream requests for the block (waiting for them when prefetched)
	Prefetched   bool          // requested ahead while the follower was behind
	Build        time.Duration // diffs merged, system calls applied
	Ingest       time.Duration // root check and commit
	Committed    time.Time
	Seen         time.Time // when the follower learnt the upstream holds the block
	UpstreamHead uint64
	HeadTime     uint64 // the header's timestamp
}

// Follower follows one upstream into a chain.
type Follower struct {
	cfg     Config
	log     *slog.Logger
	chain   Chain
	config  *params.ChainConfig
	up      *upstream      // a JSON-RPC upstream
	sc      *stream.Client // or another Strata's block stream
	onBlock func(BlockInfo)
	onBatch func(catchup.Batch)
	onHead  func(uint64, time.Time)

	upHead   atomic.Uint64
	upHeadAt atomic.Int64 // unix nanoseconds when upHead was last seen to grow

	// Blocks requested ahead from a JSON-RPC upstream; Run's goroutine only.
	pre       map[uint64]*rpcFetch
	preCtx    context.Context
	preCancel context.CancelFunc
	mode      atomic.Value // Mode

	started  bool // Start succeeded; Run needs it
	stopOnce sync.Once
}

// New makes a follower of cfg.URL into chain. It does no I/O: Start
// connects to the upstream and checks or loads the genesis, Run follows and
// Stop releases the connection.
func New(cfg Config, chain Chain, log *slog.Logger) (*Follower, error) {
	if cfg.URL == "" {
		return nil, errors.New("follower: no upstream URL")
	}
	f := &Follower{cfg: cfg, log: log, chain: chain}
	if strings.HasPrefix(cfg.URL, streamScheme) {
		if cfg.ChainConfig == nil {
			return nil, errors.New("follower: following a Strata needs the chain config (the chain ID of the devnet)")
		}
		f.config = cfg.ChainConfig
		return f, nil
	}
	if cfg.GenesisFile == "" {
		return nil, errors.New("follower: a genesis file is needed to know the chain's configuration and initial state")
	}
	return f, nil
}

// Start connects to the upstream and, on an empty chain, loads the genesis:
// from the genesis file for a JSON-RPC upstream (its hash must equal the
// upstream's block 0), from the stream for another Strata. On a chain that
// has one, the stored genesis must be the upstream's. If Start fails the
// follower holds no connection.
func (f *Follower) Start(ctx context.Context) error {
	if f.started {
		return errors.New("follower: already started")
	}
	var err error
	if strings.HasPrefix(f.cfg.URL, streamScheme) {
		err = f.startStream(ctx)
	} else {
		err = f.startRPC(ctx)
	}
	if err != nil {
		f.release()
		f.up, f.sc = nil, nil
		return err
	}
	f.started = true
	return nil
}

// startRPC dials a JSON-RPC upstream, reads the genesis file and checks or
// loads the genesis.
func (f *Follower) startRPC(ctx context.Context) error {
	cfg := f.cfg
	c, err := rpc.DialContext(ctx, cfg.URL)
	if err != nil {
		return fmt.Errorf("dial upstream %s: %w", cfg.URL, err)
	}
	f.up = &upstream{c: c, timeout: cfg.RequestTimeout}
	g, err := readGenesis(cfg.GenesisFile)
	if err != nil {
		return err
	}
	f.config = g.config
	up0, err := retry(ctx, f, "genesis header", func(ctx context.Context) (*types.Block, error) { return f.up.block(ctx, 0) })
	if err != nil {
		return err
	}
	if _, err := f.chain.Head(); errors.Is(err, history.ErrEmpty) {
		start := time.Now()
		sealed, err := f.chain.LoadGenesis(ctx, g.source(), g.header(), nil)
		if err != nil {
			return fmt.Errorf("load genesis %s: %w", cfg.GenesisFile, err)
		}
		if sealed.Hash() != up0.Hash() {
			return fmt.Errorf("genesis %s makes block 0 %s, the upstream's is %s: not the same chain", cfg.GenesisFile, sealed.Hash(), up0.Hash())
		}
		f.log.Info("Loaded the genesis", "hash", sealed.Hash(), "accounts", len(g.accounts), "took", time.Since(start).Round(time.Millisecond).String())
		return nil
	} else if err != nil {
		return err
	}
	h0, err := f.chain.HeaderByNumber(0)
	if err != nil {
		return err
	}
	if h0.Hash() != up0.Hash() {
		return fmt.Errorf("the store's genesis %s is not the upstream's %s", h0.Hash(), up0.Hash())
	}
	return nil
}

// ChainConfig is the followed chain's configuration: Config.ChainConfig
// for a Strata upstream, the genesis file's once Start has read it for a
// JSON-RPC one (nil before).
func (f *Follower) ChainConfig() *params.ChainConfig { return f.config }

// OnBlock registers a hook called after each ingested block; call before Run.
func (f *Follower) OnBlock(fn func(BlockInfo)) { f.onBlock = fn }

// OnBatch registers a hook called after each catch-up batch; call before Run.
func (f *Follower) OnBatch(fn func(catchup.Batch)) { f.onBatch = fn }

// OnUpstreamHead registers a hook called when the upstream is seen to hold
// a newer block; call before Run.
func (f *Follower) OnUpstreamHead(fn func(n uint64, at time.Time)) { f.onHead = fn }

// UpstreamHead is the newest upstream block number seen.
func (f *Follower) UpstreamHead() uint64 { return f.upHead.Load() }

// Mode reports whether the follower is live or catching up.
func (f *Follower) Mode() Mode {
	if m, ok := f.mode.Load().(Mode); ok {
		return m
	}
	return ModeLive
}

// seeUpstreamHead records an upstream head number.
func (f *Follower) seeUpstreamHead(n uint64) {
	for {
		old := f.upHead.Load()
		if n <= old {
			return
		}
		if f.upHead.CompareAndSwap(old, n) {
			now := time.Now()
			f.upHeadAt.Store(now.UnixNano())
			if f.onHead != nil {
				f.onHead(n, now)
			}
			return
		}
	}
}

// Stop releases the upstream connection; call it once Run has returned.
// Stopping a follower that was not started, or stopping twice, does nothing.
func (f *Follower) Stop() { f.stopOnce.Do(f.release) }

// release closes the upstream connections.
func (f *Follower) release() {
	if f.up != nil {
		f.up.c.Close()
	}
	if f.sc != nil {
		f.sc.Close()
	}
}

// Run follows the upstream until ctx is cancelled (nil) or a critical error:
// a state-root mismatch (the store stays at the last good block) or a reorg
// deeper than MaxReorgDepth.
func (f *Follower) Run(ctx context.Context) error {
	if !f.started {
		return errors.New("follower: Run before Start")
	}
	if f.sc != nil {
		return f.runStream(ctx)
	}
	wake := f.subscribe(ctx)
	defer f.dropPrefetch()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		head, err := f.chain.Head()
		if err != nil {
			return err
		}
		upHead, err := retry(ctx, f, "head", f.up.head)
		if err != nil {
			return nilOnCancel(ctx, err)
		}
		f.seeUpstreamHead(upHead)
		if upHead < head.Number {
			// The upstream is behind us: a reorg to a shorter branch, or
			// another upstream. Unwind only if it disagrees with us.
			theirs, err := retry(ctx, f, "block", func(ctx context.Context) (*types.Block, error) { return f.up.block(ctx, upHead) })
			if err != nil {
				return nilOnCancel(ctx, err)
			}
			ours, err := f.chain.HeaderByNumber(upHead)
			if err != nil {
				return err
			}
			if theirs.Hash() != ours.Hash() {
				f.dropPrefetch()
				if err := f.reorg(ctx, history.Head{Number: upHead, Hash: ours.Hash(), Root: ours.Root}, f.rpcHash); err != nil {
					return nilOnCancel(ctx, err)
				}
				continue
			}
		}
		if upHead <= head.Number {
			timer.Reset(f.cfg.PollInterval)
			select {
			case <-ctx.Done():
				return nil
			case <-timer.C:
			case <-wake:
			}
			continue
		}
		if err := f.next(ctx, head); err != nil {
			return nilOnCancel(ctx, err)
		}
	}
}

func nilOnCancel(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// next ingests the block after head, or unwinds a reorg.
func (f *Follower) next(ctx context.Context, head history.Head) error {
	n := head.Number + 1
	start := time.Now()
	seen := start
	if at := time.Unix(0, f.upHeadAt.Load()); f.upHead.Load() >= n && at.Before(seen) {
		seen = at
	}
	fe, prefetched, err := f.fetch(ctx, n)
	if err != nil {
		return err
	}
	b, receipts, diffs := fe.b, fe.receipts, fe.diffs
	if b.ParentHash() != head.Hash {
		f.dropPrefetch()
		return f.reorg(ctx, head, f.rpcHash)
	}
	fetched := time.Now()
	parent, err := f.chain.HeaderByNumber(head.Number)
	if err != nil {
		return err
	}
	st, err := f.chain.StateAt(head.Number)
	if err != nil {
		return err
	}
	u, err := buildUpdate(f.config, f.chain, st, parent, b, receipts, diffs)
	st.Close()
	if err != nil {
		return err
	}
	built := time.Now()
	if err := f.ingested(f.chain.Ingest(ctx, u), head); err != nil {
		if history.ClassOf(err) == history.ClassReorg {
			return nil // the head moved under us; the loop re-reads it
		}
		return err
	}
	if f.onBlock != nil {
		now := time.Now()
		f.onBlock(BlockInfo{Number: n, Hash: b.Hash(), Txs: len(b.Transactions()), Fetch: fetched.Sub(start), Prefetched: prefetched, Build: built.Sub(fetched),
			Ingest: now.Sub(built), Committed: now, Seen: seen, UpstreamHead: f.upHead.Load(), HeadTime: b.Time()})
	}
	return nil
}

// reorg finds the newest block the store and the upstream agree on, at most
// MaxReorgDepth below the head, and unwinds the store to it. upstreamHash
// reads the hash of the upstream's block n.
func (f *Follower) reorg(ctx context.Context, head history.Head, upstreamHash func(context.Context, uint64) (common.Hash, error)) error {
	for depth := uint64(1); depth <= f.cfg.MaxReorgDepth && depth <= head.Number; depth++ {
		n := head.Number - depth
		ours, err := f.chain.HeaderByNumber(n)
		if err != nil {
			return err
		}
		theirs, err := retry(ctx, f, "reorg block", func(ctx context.Context) (common.Hash, error) { return upstreamHash(ctx, n) })
		if err != nil {
			return err
		}
		if theirs == ours.Hash() {
			f.log.Warn("Reorg: unwinding to the common ancestor", "ancestor", n, "depth", depth, "old_head", head.Number)
			if err := f.chain.Unwind(ctx, n); err != nil {
				return fmt.Errorf("unwind to %d: %w", n, err)
			}
			return nil
		}
	}
	return history.Critical(fmt.Errorf("follower halted: reorg deeper than %d blocks below head %d (%s)", f.cfg.MaxReorgDepth, head.Number, head.Hash))
}

// rpcHash is the hash of a JSON-RPC upstream's block n.
func (f *Follower) rpcHash(ctx context.Context, n uint64) (common.Hash, error) {
	b, err := f.up.block(ctx, n)
	if err != nil {
		return common.Hash{}, err
	}
	return b.Hash(), nil
}

// subscribe asks a WebSocket upstream to push new heads; the returned
// channel wakes the loop. Polling goes on regardless.
func (f *Follower) subscribe(ctx context.Context) <-chan struct{} {
	wake := make(chan struct{}, 1)
	heads := make(chan *types.Header, 16)
	sub, err := f.up.c.EthSubscribe(ctx, heads, "newHeads")
	if err != nil {
		f.log.Debug("Upstream offers no head subscription; polling", "err", err)
		return wake
	}
	go func() {
		defer sub.Unsubscribe()
		for {
			select {
			case <-ctx.Done():
				return
			case <-sub.Err():
				return
			case <-heads:
				select {
				case wake <- struct{}{}:
				default:
				}
			}
		}
	}()
	return wake
}

// maxInconsistent is how many answers in a row that decode but contradict
// themselves (a receipts root that is not the header's, a transaction op-geth
// cannot decode) the follower retries before it halts: one is a flaky proxy,
// a run of them is the upstream's chain.
const maxInconsistent = 5

// retry calls fn until it succeeds or ctx ends, backing off exponentially
// from RetryInitial to RetryMax and logging the class of each failure. An
// inconsistent answer maxInconsistent times in a row halts (history.Critical).
func retry[T any](ctx context.Context, f *Follower, what string, fn func(context.Context) (T, error)) (T, error) {
	wait := f.cfg.RetryInitial
	inconsistent := 0
	for attempt := 1; ; attempt++ {
		v, err := fn(ctx)
		if err == nil {
			return v, nil
		}
		if ctx.Err() != nil {
			return v, ctx.Err()
		}
		if inconsistent = inconsistent + 1; !errors.Is(err, errMalformed) {
			inconsistent = 0
		}
		if inconsistent >= maxInconsistent {
			f.log.Error("The upstream keeps giving an inconsistent answer: following halted", "request", what, "attempts", inconsistent, "err", err)
			return v, history.Critical(fmt.Errorf("follower halted after %d inconsistent answers to %s: %w", inconsistent, what, err))
		}
		f.log.Warn("Upstream request failed; retrying", "request", what, "class", history.ClassOf(err), "kind", failureKind(err), "attempt", attempt,
			"backoff", wait.String(), "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return v, ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, f.cfg.RetryMax)
	}
}

// ingested acts on the class of an ingest's error (nil: the block is in).
// Critical (a root mismatch, a write the store's disk refused, an update
// the store cannot apply) halts with the store at head, the last good
// block; a Reorg (the head moved under the ingest) or anything else is
// returned as it is, for the caller to re-read the head or retry.
func (f *Follower) ingested(err error, head history.Head) error {
	if err == nil {
		return nil
	}
	var mismatch *history.RootMismatchError
	switch {
	case errors.As(err, &mismatch):
		f.log.Error("State root mismatch: ingest halted at the last good block", "block", mismatch.Number, "hash", mismatch.Hash,
			"header_root", mismatch.Want, "computed_root", mismatch.Computed, "last_good", head.Number)
		return fmt.Errorf("follower halted: %w", err)
	case history.IsCritical(err):
		f.log.Error("Ingest failed: following halted at the last good block", "block", head.Number+1, "last_good", head.Number,
			"class", history.ClassCritical, "err", err)
		return fmt.Errorf("follower halted: %w", err)
	}
	return err
}
