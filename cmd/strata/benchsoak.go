package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/strata-chain/strata/bench"
	"github.com/strata-chain/strata/sequencer"
)

// benchSoakOptions are the knobs of `strata bench soak`.
type benchSoakOptions struct {
	profile      string
	blockTime    time.Duration
	duration     time.Duration
	warmup       time.Duration
	readyWait    time.Duration
	victimAlone  time.Duration
	clients      []int
	rate         float64
	victimRate   float64
	inFlight     int
	prefill      int
	setupTimeout time.Duration
	contract     string
	out          string
	datadir      string
	note         string
	overrides    bench.Overrides
	// command runs the strata binary with args; nil runs this executable.
	command func(args []string) *exec.Cmd
}

func newBenchSoakCmd() *cobra.Command {
	var (
		o       = benchSoakOptions{overrides: bench.NoOverrides}
		clients string
	)
	cmd := &cobra.Command{
		Use:   "soak",
		Short: "Follow a chain at a load profile while serving proofs at constant arrival; judge lag, proof p99, fairness, readiness and leaks",
		Long:  benchSoakLong,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if o.clients, err = parseInts(clients); err != nil {
				return fmt.Errorf("--clients: %w", err)
			}
			return runBenchSoak(cmd, o)
		},
	}
	o.register(cmd.Flags(), &clients)
	cmd.AddCommand(newBenchSoakSourceCmd())
	return cmd
}

const benchSoakLong = `Start this strata binary twice: a source making a chain at the load profile
(fullstack) and a follower of its block stream (strata://) that serves
eth_getProof. After the warmup, a victim client asks proofs at
--victim-rate alone for --victim-alone, then --duration is split in equal
phases, one per --clients count, each client an open loop at --rate
requests per second (latency from the scheduled time: no coordinated
omission) beside the victim. Every second the follower's lag (GET
/v1/status), /readyz, RSS (/proc/<pid>/status) and goroutines
(go_goroutines) are sampled, the source's too.

Judged: the follower's lag inside the contract SLO at every sample; each
phase's proof p99 within 2x the 1-client phase's; the victim's p99 under
load within 2x its p99 alone; /readyz never 503; follower RSS and
goroutines flat over the last two thirds (trend within phases at most 10%
of the median per hour, at least 32 MiB or 60 goroutines per hour); every
proof answered and verified. The Markdown and JSON report, the PNG plots
and both nodes' logs go to --out (default a new temporary directory).`

// register registers the soak's flags on f; --clients goes to clients,
// parsed when the command runs.
func (o *benchSoakOptions) register(f *pflag.FlagSet, clients *string) {
	f.StringVar(&o.profile, "profile", "base-like", "load profile: a name under configs/profiles or a file")
	f.DurationVar(&o.blockTime, "block-time", 200*time.Millisecond, "block time of the source's chain")
	f.DurationVar(&o.duration, "duration", 30*time.Minute, "measured time, split equally between the --clients counts")
	f.DurationVar(&o.warmup, "warmup", time.Minute, "least time followed before measuring (then until the follower is ready)")
	f.DurationVar(&o.readyWait, "ready-wait", 2*time.Minute, "after the warmup, how long to wait for the follower's /readyz before measuring anyway")
	f.DurationVar(&o.victimAlone, "victim-alone", 2*time.Minute, "first phase of the window: the victim alone, its baseline p99")
	f.StringVar(clients, "clients", "1,4,16", "open-loop client counts, one phase each")
	f.Float64Var(&o.rate, "rate", 10, "requests per second of each client (constant arrival)")
	f.Float64Var(&o.victimRate, "victim-rate", 5, "requests per second of the victim client, throughout")
	f.IntVar(&o.inFlight, "in-flight", 32, "outstanding requests per client at most (one due while all are out waits, and the wait counts)")
	f.IntVar(&o.prefill, "prefill", 150, "blocks of load the source generates ahead before its clock starts")
	f.DurationVar(&o.setupTimeout, "setup-timeout", 30*time.Minute, "give up when the nodes are not up by then (a large initial state takes minutes)")
	f.StringVar(&o.contract, "contract", "configs/contract.yaml", "shipping contract (lag SLOs, proof p99), also the nodes' slo.contract")
	f.StringVar(&o.out, "out", "", "output directory (default a new temporary directory)")
	f.StringVar(&o.datadir, "datadir", "", "keep the two stores here, in source/ and follower/ (default a temporary directory, removed)")
	f.StringVar(&o.note, "note", "", "a line for the report, e.g. what else loaded the machine")
	registerOverrides(f, &o.overrides)
}

// runBenchSoak runs `strata bench soak` with o: the soak, its report
// written to o.out (a new temporary directory when empty) and its verdicts
// printed.
func runBenchSoak(cmd *cobra.Command, o benchSoakOptions) error {
	log, err := newLogger(cmd.ErrOrStderr(), "info", "auto")
	if err != nil {
		return err
	}
	if o.out == "" {
		if o.out, err = os.MkdirTemp("", "strata-soak-out-"); err != nil {
			return err
		}
	}
	// Interrupted, the soak stops its nodes and still reports the window
	// so far.
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := benchSoak(ctx, o, log)
	if err != nil {
		return err
	}
	if err := printReport(cmd, log, "soak", rep.Write, o.out); err != nil {
		return err
	}
	fmt.Fprint(cmd.OutOrStdout(), "\n"+rep.VerdictLines())
	return nil
}

// profilePath resolves a profile name (base-like) to its file under
// configs/profiles; anything with a slash or an extension is a file.
func profilePath(p string) string {
	if strings.ContainsAny(p, `/\`) || filepath.Ext(p) != "" {
		return p
	}
	return filepath.Join("configs", "profiles", p+".yaml")
}

// benchSoak runs the soak with o; the command is this executable unless o
// says otherwise.
func benchSoak(ctx context.Context, o benchSoakOptions, log *slog.Logger) (*bench.SoakReport, error) {
	path := profilePath(o.profile)
	prof, err := bench.LoadProfileWith(path, o.overrides)
	if err != nil {
		return nil, err
	}
	contractPath, err := filepath.Abs(o.contract)
	if err != nil {
		return nil, err
	}
	contract, err := bench.LoadContract(contractPath)
	if err != nil {
		return nil, err
	}
	seq := sequencer.DefaultConfig()
	seq.BlockTime = o.blockTime
	if err := prof.Apply(&seq, o.blockTime); err != nil {
		return nil, err
	}
	if o.datadir != "" {
		if entries, _ := os.ReadDir(o.datadir); len(entries) > 0 {
			return nil, fmt.Errorf("--datadir %s is not empty", o.datadir)
		}
	}
	absProfile, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	src := soakSourceArgs(absProfile, o.prefill, o.overrides)
	command, err := soakCommand(o.command)
	if err != nil {
		return nil, err
	}
	log.Info("Bench soak", "profile", prof.Name, "block_time", o.blockTime, "gas_per_second", prof.GasPerSecond,
		"initial_accounts", prof.Initial.Accounts, "initial_slots", prof.Initial.Slots, "clients", o.clients, "rate", o.rate, "out", o.out)
	rep, err := bench.Soak(ctx, bench.SoakConfig{
		Command: command, SourceArgs: src, Profile: prof.Name, BlockTime: o.blockTime,
		Contract: contract.Scaled(o.blockTime), ContractPath: contractPath,
		Warmup: o.warmup, ReadyWait: o.readyWait, VictimAlone: o.victimAlone, Duration: o.duration, Clients: o.clients,
		Rate: o.rate, VictimRate: o.victimRate, InFlight: o.inFlight, SetupTimeout: o.setupTimeout,
		Addresses: bench.ProofAddresses(seq), Slots: []common.Hash{common.BigToHash(common.Big1), common.BigToHash(common.Big2)},
		DataDir: o.datadir, LogDir: o.out, Seed: 1, Log: log,
	})
	if err != nil {
		return nil, err
	}
	rep.Date, rep.Version, rep.Machine, rep.Command, rep.Note = time.Now().UTC(), versionString(), bench.ThisMachine(), strings.Join(os.Args, " "), o.note
	return rep, nil
}

// soakSourceArgs are the arguments of the soak's source (bench soak
// source) at the profile file, with the overrides given.
func soakSourceArgs(profile string, prefill int, ov bench.Overrides) []string {
	src := []string{"bench", "soak", "source", "--profile", profile, "--prefill", strconv.Itoa(prefill)}
	if ov.InitialAccounts >= 0 {
		src = append(src, "--initial-accounts", strconv.Itoa(ov.InitialAccounts))
	}
	if ov.InitialSlots >= 0 {
		src = append(src, "--initial-slots", strconv.Itoa(ov.InitialSlots))
	}
	if ov.GasPerSecond > 0 {
		src = append(src, "--gas-per-second", strconv.FormatUint(ov.GasPerSecond, 10))
	}
	return src
}

// soakCommand is command, or when nil one running this executable.
func soakCommand(command func(args []string) *exec.Cmd) (func(args []string) *exec.Cmd, error) {
	if command != nil {
		return command, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the strata executable: %w", err)
	}
	return func(args []string) *exec.Cmd { return exec.Command(exe, args...) }, nil
}

// newBenchSoakSourceCmd is the soak's source: `strata run` in fullstack
// mode with the load profile applied to the sequencer (its mix, senders,
// initial state and gas rate, which have no run flags). The soak starts it
// as a child process; it is not meant to be run by hand.
func newBenchSoakSourceCmd() *cobra.Command {
	var (
		profile   string
		prefill   int
		overrides = bench.NoOverrides
	)
	cmd := &cobra.Command{
		Use:    "source",
		Short:  "Run a fullstack node at a load profile (the soak's source)",
		Hidden: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSoakSource(cmd, profile, prefill, overrides)
		},
	}
	f := cmd.Flags()
	f.StringVar(&profile, "profile", "configs/profiles/devnet.yaml", "load profile file")
	f.IntVar(&prefill, "prefill", 0, "blocks of load generated ahead before the clock starts")
	registerOverrides(f, &overrides)
	addFlags(f)
	return cmd
}

// runSoakSource serves as `strata run` does (serveUntilSignal), in
// fullstack mode with the profile file's load applied to the sequencer.
func runSoakSource(cmd *cobra.Command, profile string, prefill int, overrides bench.Overrides) error {
	cfg, log, err := nodeConfigAndLogger(cmd, "")
	if err != nil {
		return err
	}
	if cfg.Mode != "fullstack" {
		return fmt.Errorf("the soak's source runs in fullstack mode, not %q", cfg.Mode)
	}
	prof, err := bench.LoadProfileWith(profile, overrides)
	if err != nil {
		return err
	}
	if err := prof.Apply(&cfg.Sequencer, cfg.Sequencer.BlockTime); err != nil {
		return err
	}
	cfg.Sequencer.Load.Prefill = prefill
	if err := serveUntilSignal(cmd.Context(), cfg, log); err != nil {
		return fmt.Errorf("source at %s: %w", prof.Name, err)
	}
	return nil
}
