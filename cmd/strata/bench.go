package main

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/strata-chain/strata/bench"
)

func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "bench", Short: "Measure Strata under load and judge it against the shipping contract"}
	cmd.AddCommand(newBenchRunCmd(), newBenchProofsCmd(), newBenchCatchupCmd(), newBenchTiersCmd(), newBenchSoakCmd(), newBenchCrashCmd(), newBenchStoreCmd())
	return cmd
}

func newBenchRunCmd() *cobra.Command {
	var (
		cfg        = bench.RunConfig{Overrides: bench.NoOverrides}
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
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Profile, "profile", "configs/profiles/devnet.yaml", "load profile file")
	f.StringVar(&blockTimes, "block-times", "200ms,2s", "block times to run, comma separated")
	f.DurationVar(&cfg.Warmup, "warmup", 10*time.Second, "chain time before measuring (builds history to prove)")
	f.DurationVar(&cfg.Duration, "duration", time.Minute, "measured window per block time")
	f.StringVar(&clients, "clients", "1,4,16", "closed-loop eth_getProof client counts, run one after the other in the window")
	f.Float64Var(&cfg.Rate, "rate", 200, "constant-arrival eth_getProof rate per second (0 skips the open-loop run)")
	f.StringVar(&cfg.Contract, "contract", "configs/contract.yaml", "shipping contract to judge against")
	out := f.String("out", "bench/results", "output directory")
	registerOverrides(f, &cfg.Overrides)
	f.BoolVar(&cfg.Follower, "follower", false, "also run a follower of the chain's block stream (own store) and measure its lag and ingest")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		var err error
		if cfg.BlockTimes, err = parseDurations(blockTimes); err != nil {
			return fmt.Errorf("--block-times: %w", err)
		}
		if cfg.Clients, err = parseInts(clients); err != nil {
			return fmt.Errorf("--clients: %w", err)
		}
		if cfg.Log, err = newLogger(cmd.ErrOrStderr(), "info", "auto"); err != nil {
			return err
		}
		cfg.Version, cfg.Command, cfg.Progress = versionString(), strings.Join(os.Args, " "), cmd.ErrOrStderr()
		rep, err := bench.RunProfile(cmd.Context(), cfg, benchWiring())
		if err != nil {
			return err
		}
		return printReport(cmd, cfg.Log, "bench", rep.Write, *out)
	}
	return cmd
}

// registerOverrides adds the flags with which strata bench run and strata
// bench catchup change a load profile's initial state and gas rate.
func registerOverrides(f *pflag.FlagSet, o *bench.Overrides) {
	f.IntVar(&o.InitialAccounts, "initial-accounts", -1, "override the profile's initial accounts")
	f.IntVar(&o.InitialSlots, "initial-slots", -1, "override the profile's initial slots")
	f.Uint64Var(&o.GasPerSecond, "gas-per-second", 0, "override the profile's gas per second")
}

// printReport has write put a report into dir, prints the Markdown file it
// wrote and logs where that is.
func printReport(cmd *cobra.Command, log *slog.Logger, what string, write func(dir string) (string, error), dir string) error {
	md, err := bench.WriteAndPrint(cmd.OutOrStdout(), write, dir)
	if err != nil {
		return err
	}
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
