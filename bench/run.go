package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/strata-chain/strata/sequencer"
)

// RunConfig is `strata bench run`: a load profile on an in-process full
// stack, once per block time at the same gas per second.
type RunConfig struct {
	Profile    string // load profile file
	Overrides  Overrides
	BlockTimes []time.Duration
	Warmup     time.Duration // chain time before measuring
	Duration   time.Duration // measured window per block time
	Clients    []int         // closed-loop eth_getProof client counts, one after the other
	Rate       float64       // constant-arrival eth_getProof rate; 0 skips the open loop
	Contract   string        // shipping contract file
	Follower   bool          // also follow the chain's block stream and measure the follower
	Version    string        // of the binary, for the report
	Command    string        // the command line, for the report
	Progress   io.Writer     // where progress shows
	Log        *slog.Logger
}

// segments is the number of proof loads the measured window is split into.
func (c RunConfig) segments() int {
	if c.Rate > 0 {
		return len(c.Clients) + 1
	}
	return len(c.Clients)
}

// RunProfile runs the profile at each block time on a fresh node and store
// and judges every run against the contract.
func RunProfile(ctx context.Context, cfg RunConfig, w Wiring) (*Report, error) {
	prof, contract, err := LoadProfileAndContract(cfg.Profile, cfg.Overrides, cfg.Contract)
	if err != nil {
		return nil, err
	}
	rep := &Report{Name: prof.Name, Date: time.Now().UTC(), Version: cfg.Version, Machine: ThisMachine(), Command: cfg.Command}
	for _, bt := range cfg.BlockTimes {
		cfg.Log.Info("Bench run", "profile", prof.Name, "block_time", bt, "gas_per_second", prof.GasPerSecond,
			"initial_accounts", prof.Initial.Accounts, "initial_slots", prof.Initial.Slots)
		run, err := runOne(ctx, cfg, w, prof, bt)
		if err != nil {
			return nil, fmt.Errorf("%s at %s: %w", prof.Name, bt, err)
		}
		run.Verdicts = contract.Judge(run)
		rep.Runs = append(rep.Runs, run)
	}
	return rep, nil
}

// sequencerFor configures a sequencer for the profile at blockTime with
// prefill blocks of load generated and signed before the clock starts, so
// a run measures the chain rather than the generator (0 keeps the
// sequencer's default).
func sequencerFor(prof *Profile, blockTime time.Duration, prefill int) (sequencer.Config, error) {
	cfg := sequencer.DefaultConfig()
	cfg.BlockTime = blockTime
	if err := prof.Apply(&cfg, blockTime); err != nil {
		return cfg, err
	}
	if prefill > 0 {
		cfg.Load.Prefill = prefill
	}
	return cfg, nil
}

// runOne runs the profile at one block time on a fresh node whose store
// lives in a temporary directory, removed at the end.
func runOne(ctx context.Context, cfg RunConfig, w Wiring, prof *Profile, blockTime time.Duration) (*Run, error) {
	dir, err := os.MkdirTemp("", "strata-bench-")
	if err != nil {
		return nil, fmt.Errorf("store directory: %w", err)
	}
	defer os.RemoveAll(dir)
	seq, err := sequencerFor(prof, blockTime, int((cfg.Warmup+cfg.Duration)/blockTime)+10)
	if err != nil {
		return nil, err
	}
	label := fmt.Sprintf("%s@%s", prof.Name, blockTime)
	rss := newRSSSampler()
	defer rss.stop()
	setupStart := time.Now()
	n, err := w.NewNode(ctx, NodeConfig{DataDir: dir, Sequencer: seq, Stream: cfg.Follower, Log: cfg.Log.With("run", label)})
	if err != nil {
		return nil, err
	}
	defer n.Close()
	r := &profileRun{cfg: cfg, node: n, seq: seq, run: &Run{
		Profile: prof.Name, BlockTime: blockTime, GasPerSecondTarget: prof.GasPerSecond,
		InitialAccounts: prof.Initial.Accounts, InitialSlots: prof.Initial.Slots, Setup: time.Since(setupStart),
	}}
	n.OnBlock(r.window.record)
	runCtx, stopChain := context.WithCancel(ctx)
	defer stopChain()
	if cfg.Follower { // before the chain runs: it registers a block hook
		if r.fol, err = startLiveFollower(runCtx, w, n, cfg.Log); err != nil {
			return nil, err
		}
		defer r.fol.close()
	}
	r.chainErr = make(chan error, 1)
	go func() { r.chainErr <- n.Run(runCtx) }()
	if err := r.warmup(ctx, label); err != nil {
		return nil, err
	}
	defer r.progress.Done()
	if err := r.measure(ctx); err != nil {
		return nil, err
	}
	return r.finish(stopChain, rss)
}

// profileRun is one block time of a bench run in progress.
type profileRun struct {
	cfg      RunConfig
	node     Node
	seq      sequencer.Config
	fol      *liveFollower // nil without RunConfig.Follower
	chainErr chan error    // the chain's Run result
	progress *Progress
	began    time.Time // the warmup's start
	start    time.Time // the measured window's start
	window   blockWindow
	run      *Run
}

// warmup waits for the chain to start (it generates the whole load first)
// and then for the warmup's chain time.
func (r *profileRun) warmup(ctx context.Context, label string) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case err := <-r.chainErr:
		return fmt.Errorf("chain stopped while generating the load: %w", err)
	case <-r.node.Started():
	}
	r.progress = NewProgress(r.cfg.Progress, label, r.cfg.Warmup+r.cfg.Duration)
	r.began = time.Now()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for time.Since(r.began) < r.cfg.Warmup {
		select {
		case <-ctx.Done():
			r.progress.Done()
			return ctx.Err()
		case err := <-r.chainErr:
			r.progress.Done()
			return fmt.Errorf("chain stopped during warmup: %w", err)
		case <-tick.C:
			r.progress.Update(time.Since(r.began), fmt.Sprintf("warmup head=%d", r.node.Head()))
		}
	}
	return nil
}

// measure opens the window and runs the proof loads one after the other
// while it samples the store's size every second.
func (r *profileRun) measure(ctx context.Context) error {
	r.start = r.window.begin()
	loads := make(chan proofLoadOut, 1)
	go r.proofLoads(ctx, loads)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	diskTick := time.NewTicker(time.Second)
	defer diskTick.Stop()
	for {
		select {
		case lo, ok := <-loads:
			if !ok {
				return nil
			}
			if lo.err != nil {
				return lo.err
			}
			r.run.Proofs = append(r.run.Proofs, *lo.res)
		case err := <-r.chainErr:
			return fmt.Errorf("chain stopped during the measurement: %w", err)
		case <-diskTick.C:
			r.run.Disk = append(r.run.Disk, DiskSample{At: time.Since(r.start), Head: r.node.Head(), Bytes: r.node.DiskUsage()})
		case <-tick.C:
			r.progress.Update(time.Since(r.began), fmt.Sprintf("measuring head=%d proofs runs=%d/%d", r.node.Head(), len(r.run.Proofs), r.cfg.segments()))
		}
	}
}

type proofLoadOut struct {
	res *ProofLoadResult
	err error
}

// proofLoads runs each closed-loop client count and then the open loop,
// each for an equal share of the window, sending each result to out; it
// stops after the first error and closes out when done.
func (r *profileRun) proofLoads(ctx context.Context, out chan<- proofLoadOut) {
	seg := r.cfg.Duration / time.Duration(r.cfg.segments())
	load := ProofLoadConfig{URL: r.node.RPCURL(), Duration: seg, Addresses: ProofAddresses(r.seq),
		Slots: []common.Hash{common.BigToHash(common.Big1), common.BigToHash(common.Big2)}, MinBlock: 1}
	for _, c := range r.cfg.Clients {
		l := load
		l.Clients, l.Seed = c, 1
		res, err := RunProofLoad(ctx, l)
		out <- proofLoadOut{res, err}
		if err != nil {
			return
		}
	}
	if r.cfg.Rate > 0 {
		l := load
		l.Clients, l.Rate, l.Seed = 256, r.cfg.Rate, 2
		res, err := RunProofLoad(ctx, l)
		out <- proofLoadOut{res, err}
	}
	close(out)
}

// finish closes the window, stops the follower and then the chain, and
// fills the run's figures.
func (r *profileRun) finish(stopChain func(), rss *rssSampler) (*Run, error) {
	window, got := r.window.end(func() {
		if r.fol != nil {
			r.fol.stop() // before the chain stops, so it has caught up the window
		}
	})
	stopChain()
	if err := <-r.chainErr; err != nil {
		return nil, err
	}
	run := r.run
	summarizeBlocks(run, got, r.start, window)
	run.Head = r.node.Head()
	run.DiskBytes = r.node.DiskUsage()
	run.Disk = append(run.Disk, DiskSample{At: window, Head: run.Head, Bytes: run.DiskBytes})
	if run.Head > 0 {
		run.DiskPerBlock = float64(run.DiskBytes) / float64(run.Head)
	}
	run.PeakRSS = rss.stop()
	if r.fol != nil {
		run.Follower = r.fol.stats(r.start, r.start.Add(window))
	}
	return run, nil
}
