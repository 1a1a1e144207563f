package sequencer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum-optimism/optimism/op-node/rollup"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/consensus/misc/eip1559"
	"github.com/ethereum/go-ethereum/consensus/misc/eip4844"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/holiman/uint256"

	"github.com/strata-chain/strata/history"
)

// Chain is the store the sequencer builds on and feeds.
type Chain interface {
	history.Reader
	history.Ingester
	history.GenesisLoader
}

// BlockInfo describes one block the sequencer made and the store ingested.
type BlockInfo struct {
	Number     uint64
	Hash       common.Hash
	Txs        int
	GasUsed    uint64
	Due        time.Time     // the block's slot on the block-time grid
	Build      time.Duration // execution and sealing
	Ingest     time.Duration // history ingest, root check and commit
	Committed  time.Time     // when the ingest returned
	CatchingUp bool          // the block was made late, to catch up with the clock
	Stages     Stages        // the executor's stages; Ingest is the publish stage
	LoadMissed bool          // the load generator had not queued the block's load when it was made
}

// poolLimit bounds the transactions the pool holds.
const poolLimit = 1 << 20

// Sequencer makes a block every block time on the grid genesis + n·block
// time, executing the pool's transactions and ingesting each block into the
// chain. The load generator, when configured, runs beside it in its own
// goroutine (started by Run, or by New to generate Load.Prefill blocks of
// load before a new chain's genesis; stopped when Run returns and by Close)
// and feeds the pool; making a block only takes from the pool. When it
// starts behind the grid (after downtime) it makes the missed blocks, empty,
// as fast as it can until it is on time again, as an OP Stack sequencer
// does.
type Sequencer struct {
	cfg     Config
	log     *slog.Logger
	chain   Chain
	config  *params.ChainConfig
	ex      *Executor
	pool    *Pool
	load    *loadFeeder // the load generator; nil when it is off
	genesis uint64      // genesis time in Unix milliseconds
	now     func() time.Time

	head      atomic.Pointer[types.Header]
	headMu    sync.Mutex    // guards headWait
	headWait  chan struct{} // closed when the head moves; nil until asked for
	loadFed   atomic.Uint64 // the highest block whose load the generator queued
	onBlock   func(BlockInfo)
	started   chan struct{} // closed when Run has its load ready and makes blocks
	startOnce sync.Once

	l1       L1             // the synthetic L1 the blocks take their origins from
	rollup   *rollup.Config // op-node's view of the chain, set once the genesis is known
	depMu    sync.Mutex     // guards depQueue
	depQueue []Deposit      // user deposits for the next epoch's first block
}

// New builds a sequencer on chain from cfg. It does no I/O: Start reads
// the chain and gives it a genesis or resumes from its head. Open does both.
func New(cfg Config, chain Chain, log *slog.Logger) (*Sequencer, error) {
	return newWithClock(cfg, chain, log, time.Now)
}

// Open is New followed by Start: a sequencer ready to Run.
func Open(cfg Config, chain Chain, log *slog.Logger) (*Sequencer, error) {
	s, err := New(cfg, chain, log)
	if err != nil {
		return nil, err
	}
	if err := s.Start(context.Background()); err != nil {
		return nil, err
	}
	return s, nil
}

// newWithClock is New reading the time from now.
func newWithClock(cfg Config, chain Chain, log *slog.Logger, now func() time.Time) (*Sequencer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("sequencer config: %w", err)
	}
	s := &Sequencer{
		cfg:     cfg,
		log:     log,
		chain:   chain,
		config:  cfg.chainConfig(0), // until the genesis time is known
		now:     now,
		started: make(chan struct{}),
	}
	s.ex = NewExecutor(s.config, chain)
	s.ex.Prefetch = true
	s.pool = NewPool(types.LatestSigner(s.config), poolLimit)
	if cfg.Load.GasPerSecond > 0 {
		g := newLoadGen(cfg.Load, cfg.Initial, s.config)
		s.load = newLoadFeeder(s, g)
		s.pool.Watch(g.addrs)
	}
	return s, nil
}

// Start readies the chain: an empty chain gets cfg's genesis, timed at the
// current whole second; a chain that already holds blocks must have been
// made with the same configuration (its genesis hash is checked) and the
// sequencer resumes from its head. Call it once, before Run.
func (s *Sequencer) Start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	head, err := s.chain.Head()
	switch {
	case errors.Is(err, history.ErrEmpty):
		err = s.createGenesis()
	case err != nil:
		err = fmt.Errorf("read head: %w", err)
	default:
		err = s.resumeGenesis(head)
	}
	if err != nil {
		return err
	}
	return s.startAtHead()
}

// createGenesis gives an empty chain cfg's genesis, timed at the current
// whole second, and its initial state. With a prefill it first starts the
// load generator and generates the prefill's load (stopping the generator
// if that fails), before the genesis fixes the block-time grid, so the
// chain starts on time.
func (s *Sequencer) createGenesis() error {
	if s.load != nil && s.cfg.Load.Prefill > 0 {
		if err := s.load.Start(context.Background()); err != nil {
			return err
		}
		if err := s.prefill(context.Background()); err != nil {
			_ = s.load.Stop(context.Background())
			return err
		}
	}
	ms := uint64(s.now().UnixMilli()) / 1000 * 1000
	g, err := Genesis(s.cfg, ms)
	if err != nil {
		return err
	}
	hdr := g.ToBlock().Header()
	baseRoot := hdr.Root
	hdr.Root = common.Hash{}
	start, lastLog := time.Now(), time.Now()
	sealed, err := s.chain.LoadGenesis(context.Background(), newGenesisSource(g, s.cfg.Initial), hdr, func(p history.BulkProgress) {
		if time.Since(lastLog) >= 5*time.Second {
			lastLog = time.Now()
			s.log.Info("Loading the initial state", "accounts", p.Accounts, "slots", p.Slots, "nodes", p.Nodes,
				"written", fmt.Sprintf("%.0f MiB", float64(p.Bytes)/(1<<20)), "elapsed", time.Since(start).Round(time.Second).String())
		}
	})
	if err != nil {
		return fmt.Errorf("load genesis: %w", err)
	}
	if s.cfg.Initial == (InitialState{}) && sealed.Root != baseRoot {
		return fmt.Errorf("genesis root %s differs from go-ethereum's %s", sealed.Root, baseRoot)
	}
	s.log.Info("Created devnet genesis", "hash", sealed.Hash(), "chain_id", s.cfg.ChainID, "time", time.UnixMilli(int64(ms)).UTC(),
		"initial_accounts", s.cfg.Initial.Accounts, "initial_slots", s.cfg.Initial.Slots, "took", time.Since(start).Round(time.Millisecond))
	s.setGenesis(ms, g.Config, sealed)
	return nil
}

// resumeGenesis takes the genesis of a chain that holds blocks up to head,
// checking that cfg makes the same genesis (unless it has an initial
// state, which is not re-derived).
func (s *Sequencer) resumeGenesis(head history.Head) error {
	g, err := s.chain.HeaderByNumber(0)
	if err != nil {
		return fmt.Errorf("read genesis: %w", err)
	}
	ms := g.Time * 1000
	if s.cfg.TimestampPolicy == TimestampMilliseconds {
		ms = g.Time
	}
	want, err := Genesis(s.cfg, ms)
	if err != nil {
		return err
	}
	if s.cfg.Initial != (InitialState{}) {
		s.log.Warn("The genesis has an initial state; not re-deriving it to check it matches the configuration")
	} else if wantHash := want.ToBlock().Hash(); g.Hash() != wantHash {
		return fmt.Errorf("the store holds another chain: its genesis is %s, the sequencer configuration (dev and load accounts, load seed, gas limit, timestamp policy, forks) makes %s", g.Hash(), wantHash)
	}
	s.setGenesis(ms, want.Config, g)
	s.log.Info("Resuming the chain from the stored head", "number", head.Number, "hash", head.Hash)
	return nil
}

// startAtHead makes the chain's head the sequencer's, first reading the
// load accounts' nonces at it unless the load generator is running (it
// started on the new genesis: nonces are zero).
func (s *Sequencer) startAtHead() error {
	hd, err := s.chain.Head()
	if err != nil {
		return err
	}
	h, err := s.chain.HeaderByNumber(hd.Number)
	if err != nil {
		return fmt.Errorf("read head header: %w", err)
	}
	if s.load != nil && !s.load.Running() {
		st, err := s.chain.StateAt(hd.Number)
		if err != nil {
			return fmt.Errorf("open state at head %d: %w", hd.Number, err)
		}
		err = s.load.g.resync(nonceReader(st))
		st.Close()
		if err != nil {
			return fmt.Errorf("read the load accounts' nonces: %w", err)
		}
	}
	s.setHead(h)
	return nil
}

// setGenesis fixes what follows from the genesis: its time, the chain
// configuration (fork times count from it), the executor, the synthetic L1
// and op-node's rollup config.
func (s *Sequencer) setGenesis(ms uint64, config *params.ChainConfig, genesis *types.Header) {
	s.genesis = ms
	s.config = config
	prefetch := s.ex.Prefetch
	s.ex = NewExecutor(config, s.chain)
	s.ex.Prefetch = prefetch
	s.l1 = L1{Genesis: ms / 1000, Every: s.cfg.L1BlockTime, Config: L1ChainConfig()}
	s.rollup = rollupConfig(config, genesis, s.l1)
}

// RollupConfig is op-node's rollup config of the chain (optimism_rollupConfig).
func (s *Sequencer) RollupConfig() *rollup.Config { return s.rollup }

// OnBlock registers f to be called (from the sequencer's goroutine) after
// each block is ingested. Call it before Run.
func (s *Sequencer) OnBlock(f func(BlockInfo)) { s.onBlock = f }

// ChainConfig is the chain's fork configuration.
func (s *Sequencer) ChainConfig() *params.ChainConfig { return s.config }

// BlockMillis is block n's time in Unix milliseconds on the block-time grid.
// Under the seconds policy the header keeps only BlockMillis(n)/1000.
func (s *Sequencer) BlockMillis(n uint64) uint64 {
	return s.genesis + n*uint64(s.cfg.BlockTime/time.Millisecond)
}

// headerTime is the header Time of block n under the timestamp policy.
func (s *Sequencer) headerTime(n uint64) uint64 {
	if s.cfg.TimestampPolicy == TimestampMilliseconds {
		return s.BlockMillis(n)
	}
	return s.BlockMillis(n) / 1000
}

// Head is the newest block header.
func (s *Sequencer) Head() *types.Header { return s.head.Load() }

// setHead makes h the head and wakes whoever waits for it to move.
func (s *Sequencer) setHead(h *types.Header) {
	s.head.Store(h)
	s.headMu.Lock()
	if s.headWait != nil {
		close(s.headWait)
		s.headWait = nil
	}
	s.headMu.Unlock()
}

// headChanged is closed when the head next moves.
func (s *Sequencer) headChanged() <-chan struct{} {
	s.headMu.Lock()
	defer s.headMu.Unlock()
	if s.headWait == nil {
		s.headWait = make(chan struct{})
	}
	return s.headWait
}

// blockDue is block n's slot on the block-time grid.
func (s *Sequencer) blockDue(n uint64) time.Time { return time.UnixMilli(int64(s.BlockMillis(n))) }

// PoolLen is the number of transactions waiting.
func (s *Sequencer) PoolLen() int { return s.pool.Len() }

func (s *Sequencer) withHeadState(f func(history.State) error) error {
	h := s.head.Load()
	st, err := s.chain.StateAt(h.Number.Uint64())
	if err != nil {
		return fmt.Errorf("open state at head %d: %w", h.Number, err)
	}
	defer st.Close()
	return f(st)
}

func nonceReader(st history.State) func(common.Address) (uint64, error) {
	return func(a common.Address) (uint64, error) {
		acc, err := st.Account(crypto.Keccak256Hash(a[:]))
		if err != nil || acc == nil {
			return 0, err
		}
		return acc.Nonce, nil
	}
}

func (s *Sequencer) headEnv(st history.State) HeadEnv {
	h := s.head.Load()
	next := new(big.Int).Add(h.Number, common.Big1)
	return HeadEnv{
		Rules:    s.config.Rules(next, true, s.headerTime(next.Uint64())),
		GasLimit: s.cfg.GasLimit,
		BaseFee:  uint256.MustFromBig(eip1559.CalcBaseFee(s.config, h, s.headerTime(next.Uint64()))),
		Account: func(a common.Address) (uint64, *uint256.Int, error) {
			acc, err := st.Account(crypto.Keccak256Hash(a[:]))
			if err != nil || acc == nil {
				return 0, new(uint256.Int), err
			}
			return acc.Nonce, acc.Balance, nil
		},
	}
}

// SubmitTransaction validates tx against the head and queues it for the
// next blocks (eth_sendRawTransaction).
func (s *Sequencer) SubmitTransaction(tx *types.Transaction) error {
	return s.withHeadState(func(st history.State) error { return s.pool.Add(tx, s.headEnv(st)) })
}

// Run makes blocks until ctx is cancelled (then it returns nil) or a block
// cannot be made or ingested (then it returns the error: a state-root
// mismatch must stop the chain, not be skipped).
func (s *Sequencer) Run(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	if s.load != nil {
		if err := s.load.Start(ctx); err != nil {
			return err
		}
		defer func() { _ = s.load.Stop(context.Background()) }()
		if err := s.prefill(ctx); err != nil {
			return nil
		}
	}
	s.startOnce.Do(func() { close(s.started) })
	lastLog := time.Time{}
	for {
		due := s.blockDue(s.head.Load().Number.Uint64() + 1)
		if wait := due.Sub(s.now()); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return nil
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			return nil
		}
		info, err := s.step(ctx, due)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if info.CatchingUp && time.Since(lastLog) > 5*time.Second {
			lastLog = time.Now()
			behind := s.now().Sub(due)
			s.log.Info("Sequencer catching up with the clock", "number", info.Number, "behind", behind.Round(time.Millisecond).String(),
				"blocks_left", int64(behind/s.cfg.BlockTime))
		}
	}
}

// Stop stops background work: the load generator, if Start started it to
// generate load before the genesis and Run never ran (Run stops it when it
// returns).
func (s *Sequencer) Stop(ctx context.Context) error {
	if s.load != nil {
		return s.load.Stop(ctx)
	}
	return nil
}

// downtime is how far behind its slot a block must be for the sequencer to
// treat the gap as downtime and make it up with empty blocks; a block that
// is merely late still takes the load that arrived for it.
func (s *Sequencer) downtime() time.Duration { return max(5*time.Second, 25*s.cfg.BlockTime) }

// Started is closed once Run has generated its load ahead (Load.Prefill)
// and starts making blocks.
func (s *Sequencer) Started() <-chan struct{} { return s.started }

// prefill waits until the load generator holds Load.Prefill batches ahead
// of the head and (once there is a head) has queued the load of the blocks
// it leads the head by (loadReady), logging progress; the chain's clock then restarts from the wall clock (the
// sequencer catches up empty blocks for the time spent otherwise).
func (s *Sequencer) prefill(ctx context.Context) error {
	want := s.cfg.Load.Prefill
	if want <= 0 {
		return nil
	}
	start, last := time.Now(), time.Now()
	tk := time.NewTicker(10 * time.Millisecond)
	defer tk.Stop()
	for !s.loadReady(want) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tk.C:
		}
		if time.Since(last) >= 5*time.Second {
			last = time.Now()
			s.log.Info("Generating the load ahead", "blocks", s.load.Buffered(), "of", want, "elapsed", time.Since(start).Round(time.Second).String())
		}
	}
	s.log.Info("Load generated ahead", "blocks", want, "took", time.Since(start).Round(time.Millisecond).String())
	return nil
}

// loadReady reports whether the load generator holds want batches ahead of
// the head (generated, or queued in the pool) and has queued those of the
// blocks it feeds ahead, unless the next block is so late it takes no load.
func (s *Sequencer) loadReady(want int) bool {
	ahead := s.load.Buffered()
	h := s.head.Load()
	if h == nil {
		return ahead >= want // before the genesis
	}
	next, fed := h.Number.Uint64()+1, s.loadFed.Load()
	if fed >= next {
		ahead += int(fed - next + 1)
	}
	return ahead >= want && (fed+1 >= next+s.load.lead || s.now().Sub(s.blockDue(next)) > s.downtime())
}

// step makes, ingests and reports the block after the head, due at due. It
// takes the load from the pool, where the load generator's goroutine put it;
// it never calls the generator.
func (s *Sequencer) step(ctx context.Context, due time.Time) (BlockInfo, error) {
	parent := s.head.Load()
	n := parent.Number.Uint64() + 1
	info := BlockInfo{Number: n, Due: due, CatchingUp: s.now().Sub(due) > 2*s.cfg.BlockTime}
	start := time.Now()
	st, err := s.chain.StateAt(parent.Number.Uint64())
	if err != nil {
		return info, fmt.Errorf("open state at %d: %w", parent.Number, err)
	}
	defer st.Close()
	h := s.headerTemplate(parent, n)
	if s.cfg.Load.GasPerSecond > 0 && s.loadFed.Load() < n && s.now().Sub(due) <= s.downtime() {
		info.LoadMissed = true
	}
	deposits, upgrade, err := s.depositsFor(n, h.Time)
	if err != nil {
		return info, err
	}
	txs := deposits
	if !upgrade {
		pending, err := s.pool.Pending(n, s.cfg.GasLimit, nonceReader(st))
		if err != nil {
			return info, err
		}
		txs = append(txs, pending...)
	}
	built, err := s.ex.Build(ctx, st, parent, h, txs)
	if err != nil {
		return info, err
	}
	info.Build = time.Since(start)
	info.Stages = built.Stages
	ingestStart := time.Now()
	if err := s.chain.Ingest(ctx, built.Update); err != nil {
		return info, err // the store's error names the block already
	}
	info.Committed = time.Now()
	info.Ingest = info.Committed.Sub(ingestStart)
	block := built.Block
	s.setHead(block.Header())
	info.Hash, info.Txs, info.GasUsed = block.Hash(), len(block.Transactions()), block.GasUsed()

	// Drop what the block included or found invalid.
	if err := s.withHeadState(func(st history.State) error { return s.pool.Prune(nonceReader(st), built.Dropped) }); err != nil {
		return info, err
	}
	if s.onBlock != nil {
		s.onBlock(info)
	}
	return info, nil
}

func (s *Sequencer) headerTemplate(parent *types.Header, n uint64) *types.Header {
	t := s.headerTime(n)
	beacon := common.Hash{}
	excess := eip4844.CalcExcessBlobGas(s.config, parent, t)
	return &types.Header{
		ParentHash:       parent.Hash(),
		Number:           new(big.Int).SetUint64(n),
		Time:             t,
		GasLimit:         s.cfg.GasLimit,
		Coinbase:         s.cfg.FeeRecipient,
		BaseFee:          eip1559.CalcBaseFee(s.config, parent, t),
		Difficulty:       new(big.Int),
		Extra:            ExtraData(s.config, t),
		MixDigest:        crypto.Keccak256Hash(parent.MixDigest[:], parent.Hash().Bytes()),
		ParentBeaconRoot: &beacon,
		ExcessBlobGas:    &excess,
	}
}
