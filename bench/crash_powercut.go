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
	if err := cfg.withDefaults(); err != nil {
		return nil, err
	}
	start := time.Now()
	rep := newCrashReport("powercut", "ingest")
	defer func() { rep.Took = time.Since(start) }()
	rng := rand.New(rand.NewPCG(cfg.Seed, 0xc0ffee))
	p := &powerCutRun{cfg: cfg, rep: rep, rng: rng, start: start,
		chk: &crashChecker{rep: rep, rng: rng, accounts: 4, random: 2}}
	if cfg.Progress != nil {
		p.prog = NewCountProgress(cfg.Progress, "power cuts", uint64(cfg.Cuts), 5*time.Second)
		defer p.prog.Done()
	}

	p.fs = vfs.NewCrashableMem()
	var err error
	p.s, err = cfg.Open(p.fs, powerCutDir, cfg.Retention)
	if err != nil {
		return nil, fmt.Errorf("power cut: open: %w", err)
	}
	defer func() { _ = p.s.Close() }()
	p.gen = newChainCursor(cfg.Seed)
	defer func() {
		if p.ref != nil {
			_ = p.ref.s.Close()
		}
	}()
	for rep.Kills < cfg.Cuts {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		if err := p.cut(ctx); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// withDefaults checks cfg and fills in its defaults.
func (cfg *PowerCutConfig) withDefaults() error {
	if cfg.Cuts <= 0 || cfg.MaxBlocks <= 0 || cfg.Open == nil {
		return fmt.Errorf("power cut: cuts (%d) and max blocks (%d) must be positive and Open set", cfg.Cuts, cfg.MaxBlocks)
	}
	if err := cfg.Retention.Validate(); err != nil {
		return fmt.Errorf("power cut: %w", err)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxChain == 0 {
		cfg.MaxChain = 256
	}
	return nil
}

// powerCutRun is a PowerCut's state between cuts: the disk and the store
// on it, the chain being ingested, the reference store the reopened ones
// are compared with, and the last block the writer reported before the
// cut (the reopened store must hold it).
type powerCutRun struct {
	cfg   PowerCutConfig
	rep   *CrashReport
	rng   *rand.Rand
	chk   *crashChecker
	prog  *CountProgress
	start time.Time

	fs          *vfs.MemFS
	s           CrashStore
	gen         *chainCursor
	ref         *crashReference
	reported    uint64
	anyReported bool
}

// cut lets a writer ingest a few blocks, cuts the power while it works,
// reopens the store from what the cut left and checks it. A store that
// does not reopen, or that holds MaxChain blocks, starts over on a fresh
// disk.
func (p *powerCutRun) cut(ctx context.Context) error {
	phase, clone := p.cutWhileWriting(ctx)
	p.rep.Kills++
	p.rep.ByPhase[phase]++

	t0 := time.Now()
	var err error
	p.s, err = p.cfg.Open(clone, powerCutDir, p.cfg.Retention)
	if err != nil {
		p.rep.ReopenFailures++
		p.rep.problem("cut %d: reopen: %v", p.rep.Kills, err)
		// Start over on a fresh disk: nothing else can be checked.
		return p.startOver()
	}
	p.rep.ReopenTimes = append(p.rep.ReopenTimes, time.Since(t0))
	p.fs = clone
	held, err := p.check(ctx)
	if err != nil {
		return err
	}
	p.progress(held)
	p.cfg.Log.Debug("Power cut", "cut", p.rep.Kills, "phase", phase, "reported", p.reported, "held", held)
	if held >= p.cfg.MaxChain {
		_ = p.s.Close()
		return p.startOver()
	}
	return nil
}

// cutWhileWriting runs a writer that ingests up to MaxBlocks blocks,
// migrating after each, and cuts the power after a random number of them,
// while it works on the next. It returns what the writer was doing then
// and the disk as the cut left it; the store is closed (the process died).
func (p *powerCutRun) cutWhileWriting(ctx context.Context) (phase string, clone *vfs.MemFS) {
	n := 1 + p.rng.IntN(p.cfg.MaxBlocks)
	cutAfter := p.rng.IntN(n + 1)
	w := startPowerCutWriter(ctx, p.s, p.gen, n, p.rng.Uint64())
	phase = w.waitFor(cutAfter)
	if r, ok := w.lastReported(); ok {
		p.reported, p.anyReported = r, true
	}
	// What a power cut now leaves: the synced data, and sometimes part
	// of the rest (Pebble must cope with a torn tail either way).
	ccfg := vfs.CrashCloneCfg{}
	if p.rng.IntN(2) == 0 {
		ccfg = vfs.CrashCloneCfg{UnsyncedDataPercent: 1 + p.rng.IntN(99), RNG: rand.New(rand.NewPCG(p.rng.Uint64(), 2))}
	}
	clone = p.fs.CrashClone(ccfg)
	if err := w.stop(); err != nil {
		// The cut does not touch the running store: this is a real failure.
		p.rep.Inconsistencies++
		p.rep.problem("cut %d: before the cut: %v", p.rep.Kills+1, err)
	}
	_ = p.s.Close() // the process died here; its store is gone
	return phase, clone
}

// check checks the reopened store against what the writer reported and
// against the reference, and returns the number of blocks it holds. The
// lost blocks (if any) are made again; the reference starts over when it
// is past the head.
func (p *powerCutRun) check(ctx context.Context) (held uint64, err error) {
	held, err = p.chk.check(p.s, p.reported, p.anyReported)
	if err != nil {
		return 0, fmt.Errorf("power cut %d: %w", p.rep.Kills, err)
	}
	p.reported, p.anyReported = held-min(held, 1), held > 0
	if err := p.gen.seek(held); err != nil {
		return 0, err
	}
	if p.ref != nil && p.ref.next > held {
		p.ref = closeRef(p.ref)
	}
	if p.ref == nil {
		rs, err := p.cfg.Open(vfs.NewMem(), powerCutDir, p.cfg.Retention)
		if err != nil {
			return 0, fmt.Errorf("power cut: open the reference: %w", err)
		}
		p.ref = &crashReference{s: rs, source: newChainCursor(p.cfg.Seed).at}
	}
	if err := p.ref.compare(ctx, p.s, p.rep); err != nil {
		return 0, fmt.Errorf("power cut %d: %w", p.rep.Kills, err)
	}
	return held, nil
}

// progress reports the cuts so far, if asked to.
func (p *powerCutRun) progress(held uint64) {
	if p.prog == nil {
		return
	}
	rep := p.rep
	p.prog.Update(uint64(rep.Kills), float64(rep.Kills)/time.Since(p.start).Seconds(),
		fmt.Sprintf("blocks %d, lost %d, failures %d", held, rep.LostBlocks, rep.Inconsistencies+rep.ProofFailures+rep.DigestMismatches+rep.ReopenFailures))
}

// startOver starts the run over on a fresh disk with a fresh store (the
// old one is closed or was never opened), the chain from its start and no
// reference.
func (p *powerCutRun) startOver() error {
	p.fs, p.gen, p.ref, p.reported, p.anyReported = vfs.NewCrashableMem(), newChainCursor(p.cfg.Seed), closeRef(p.ref), 0, false
	p.chk.checked = 0
	var err error
	if p.s, err = p.cfg.Open(p.fs, powerCutDir, p.cfg.Retention); err != nil {
		return fmt.Errorf("power cut: open a fresh store: %w", err)
	}
	return nil
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
