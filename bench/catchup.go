package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/strata-chain/strata/api/slo"
	"github.com/strata-chain/strata/catchup"
	"github.com/strata-chain/strata/follower"
)

// CatchupConfig is `strata bench catchup`: a follower of an in-process
// chain is stopped for an outage while the chain goes on, then restarted.
type CatchupConfig struct {
	Profile     string // load profile file
	Overrides   Overrides
	BlockTime   time.Duration
	Outage      time.Duration // chain time the follower is down
	Warmup      time.Duration // chain time followed live before the outage
	MaxRecovery time.Duration // give up when not recovered after this long
	ChainLive   bool          // keep the chain producing during recovery
	Contract    string        // shipping contract file
	Catchup     catchup.Config
	// DataDir keeps the chain's (DataDir/chain) and the follower's
	// (DataDir/follower) stores; it must be empty. Empty: a temporary
	// directory, removed at the end.
	DataDir  string
	Command  string    // the command line, for the report
	Progress io.Writer // where progress shows
	Log      *slog.Logger
}

// MeasureRecovery runs the outage and measures the follower's catch-up:
// its replay speed, and the time until its lag is back inside the
// contract's SLOs and until it would be ready again.
func MeasureRecovery(ctx context.Context, cfg CatchupConfig, w Wiring) (*Recovery, error) {
	prof, contract, err := LoadProfileAndContract(cfg.Profile, cfg.Overrides, cfg.Contract)
	if err != nil {
		return nil, err
	}
	contract = contract.Scaled(cfg.BlockTime)
	dir, cleanup, err := recoveryDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	seq, err := sequencerFor(prof, cfg.BlockTime, 0)
	if err != nil {
		return nil, err
	}
	cfg.Log.Info("Bench catch-up", "profile", prof.Name, "block_time", cfg.BlockTime, "gas_per_second", prof.GasPerSecond, "outage", cfg.Outage,
		"initial_accounts", prof.Initial.Accounts, "initial_slots", prof.Initial.Slots)
	r := &outageRun{cfg: cfg, contract: contract}
	if r.node, err = w.NewNode(ctx, NodeConfig{DataDir: dir + "/chain", Sequencer: seq, Stream: true, Log: cfg.Log.With("module", "chain")}); err != nil {
		return nil, err
	}
	defer r.node.Close()
	chainCtx, stopChain := context.WithCancel(ctx)
	defer stopChain()
	if err := r.startChain(chainCtx); err != nil {
		return nil, err
	}
	if err := r.startFollower(ctx, w, dir+"/follower"); err != nil {
		return nil, err
	}
	defer r.store.Close()
	defer r.f.Stop()
	rec := &Recovery{Profile: prof.Name, BlockTime: cfg.BlockTime, GasPerSecond: prof.GasPerSecond, InitialAccounts: prof.Initial.Accounts,
		InitialSlots: prof.Initial.Slots, Outage: cfg.Outage, ChainLive: cfg.ChainLive,
		MinSpeed: contract.MinCatchupSpeed, Machine: ThisMachine(), Command: cfg.Command}
	from, err := r.warmupAndOutage(ctx, rec, stopChain)
	if err != nil {
		return nil, err
	}
	if err := r.recover(ctx, rec, from); err != nil {
		return nil, err
	}
	r.summarizeBatches(rec)
	cfg.Log.Info("Recovered", "catchup_blocks", rec.CatchupBlocks, "speed", fmt.Sprintf("%.1fx", rec.Speed), "time_to_slo", rec.TimeToSLO.Round(time.Millisecond).String(),
		"time_to_ready", rec.TimeToReady.Round(time.Millisecond).String())
	return rec, nil
}

// recoveryDir returns the directory the stores go in and what removes it:
// datadir, which must be empty (kept), or a new temporary one (removed).
func recoveryDir(datadir string) (string, func(), error) {
	if datadir != "" {
		if entries, _ := os.ReadDir(datadir); len(entries) > 0 {
			return "", nil, fmt.Errorf("--datadir %s is not empty", datadir)
		}
		return datadir, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "strata-bench-catchup-")
	if err != nil {
		return "", nil, fmt.Errorf("store directory: %w", err)
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

// outageRun is a `strata bench catchup` in progress.
type outageRun struct {
	cfg      CatchupConfig
	contract *Contract
	node     Node
	chainErr chan error // the chain's Run result
	store    Store      // the follower's
	f        *follower.Follower
	fcfg     follower.Config
	mon      *slo.Monitor

	mu         sync.Mutex
	recovering bool            // the follower was restarted after the outage
	batches    []catchup.Batch // batches after the restart
}

// startChain runs the chain until ctx ends and waits for its first block.
func (r *outageRun) startChain(ctx context.Context) error {
	r.chainErr = make(chan error, 1)
	go func() { r.chainErr <- r.node.Run(ctx) }()
	select {
	case <-r.node.Started():
		return nil
	case err := <-r.chainErr:
		return fmt.Errorf("chain: %w", err)
	}
}

// startFollower opens the follower's store in dir and starts a follower of
// the chain's block stream whose blocks and batches feed an SLO monitor
// with the contract's objectives. It does not follow yet: see follow.
func (r *outageRun) startFollower(ctx context.Context, w Wiring, dir string) error {
	st, err := w.OpenStore(dir, r.cfg.Log.With("module", "follower-history"))
	if err != nil {
		return fmt.Errorf("open the follower's store: %w", err)
	}
	r.fcfg = follower.DefaultConfig()
	r.fcfg.URL, r.fcfg.ChainConfig, r.fcfg.Catchup = r.node.StreamURL(), r.node.ChainConfig(), r.cfg.Catchup
	f, err := follower.New(r.fcfg, st, r.cfg.Log.With("module", "follower"))
	if err == nil {
		err = f.Start(ctx)
	}
	if err != nil {
		st.Close()
		return fmt.Errorf("start the follower: %w", err)
	}
	r.store, r.f = st, f
	c := r.contract
	r.mon = slo.New(slo.Objectives{MaxLagBlocks: uint64(c.MaxLagBlocks), MaxLag: c.MaxLag, IngestP99: c.IngestP99,
		Window: time.Minute, HoldDown: c.SLOHoldDown}, time.Now)
	f.OnUpstreamHead(func(num uint64, at time.Time) { r.mon.Upstream(num, at) })
	f.OnBlock(func(info follower.BlockInfo) { r.mon.Committed(info.Number, info.Ingest) })
	f.OnBatch(func(b catchup.Batch) {
		r.mon.Committed(b.To, 0)
		r.mu.Lock()
		if r.recovering {
			r.batches = append(r.batches, b)
		}
		r.mu.Unlock()
	})
	return nil
}

// follow runs the follower until the returned stop, which waits for it.
func (r *outageRun) follow(ctx context.Context) (stop func()) {
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.f.Run(fctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			r.cfg.Log.Error("Follower stopped with an error", "err", err)
		}
	}
}

// followerHead is the follower's newest block, 0 before it has one.
func (r *outageRun) followerHead() uint64 {
	h, _ := r.store.Head()
	return h.Number
}

// warmupAndOutage follows live until the chain holds the warmup and the
// follower is live and close, stops the follower for the outage's blocks
// (stopping the chain too unless ChainLive), and returns the follower's
// head at the outage. It fills the outage's figures of rec.
func (r *outageRun) warmupAndOutage(ctx context.Context, rec *Recovery, stopChain func()) (uint64, error) {
	stop := r.follow(ctx)
	warm := uint64(r.cfg.Warmup / r.cfg.BlockTime)
	if err := r.waitChain(ctx, func() bool {
		h, err := r.store.Head()
		ch := r.node.Head()
		return err == nil && ch >= warm && h.Number+r.fcfg.CatchupThreshold/2 >= ch && r.f.Mode() == follower.ModeLive
	}); err != nil {
		stop()
		return 0, err
	}
	stop()
	h, err := r.store.Head()
	if err != nil {
		return 0, fmt.Errorf("the follower's head: %w", err)
	}
	blocks := uint64(r.cfg.Outage / r.cfg.BlockTime)
	r.cfg.Log.Info("Outage: the follower is down", "follower_head", h.Number, "chain_head", r.node.Head(), "blocks", blocks)
	start := time.Now()
	p := NewCountProgress(r.cfg.Progress, "outage", blocks, 5*time.Second)
	target := r.node.Head() + blocks
	if err := r.waitChain(ctx, func() bool {
		ch := r.node.Head()
		p.Update(ch+blocks-target, 0, fmt.Sprintf("chain head %d", ch))
		return ch >= target
	}); err != nil {
		return 0, err
	}
	p.Done()
	rec.OutageWall = time.Since(start)
	if !r.cfg.ChainLive {
		stopChain()
		<-r.chainErr
	}
	rec.Backlog = r.node.Head() - h.Number
	r.cfg.Log.Info("Restarting the follower", "backlog", rec.Backlog, "outage_wall", rec.OutageWall.Round(time.Second).String())
	return h.Number, nil
}

// waitChain polls cond every 50 ms until it holds, the chain stops, or ctx
// ends.
func (r *outageRun) waitChain(ctx context.Context, cond func() bool) error {
	tk := time.NewTicker(50 * time.Millisecond)
	defer tk.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-r.chainErr:
			return fmt.Errorf("the chain stopped: %v", err)
		case <-tk.C:
		}
	}
	return nil
}

// recover restarts the follower, whose head was from, and samples it every
// 100 ms until it has recovered (see recovered), MaxRecovery passes, or
// ctx ends.
func (r *outageRun) recover(ctx context.Context, rec *Recovery, from uint64) error {
	rec.Time = time.Now()
	restart := time.Now()
	r.mu.Lock()
	r.recovering = true
	r.mu.Unlock()
	r.mon.Upstream(r.node.Head(), restart) // the follower's first poll would tell it the same
	stop := r.follow(ctx)
	defer stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	p := NewCountProgress(r.cfg.Progress, "recovery", rec.Backlog, 5*time.Second)
	defer p.Done()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		fh, ch, now := r.followerHead(), r.node.Head(), time.Since(restart)
		rec.Samples = append(rec.Samples, RecoverySample{At: now, Head: fh, ChainHead: ch, Mode: string(r.f.Mode())})
		caught := fh - from
		p.Update(caught, float64(caught)/now.Seconds(), fmt.Sprintf("behind %d mode %s", ch-min(ch, fh), r.f.Mode()))
		if r.recovered(rec, now, fh > from, fh >= ch) {
			return nil
		}
		if now > r.cfg.MaxRecovery {
			return fmt.Errorf("not recovered after %s (head %d, chain %d)", r.cfg.MaxRecovery, fh, ch)
		}
	}
}

// recovered judges the SLO monitor now (since the restart), given whether
// the follower's head moved past the outage and is level with the chain:
// it sets TimeToSLO the first time the lag objectives hold with the head
// moved, and reports the end when the node would be ready, when a stopped
// chain has been caught up (level), or when a minute past the hold-down
// after the lag was back it is still unready (NotReady says why).
func (r *outageRun) recovered(rec *Recovery, now time.Duration, moved, level bool) bool {
	st := r.mon.Status()
	ready := st.Ready()
	inside := moved
	for _, obj := range st.Objectives {
		if (obj.Name == slo.LagBlocks || obj.Name == slo.LagMs) && obj.Value > obj.Target {
			inside = false
		}
	}
	if inside && rec.TimeToSLO == 0 {
		rec.TimeToSLO = now
	}
	switch {
	case !r.cfg.ChainLive && level:
		// Nothing more arrives, so the lag objectives cannot recover on
		// their own: caught up is the end.
		rec.TimeToSLO, rec.TimeToReady = now, now
		return true
	case inside && ready == nil:
		rec.TimeToReady = now
		return true
	case rec.TimeToSLO > 0 && now > rec.TimeToSLO+r.contract.SLOHoldDown+time.Minute:
		// Caught up, but an SLO stays out (say ingest p99): report it
		// rather than wait for it.
		rec.NotReady = "the follower's head is not past the outage"
		if ready != nil {
			rec.NotReady = ready.Error()
		}
		return true
	}
	return false
}

// summarizeBatches fills rec's catch-up figures from the batches replayed
// after the restart.
func (r *outageRun) summarizeBatches(rec *Recovery) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range r.batches {
		rec.CatchupBlocks += b.To - b.From + 1
		rec.Replay += b.Prepare
		rec.Commit += b.Commit
		rec.Wait += b.Wait
	}
	rec.CatchupTime = catchup.WallTime(r.batches)
	if rec.CatchupTime > 0 {
		rec.BlocksPerSecond = float64(rec.CatchupBlocks) / rec.CatchupTime.Seconds()
		rec.Speed = rec.BlocksPerSecond * r.cfg.BlockTime.Seconds()
	}
}
