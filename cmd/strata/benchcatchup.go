package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-chain/strata/api/slo"
	"github.com/strata-chain/strata/bench"
	"github.com/strata-chain/strata/catchup"
	"github.com/strata-chain/strata/follower"
	"github.com/strata-chain/strata/history/store"
	"github.com/strata-chain/strata/sequencer"
)

type benchCatchupOptions struct {
	profile     string
	blockTime   time.Duration
	outage      time.Duration
	warmup      time.Duration
	maxRecovery time.Duration
	chainLive   bool
	contract    string
	out         string
	overrides   profileOverrides
	catchup     catchup.Config
	datadir     string
}

func newBenchCatchupCmd() *cobra.Command {
	o := benchCatchupOptions{catchup: catchup.DefaultConfig()}
	cmd := &cobra.Command{
		Use:   "catchup",
		Short: "Stop a follower for an outage while the chain goes on, restart it and measure catch-up speed and recovery time",
		Long: `Run a load profile on an in-process sequencer and a follower of its block
stream (each with its own store). After --warmup the follower stops for
--outage of chain time (outage / block time blocks; the chain makes them
as fast as it can at the profile's gas per second), then restarts and
catches up. Reported: the backlog, catch-up replay speed as a multiple of
real time, the time until the lag is back inside the contract's SLOs and
until the node would be ready again, and a plot of the lag. With
--chain-live=false the chain stops at the restart, which measures replay
alone.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(cmd.ErrOrStderr(), "info", "auto")
			if err != nil {
				return err
			}
			rec, err := benchCatchup(cmd.Context(), o, log, cmd)
			if err != nil {
				return err
			}
			return printReport(cmd, log, "recovery", rec.Write, o.out)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.profile, "profile", "configs/profiles/base-like.yaml", "load profile file")
	f.DurationVar(&o.blockTime, "block-time", 200*time.Millisecond, "block time")
	f.DurationVar(&o.outage, "outage", 10*time.Minute, "chain time the follower is down")
	f.DurationVar(&o.warmup, "warmup", 10*time.Second, "chain time followed live before the outage")
	f.DurationVar(&o.maxRecovery, "max-recovery", time.Hour, "give up when not recovered after this long")
	f.BoolVar(&o.chainLive, "chain-live", true, "keep the chain producing while the follower catches up")
	f.StringVar(&o.contract, "contract", "configs/contract.yaml", "shipping contract (lag SLOs, minimum catch-up speed)")
	f.StringVar(&o.out, "out", "bench/results", "output directory")
	o.overrides.register(f)
	f.StringVar(&o.datadir, "datadir", "", "keep the chain's (DIR/chain) and the follower's (DIR/follower) stores here (default a temporary directory, removed)")
	f.IntVar(&o.catchup.BatchBlocks, "batch-blocks", o.catchup.BatchBlocks, "catch-up blocks per batch")
	f.IntVar(&o.catchup.Fetchers, "fetchers", o.catchup.Fetchers, "catch-up batches fetched ahead")
	return cmd
}

func benchCatchup(ctx context.Context, o benchCatchupOptions, log *slog.Logger, cmd *cobra.Command) (*bench.Recovery, error) {
	prof, err := o.overrides.load(o.profile)
	if err != nil {
		return nil, err
	}
	contract, err := bench.LoadContract(o.contract)
	if err != nil {
		return nil, err
	}
	contract = contract.Scaled(o.blockTime)
	dir := o.datadir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "strata-bench-catchup-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
	} else if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		return nil, fmt.Errorf("--datadir %s is not empty", dir)
	}
	cfg := nodeConfig{Mode: "fullstack", DataDir: dir + "/chain", HTTPAddr: "127.0.0.1", GRPCPort: freeTCPPort(),
		Store: store.DefaultConfig(), Sequencer: sequencer.DefaultConfig()}
	cfg.Sequencer.BlockTime = o.blockTime
	if err := prof.Apply(&cfg.Sequencer, o.blockTime); err != nil {
		return nil, err
	}
	log.Info("Bench catch-up", "profile", prof.Name, "block_time", o.blockTime, "gas_per_second", prof.GasPerSecond, "outage", o.outage,
		"initial_accounts", prof.Initial.Accounts, "initial_slots", prof.Initial.Slots)
	n, err := newNode(cfg, log.With("module", "chain"))
	if err != nil {
		return nil, err
	}
	defer n.Close()
	chainCtx, stopChain := context.WithCancel(ctx)
	defer stopChain()
	chainErr := make(chan error, 1)
	go func() { chainErr <- n.run(chainCtx) }()
	select {
	case <-n.seq.Started():
	case err := <-chainErr:
		return nil, fmt.Errorf("chain: %w", err)
	}
	chainHead := func() uint64 { return n.seq.Head().Number.Uint64() }

	fs, err := store.Open(dir+"/follower", store.DefaultConfig(), log.With("module", "follower-history"))
	if err != nil {
		return nil, err
	}
	defer fs.Close()
	fcfg := follower.DefaultConfig()
	fcfg.URL, fcfg.ChainConfig, fcfg.Catchup = "strata://"+n.grpc.Addr(), n.seq.ChainConfig(), o.catchup
	f, err := follower.New(fcfg, fs, log.With("module", "follower"))
	if err != nil {
		return nil, err
	}
	defer f.Stop()
	if err := f.Start(ctx); err != nil {
		return nil, err
	}
	mon := slo.New(slo.Objectives{MaxLagBlocks: uint64(contract.MaxLagBlocks), MaxLag: contract.MaxLag, IngestP99: contract.IngestP99,
		Window: time.Minute, HoldDown: contract.SLOHoldDown}, time.Now)
	var (
		mu         sync.Mutex
		recovering bool            // the follower was restarted after the outage
		batches    []catchup.Batch // batches after the restart
	)
	f.OnUpstreamHead(func(num uint64, at time.Time) { mon.Upstream(num, at) })
	f.OnBlock(func(info follower.BlockInfo) { mon.Committed(info.Number, info.Ingest) })
	f.OnBatch(func(b catchup.Batch) {
		mon.Committed(b.To, 0)
		mu.Lock()
		if recovering {
			batches = append(batches, b)
		}
		mu.Unlock()
	})
	runFollower := func() (stop func()) {
		fctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- f.Run(fctx) }()
		return func() {
			cancel()
			if err := <-done; err != nil {
				log.Error("Follower stopped with an error", "err", err)
			}
		}
	}

	// Warm up live, then the outage.
	stopFollower := runFollower()
	// Warm up: the follower has loaded the genesis and follows live.
	if err := waitChain(ctx, chainErr, func() bool {
		fh, err := fs.Head()
		return err == nil && chainHead() >= uint64(o.warmup/o.blockTime) && fh.Number+fcfg.CatchupThreshold/2 >= chainHead() && f.Mode() == follower.ModeLive
	}); err != nil {
		return nil, err
	}
	stopFollower()
	h, err := fs.Head()
	if err != nil {
		return nil, err
	}
	outageBlocks := uint64(o.outage / o.blockTime)
	log.Info("Outage: the follower is down", "follower_head", h.Number, "chain_head", chainHead(), "blocks", outageBlocks)
	outageStart := time.Now()
	p := newCountProgress(cmd.ErrOrStderr(), "outage", outageBlocks, 5*time.Second)
	target := chainHead() + outageBlocks
	if err := waitChain(ctx, chainErr, func() bool {
		ch := chainHead()
		p.update(ch+outageBlocks-target, 0, fmt.Sprintf("chain head %d", ch))
		return ch >= target
	}); err != nil {
		return nil, err
	}
	p.done()
	outageWall := time.Since(outageStart)
	if !o.chainLive {
		stopChain()
		<-chainErr
	}
	backlog := chainHead() - h.Number
	log.Info("Restarting the follower", "backlog", backlog, "outage_wall", outageWall.Round(time.Second).String())

	rec := &bench.Recovery{Profile: prof.Name, BlockTime: o.blockTime, GasPerSecond: prof.GasPerSecond, InitialAccounts: prof.Initial.Accounts,
		InitialSlots: prof.Initial.Slots, Outage: o.outage, OutageWall: outageWall, Backlog: backlog, ChainLive: o.chainLive,
		MinSpeed: contract.MinCatchupSpeed, Machine: bench.ThisMachine(), Command: strings.Join(os.Args, " "), Time: time.Now()}
	restart := time.Now()
	mu.Lock()
	recovering = true
	mu.Unlock()
	mon.Upstream(chainHead(), restart) // the follower's first poll would tell it the same
	stopFollower = runFollower()
	defer func() { stopFollower() }()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	rp := newCountProgress(cmd.ErrOrStderr(), "recovery", backlog, 5*time.Second)
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
		fh, _ := fs.Head()
		ch := chainHead()
		st := mon.Status()
		now := time.Since(restart)
		rec.Samples = append(rec.Samples, bench.RecoverySample{At: now, Head: fh.Number, ChainHead: ch, Mode: string(f.Mode())})
		caught := fh.Number - h.Number
		rp.update(caught, float64(caught)/now.Seconds(), fmt.Sprintf("behind %d mode %s", ch-min(ch, fh.Number), f.Mode()))
		inside := fh.Number > h.Number
		for _, obj := range st.Objectives {
			if (obj.Name == slo.LagBlocks || obj.Name == slo.LagMs) && obj.Value > obj.Target {
				inside = false
			}
		}
		if inside && rec.TimeToSLO == 0 {
			rec.TimeToSLO = now
		}
		if !o.chainLive && fh.Number >= ch {
			// Nothing more arrives, so the lag objectives cannot recover on
			// their own: caught up is the end.
			rec.TimeToSLO, rec.TimeToReady = now, now
			break
		}
		if inside && st.Ready() == nil {
			rec.TimeToReady = now
			break
		}
		if rec.TimeToSLO > 0 && now > rec.TimeToSLO+contract.SLOHoldDown+time.Minute {
			// Caught up, but an SLO stays out (say ingest p99): report it
			// rather than wait for it.
			rec.NotReady = st.Ready().Error()
			break
		}
		if now > o.maxRecovery {
			rp.done()
			return nil, fmt.Errorf("not recovered after %s (head %d, chain %d)", o.maxRecovery, fh.Number, ch)
		}
	}
	rp.done()
	mu.Lock()
	for _, b := range batches {
		rec.CatchupBlocks += b.To - b.From + 1
		rec.Replay += b.Prepare
		rec.Commit += b.Commit
		rec.Wait += b.Wait
	}
	rec.CatchupTime = catchup.WallTime(batches)
	mu.Unlock()
	if rec.CatchupTime > 0 {
		rec.BlocksPerSecond = float64(rec.CatchupBlocks) / rec.CatchupTime.Seconds()
		rec.Speed = rec.BlocksPerSecond * o.blockTime.Seconds()
	}
	log.Info("Recovered", "catchup_blocks", rec.CatchupBlocks, "speed", fmt.Sprintf("%.1fx", rec.Speed), "time_to_slo", rec.TimeToSLO.Round(time.Millisecond).String(),
		"time_to_ready", rec.TimeToReady.Round(time.Millisecond).String())
	return rec, nil
}

// waitChain polls cond every 50 ms until it holds, the chain stops, or ctx
// ends.
func waitChain(ctx context.Context, chainErr chan error, cond func() bool) error {
	tk := time.NewTicker(50 * time.Millisecond)
	defer tk.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-chainErr:
			return fmt.Errorf("the chain stopped: %v", err)
		case <-tk.C:
		}
	}
	return nil
}
