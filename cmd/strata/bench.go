package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/strata-chain/strata/bench"
	"github.com/strata-chain/strata/history/store"
	"github.com/strata-chain/strata/sequencer"
)

func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "bench", Short: "Measure Strata under load and judge it against the shipping contract"}
	cmd.AddCommand(newBenchRunCmd(), newBenchProofsCmd(), newBenchCatchupCmd(), newBenchTiersCmd(), newBenchSoakCmd())
	return cmd
}

// benchRunOptions are the knobs of `strata bench run`.
type benchRunOptions struct {
	profile    string
	blockTimes []time.Duration
	warmup     time.Duration
	duration   time.Duration
	clients    []int
	rate       float64
	contract   string
	out        string
	overrides  profileOverrides
	follower   bool
}

func newBenchRunCmd() *cobra.Command {
	var (
		o          benchRunOptions
		blockTimes string
		clients    string
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run a load profile at each block time (same gas per second) and write JSON, Markdown and PNG results",
		Long: `Run a load profile on an in-process full stack (sequencer, history store,
JSON-RPC) once per block time, at the same gas per second. Each run builds
the profile's initial state, warms up, then measures for --duration: the
sequencer's stages, ingest and lag per block, eth_getProof under load at
each --clients count and at a constant --rate, disk per block and peak RSS.
Results go to --out as <profile>-<time>.json/.md/-*.png, judged against
--contract.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if o.blockTimes, err = parseDurations(blockTimes); err != nil {
				return fmt.Errorf("--block-times: %w", err)
			}
			if o.clients, err = parseInts(clients); err != nil {
				return fmt.Errorf("--clients: %w", err)
			}
			log, err := newLogger(cmd.ErrOrStderr(), "info", "auto")
			if err != nil {
				return err
			}
			rep, err := benchRun(cmd.Context(), o, log, cmd)
			if err != nil {
				return err
			}
			return printReport(cmd, log, "bench", rep.Write, o.out)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.profile, "profile", "configs/profiles/devnet.yaml", "load profile file")
	f.StringVar(&blockTimes, "block-times", "200ms,2s", "block times to run, comma separated")
	f.DurationVar(&o.warmup, "warmup", 10*time.Second, "chain time before measuring (builds history to prove)")
	f.DurationVar(&o.duration, "duration", time.Minute, "measured window per block time")
	f.StringVar(&clients, "clients", "1,4,16", "closed-loop eth_getProof client counts, run one after the other in the window")
	f.Float64Var(&o.rate, "rate", 200, "constant-arrival eth_getProof rate per second (0 skips the open-loop run)")
	f.StringVar(&o.contract, "contract", "configs/contract.yaml", "shipping contract to judge against")
	f.StringVar(&o.out, "out", "bench/results", "output directory")
	o.overrides.register(f)
	f.BoolVar(&o.follower, "follower", false, "also run a follower of the chain's block stream (own store) and measure its lag and ingest")
	return cmd
}

// profileOverrides are the flags with which strata bench run and strata
// bench catchup change a load profile's initial state and gas rate.
type profileOverrides struct {
	initialAccounts int // negative keeps the profile's
	initialSlots    int // negative keeps the profile's
	gasPerSecond    uint64
}

func (o *profileOverrides) register(f *pflag.FlagSet) {
	f.IntVar(&o.initialAccounts, "initial-accounts", -1, "override the profile's initial accounts")
	f.IntVar(&o.initialSlots, "initial-slots", -1, "override the profile's initial slots")
	f.Uint64Var(&o.gasPerSecond, "gas-per-second", 0, "override the profile's gas per second")
}

// load reads the profile at path with the overrides applied.
func (o profileOverrides) load(path string) (*bench.Profile, error) {
	prof, err := bench.LoadProfile(path)
	if err != nil {
		return nil, err
	}
	if o.initialAccounts >= 0 {
		prof.Initial.Accounts = o.initialAccounts
	}
	if o.initialSlots >= 0 {
		prof.Initial.Slots = o.initialSlots
	}
	if o.gasPerSecond > 0 {
		prof.GasPerSecond = o.gasPerSecond
	}
	return prof, nil
}

// printReport has write put a report into dir, prints the Markdown file it
// wrote and logs where that is.
func printReport(cmd *cobra.Command, log *slog.Logger, what string, write func(dir string) (string, error), dir string) error {
	md, err := write(dir)
	if err != nil {
		return err
	}
	text, err := os.ReadFile(md)
	if err != nil {
		return err
	}
	fmt.Fprint(cmd.OutOrStdout(), string(text))
	log.Info("Wrote the "+what+" report", "markdown", md)
	return nil
}

func parseDurations(s string) ([]time.Duration, error) {
	return parseList(s, "duration", time.ParseDuration)
}

func parseInts(s string) ([]int, error) { return parseList(s, "count", strconv.Atoi) }

// parseList parses a comma-separated list of positive values; what names
// a value in the error.
func parseList[T int | time.Duration](s, what string, parse func(string) (T, error)) ([]T, error) {
	var out []T
	for _, f := range strings.Split(s, ",") {
		v, err := parse(strings.TrimSpace(f))
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("bad %s %q", what, f)
		}
		out = append(out, v)
	}
	return out, nil
}

func benchRun(ctx context.Context, o benchRunOptions, log *slog.Logger, cmd *cobra.Command) (*bench.Report, error) {
	prof, err := o.overrides.load(o.profile)
	if err != nil {
		return nil, err
	}
	contract, err := bench.LoadContract(o.contract)
	if err != nil {
		return nil, err
	}
	rep := &bench.Report{
		Name: prof.Name, Date: time.Now().UTC(), Version: versionString(), Machine: bench.ThisMachine(),
		Command: strings.Join(os.Args, " "),
	}
	for _, bt := range o.blockTimes {
		log.Info("Bench run", "profile", prof.Name, "block_time", bt, "gas_per_second", prof.GasPerSecond,
			"initial_accounts", prof.Initial.Accounts, "initial_slots", prof.Initial.Slots)
		run, err := benchOne(ctx, o, prof, bt, log, cmd)
		if err != nil {
			return nil, fmt.Errorf("%s at %s: %w", prof.Name, bt, err)
		}
		run.Verdicts = contract.Judge(run)
		rep.Runs = append(rep.Runs, run)
	}
	return rep, nil
}

// benchOne runs the profile at one block time on a fresh store.
func benchOne(ctx context.Context, o benchRunOptions, prof *bench.Profile, blockTime time.Duration, log *slog.Logger, cmd *cobra.Command) (*bench.Run, error) {
	dir, err := os.MkdirTemp("", "strata-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	cfg := nodeConfig{
		Mode: "fullstack", DataDir: dir, HTTPAddr: "127.0.0.1",
		Store: store.DefaultConfig(), Sequencer: sequencer.DefaultConfig(),
	}
	cfg.Sequencer.BlockTime = blockTime
	if err := prof.Apply(&cfg.Sequencer, blockTime); err != nil {
		return nil, err
	}
	// Generate and sign the whole run's load before the clock starts, so the
	// run measures the chain rather than the generator.
	cfg.Sequencer.Load.Prefill = int((o.warmup+o.duration)/blockTime) + 10
	if o.follower {
		cfg.GRPCPort = freeTCPPort()
	}
	rss := newRSSSampler()
	defer rss.stop()
	setupStart := time.Now()
	n, err := newNode(cfg, log.With("run", fmt.Sprintf("%s@%s", prof.Name, blockTime)))
	if err != nil {
		return nil, err
	}
	defer n.Close()
	run := &bench.Run{
		Profile: prof.Name, BlockTime: blockTime, GasPerSecondTarget: prof.GasPerSecond,
		InitialAccounts: prof.Initial.Accounts, InitialSlots: prof.Initial.Slots, Setup: time.Since(setupStart),
	}
	var (
		mu        sync.Mutex
		measuring bool
		start     time.Time
		infos     []sequencer.BlockInfo
	)
	n.onBlock(func(info sequencer.BlockInfo) {
		mu.Lock()
		if measuring {
			infos = append(infos, info)
		}
		mu.Unlock()
	})
	runCtx, stopChain := context.WithCancel(ctx)
	defer stopChain()
	var fol *benchFollower
	if o.follower { // before the chain runs: it registers a block hook
		if fol, err = startBenchFollower(runCtx, n, cfg, log); err != nil {
			return nil, err
		}
		defer fol.close()
	}
	chainErr := make(chan error, 1)
	go func() { chainErr <- n.run(runCtx) }()

	segments := len(o.clients)
	if o.rate > 0 {
		segments++
	}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case err := <-chainErr:
		return nil, fmt.Errorf("chain stopped while generating the load: %w", err)
	case <-n.seq.Started():
	}
	progress := newProgress(cmd.ErrOrStderr(), fmt.Sprintf("%s@%s", prof.Name, blockTime), o.warmup+o.duration)
	defer progress.done()
	began := time.Now()
	for time.Since(began) < o.warmup {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case err := <-chainErr:
			return nil, fmt.Errorf("chain stopped during warmup: %w", err)
		case <-tick.C:
			progress.update(time.Since(began), fmt.Sprintf("warmup head=%d", n.seq.Head().Number))
		}
	}
	mu.Lock()
	measuring, start = true, time.Now()
	mu.Unlock()
	addrs := proofAddresses(cfg.Sequencer)
	slots := []common.Hash{common.BigToHash(common.Big1), common.BigToHash(common.Big2)}
	type loadOut struct {
		res *bench.ProofLoadResult
		err error
	}
	loads := make(chan loadOut, 1)
	go func() {
		seg := o.duration / time.Duration(segments)
		for _, c := range o.clients {
			res, err := bench.RunProofLoad(ctx, bench.ProofLoadConfig{URL: "http://" + n.api.HTTPAddr(), Clients: c, Duration: seg, Seed: 1, Addresses: addrs, Slots: slots, MinBlock: 1})
			loads <- loadOut{res, err}
			if err != nil {
				return
			}
		}
		if o.rate > 0 {
			res, err := bench.RunProofLoad(ctx, bench.ProofLoadConfig{URL: "http://" + n.api.HTTPAddr(), Clients: 256, Rate: o.rate, Duration: seg, Seed: 2, Addresses: addrs, Slots: slots, MinBlock: 1})
			loads <- loadOut{res, err}
		}
		close(loads)
	}()
	diskTick := time.NewTicker(time.Second)
	defer diskTick.Stop()
	for done := false; !done; {
		select {
		case lo, ok := <-loads:
			if !ok {
				done = true
				break
			}
			if lo.err != nil {
				return nil, lo.err
			}
			run.Proofs = append(run.Proofs, *lo.res)
		case err := <-chainErr:
			return nil, fmt.Errorf("chain stopped during the measurement: %w", err)
		case <-diskTick.C:
			run.Disk = append(run.Disk, bench.DiskSample{At: time.Since(start), Head: n.seq.Head().Number.Uint64(), Bytes: n.store.DiskUsage()})
		case <-tick.C:
			progress.update(time.Since(began), fmt.Sprintf("measuring head=%d proofs runs=%d/%d", n.seq.Head().Number, len(run.Proofs), segments))
		}
	}
	mu.Lock()
	measuring = false
	window := time.Since(start)
	if fol != nil {
		fol.stop() // before the chain stops, so it has caught up the window
	}
	got := append([]sequencer.BlockInfo(nil), infos...)
	mu.Unlock()
	stopChain()
	if err := <-chainErr; err != nil {
		return nil, err
	}
	summarizeBlocks(run, got, start, window)
	run.Head = n.seq.Head().Number.Uint64()
	run.DiskBytes = n.store.DiskUsage()
	run.Disk = append(run.Disk, bench.DiskSample{At: window, Head: run.Head, Bytes: run.DiskBytes})
	if run.Head > 0 {
		run.DiskPerBlock = float64(run.DiskBytes) / float64(run.Head)
	}
	run.PeakRSS = rss.stop()
	if fol != nil {
		run.Follower = fol.stats(start, start.Add(window))
	}
	return run, nil
}

// summarizeBlocks fills a run's block figures from the blocks of its window.
func summarizeBlocks(run *bench.Run, got []sequencer.BlockInfo, start time.Time, window time.Duration) {
	var ingest, lag []time.Duration
	stages := map[string][]time.Duration{}
	var txs, gas uint64
	for _, b := range got {
		ingest = append(ingest, b.Ingest)
		lag = append(lag, b.Committed.Sub(b.Due))
		stages["execute"] = append(stages["execute"], b.Stages.Execute)
		stages["state_root"] = append(stages["state_root"], b.Stages.StateRoot)
		stages["commit"] = append(stages["commit"], b.Stages.Commit)
		stages["seal"] = append(stages["seal"], b.Stages.Seal)
		stages["publish"] = append(stages["publish"], b.Ingest)
		txs += uint64(b.Txs)
		gas += b.GasUsed
		if b.Txs == 0 {
			run.EmptyBlocks++
		}
		run.Series = append(run.Series, bench.BlockSample{At: b.Committed.Sub(start), Number: b.Number, Txs: b.Txs, Gas: b.GasUsed, Ingest: b.Ingest, Lag: b.Committed.Sub(b.Due)})
	}
	run.Window = window
	run.Blocks = len(got)
	run.Ingest, run.Lag = bench.Summarize(ingest), bench.Summarize(lag)
	run.Stages = map[string]bench.Summary{}
	for k, v := range stages {
		run.Stages[k] = bench.Summarize(v)
	}
	run.BlocksPerSecond = float64(len(got)) / window.Seconds()
	run.TxsPerSecond = float64(txs) / window.Seconds()
	run.GasPerSecond = float64(gas) / window.Seconds()
}

// proofAddresses are the accounts a bench proves: the contracts, the dev
// accounts, filler accounts when there are any, and absent accounts.
func proofAddresses(cfg sequencer.Config) []common.Address {
	addrs := []common.Address{sequencer.MessagePasserAddress, sequencer.StorageContractAddress, sequencer.TokenAddress}
	addrs = append(addrs, sequencer.PoolAddresses...)
	for _, k := range sequencer.DevKeys(min(cfg.DevAccounts, 8)) {
		addrs = append(addrs, crypto.PubkeyToAddress(k.PublicKey))
	}
	for i := 0; i < min(cfg.Initial.Accounts, 64); i++ {
		addrs = append(addrs, sequencer.FillerAddress(i*max(1, cfg.Initial.Accounts/64)))
	}
	for i := 0; i < 4; i++ {
		addrs = append(addrs, common.BytesToAddress(crypto.Keccak256([]byte("absent"), []byte{byte(i)})))
	}
	return addrs
}
