package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/history/historytest"
)

// PowerCutConfig is an in-process power-cut run: a store on a crashable
// in-memory file system ingests a deterministic chain and migrates its
// tiers; at a random moment the file system is cloned as a power cut would
// leave it (only what was synced, and maybe some of the rest), and the
// clone is reopened and checked.
type PowerCutConfig struct {
	Cuts      int    // power cuts
	Seed      uint64 // the chain and every random choice
	MaxBlocks int    // blocks ingested between two cuts at most
	// MaxChain starts the run over on a fresh disk once the store holds
	// this many blocks (0: 256), which bounds the cost of the generated
	// chain (its model state grows with every block).
	MaxChain  uint64
	Retention history.Retention // tiny spans: migration runs every few blocks
	// Open opens the store in dir on fs with retention r (disabled: keep
	// everything). Required.
	Open     func(fs vfs.FS, dir string, r history.Retention) (CrashStore, error)
	Progress io.Writer // progress per cut (nil: none)
	Log      *slog.Logger
}

// PowerCutRetention is the default power-cut retention: a checkpoint every
// 4 blocks, 8 recent blocks, a 32-block window, and the seed chain's first
// two accounts pinned, so thinning and pruning run every few blocks.
func PowerCutRetention(seed uint64) history.Retention {
	g := historytest.NewChain(seed)
	g.Next()
	return history.Retention{Recent: 8, Window: 32, Checkpoint: 4, Pinned: g.Keys[:2]}
}

// powerCutDir is the store's directory on the in-memory file system.
const powerCutDir = "db"

// PowerCut runs cfg.Cuts power cuts and reports what the reopened stores
// held. The error is for a run that could not go on; checks that failed are
// in the report (CrashReport.Err).
func PowerCut(ctx context.Context, cfg PowerCutConfig) (*CrashReport, error) {
	if cfg.Cuts <= 0 || cfg.MaxBlocks <= 0 || cfg.Open == nil {
		return nil, fmt.Errorf("power cut: cuts (%d) and max blocks (%d) must be positive and Open set", cfg.Cuts, cfg.MaxBlocks)
	}
	if err := cfg.Retention.Validate(); err != nil {
		return nil, fmt.Errorf("power cut: %w", err)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxChain == 0 {
		cfg.MaxChain = 256
	}
	start := time.Now()
	rep := newCrashReport("powercut", "ingest")
	defer func() { rep.Took = time.Since(start) }()
	rng := rand.New(rand.NewPCG(cfg.Seed, 0xc0ffee))
	chk := &crashChecker{rep: rep, rng: rng, accounts: 4, random: 2}
	var prog *CountProgress
	if cfg.Progress != nil {
		prog = NewCountProgress(cfg.Progress, "power cuts", uint64(cfg.Cuts), 5*time.Second)
		defer prog.Done()
	}

	fs := vfs.NewCrashableMem()
	s, err := cfg.Open(fs, powerCutDir, cfg.Retention)
	if err != nil {
		return nil, fmt.Errorf("power cut: open: %w", err)
	}
	defer func() { _ = s.Close() }()
	gen := newChainCursor(cfg.Seed)
	var ref *crashReference
	defer func() {
		if ref != nil {
			_ = ref.s.Close()
		}
	}()
	reported, anyReported := uint64(0), false
	for rep.Kills < cfg.Cuts {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		// The writer ingests up to n blocks, migrating after each; the cut
		// comes after a random number of them, while it works on the next.
		n := 1 + rng.IntN(cfg.MaxBlocks)
		cutAfter := rng.IntN(n + 1)
		w := startPowerCutWriter(ctx, s, gen, n, rng.Uint64())
		phase := w.waitFor(cutAfter)
		if r, ok := w.lastReported(); ok {
			reported, anyReported = r, true
		}
		// What a power cut now leaves: the synced data, and sometimes part
		// of the rest (Pebble must cope with a torn tail either way).
		ccfg := vfs.CrashCloneCfg{}
		if rng.IntN(2) == 0 {
			ccfg = vfs.CrashCloneCfg{UnsyncedDataPercent: 1 + rng.IntN(99), RNG: rand.New(rand.NewPCG(rng.Uint64(), 2))}
		}
		clone := fs.CrashClone(ccfg)
		if err := w.stop(); err != nil {
			// The cut does not touch the running store: this is a real failure.
			rep.Inconsistencies++
			rep.problem("cut %d: before the cut: %v", rep.Kills+1, err)
		}
		_ = s.Close() // the process died here; its store is gone
		rep.Kills++
		rep.ByPhase[phase]++

		t0 := time.Now()
		s, err = cfg.Open(clone, powerCutDir, cfg.Retention)
		if err != nil {
			rep.ReopenFailures++
			rep.problem("cut %d: reopen: %v", rep.Kills, err)
			// Start over on a fresh disk: nothing else can be checked.
			fs, gen, ref, reported, anyReported = vfs.NewCrashableMem(), newChainCursor(cfg.Seed), closeRef(ref), 0, false
			chk.checked = 0
			if s, err = cfg.Open(fs, powerCutDir, cfg.Retention); err != nil {
				return rep, fmt.Errorf("power cut: open a fresh store: %w", err)
			}
			continue
		}
		rep.ReopenTimes = append(rep.ReopenTimes, time.Since(t0))
		fs = clone
		held, err := chk.check(s, reported, anyReported)
		if err != nil {
			return rep, fmt.Errorf("power cut %d: %w", rep.Kills, err)
		}
		// The lost blocks (if any) are made again; the reference starts
		// over when it is past the head.
		reported, anyReported = held-min(held, 1), held > 0
		if err := gen.seek(held); err != nil {
			return rep, err
		}
		if ref != nil && ref.next > held {
			ref = closeRef(ref)
		}
		if ref == nil {
			rs, err := cfg.Open(vfs.NewMem(), powerCutDir, cfg.Retention)
			if err != nil {
				return rep, fmt.Errorf("power cut: open the reference: %w", err)
			}
			ref = &crashReference{s: rs, source: newChainCursor(cfg.Seed).at}
		}
		if err := ref.compare(ctx, s, rep); err != nil {
			return rep, fmt.Errorf("power cut %d: %w", rep.Kills, err)
		}
		if prog != nil {
			prog.Update(uint64(rep.Kills), float64(rep.Kills)/time.Since(start).Seconds(),
				fmt.Sprintf("blocks %d, lost %d, failures %d", held, rep.LostBlocks, rep.Inconsistencies+rep.ProofFailures+rep.DigestMismatches+rep.ReopenFailures))
		}
		cfg.Log.Debug("Power cut", "cut", rep.Kills, "phase", phase, "reported", reported, "held", held)
		if held >= cfg.MaxChain {
			_ = s.Close()
			fs, gen, ref, reported, anyReported = vfs.NewCrashableMem(), newChainCursor(cfg.Seed), closeRef(ref), 0, false
			chk.checked = 0
			if s, err = cfg.Open(fs, powerCutDir, cfg.Retention); err != nil {
				return rep, fmt.Errorf("power cut: open a fresh store: %w", err)
			}
		}
	}
	return rep, nil
}

func closeRef(ref *crashReference) *crashReference {
	if ref != nil {
		_ = ref.s.Close()
	}
	return nil
}

// chainCursor hands out a deterministic chain's blocks in order, making it
// again from the start to go back.
type chainCursor struct {
	seed uint64
	g    *historytest.Chain
	next uint64 // the number of the block Next returns
}

func newChainCursor(seed uint64) *chainCursor {
	return &chainCursor{seed: seed, g: historytest.NewChain(seed)}
}

// seek makes n the next block handed out.
func (c *chainCursor) seek(n uint64) error {
	if n < c.next {
		c.g, c.next = historytest.NewChain(c.seed), 0
	}
	for c.next < n {
		c.g.Next()
		c.next++
	}
	return nil
}

// Next returns the next block's update.
func (c *chainCursor) Next() *history.BlockUpdate {
	c.next++
	return c.g.Next()
}

// at returns block n's update; n must not be below the next block.
func (c *chainCursor) at(n uint64) (*history.BlockUpdate, error) {
	if n < c.next {
		return nil, fmt.Errorf("block %d was handed out already (next %d)", n, c.next)
	}
	if err := c.seek(n); err != nil {
		return nil, err
	}
	return c.Next(), nil
}

// powerCutWriter ingests blocks into a store and migrates its tiers after
// each, counting the blocks Ingest returned for (reported).
type powerCutWriter struct {
	cancel   context.CancelFunc
	done     chan struct{}
	mu       sync.Mutex
	cond     *sync.Cond
	ingested int    // blocks reported so far
	last     uint64 // the last reported block
	phase    atomic.Value
	finished bool
	err      error // why the writer stopped early; valid after done
}

func startPowerCutWriter(ctx context.Context, s CrashStore, gen *chainCursor, n int, seed uint64) *powerCutWriter {
	ctx, cancel := context.WithCancel(ctx)
	w := &powerCutWriter{cancel: cancel, done: make(chan struct{})}
	w.cond = sync.NewCond(&w.mu)
	w.phase.Store("ingest")
	rng := rand.New(rand.NewPCG(seed, 1))
	go func() {
		defer close(w.done)
		defer func() {
			w.mu.Lock()
			w.finished = true
			w.cond.Broadcast()
			w.mu.Unlock()
		}()
		for range n {
			if ctx.Err() != nil {
				return
			}
			w.phase.Store("ingest")
			num := gen.next
			if err := s.Ingest(ctx, gen.Next()); err != nil {
				if ctx.Err() == nil {
					w.err = fmt.Errorf("ingest block %d: %w", num, err)
				}
				return
			}
			w.mu.Lock()
			w.ingested++
			w.last = num
			w.cond.Broadcast()
			w.mu.Unlock()
			w.phase.Store("migration")
			if _, err := s.Migrate(ctx, 1+rng.IntN(4*MigrateBudgetUnit)); err != nil && ctx.Err() == nil {
				w.err = fmt.Errorf("migrate after block %d: %w", num, err)
				return
			}
		}
	}()
	return w
}

// MigrateBudgetUnit is the migration budget (changeset entries) the power
// cut's writer draws its steps' budgets around, so a cut lands in the
// middle of a task as often as between two.
const MigrateBudgetUnit = 64

// waitFor waits until k blocks are reported (or the writer ended) and
// returns what the writer was doing then.
func (w *powerCutWriter) waitFor(k int) string {
	w.mu.Lock()
	for w.ingested < k && !w.finished {
		w.cond.Wait()
	}
	finished := w.finished
	w.mu.Unlock()
	if finished {
		return "idle"
	}
	return w.phase.Load().(string)
}

// lastReported is the last block reported, false if none was.
func (w *powerCutWriter) lastReported() (uint64, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last, w.ingested > 0
}

// stop ends the writer and waits for it; the error is why it stopped
// early, nil if it did not.
func (w *powerCutWriter) stop() error {
	w.cancel()
	<-w.done
	return w.err
}
