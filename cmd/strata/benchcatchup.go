package main

import (
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-chain/strata/bench"
	"github.com/strata-chain/strata/catchup"
)

func newBenchCatchupCmd() *cobra.Command {
	cfg := bench.CatchupConfig{Overrides: bench.NoOverrides, Catchup: catchup.DefaultConfig()}
	var out string
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
			cfg.Log, cfg.Command, cfg.Progress = log, strings.Join(os.Args, " "), cmd.ErrOrStderr()
			rec, err := bench.MeasureRecovery(cmd.Context(), cfg, benchWiring())
			if err != nil {
				return err
			}
			return printReport(cmd, log, "recovery", rec.Write, out)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Profile, "profile", "configs/profiles/base-like.yaml", "load profile file")
	f.DurationVar(&cfg.BlockTime, "block-time", 200*time.Millisecond, "block time")
	f.DurationVar(&cfg.Outage, "outage", 10*time.Minute, "chain time the follower is down")
	f.DurationVar(&cfg.Warmup, "warmup", 10*time.Second, "chain time followed live before the outage")
	f.DurationVar(&cfg.MaxRecovery, "max-recovery", time.Hour, "give up when not recovered after this long")
	f.BoolVar(&cfg.ChainLive, "chain-live", true, "keep the chain producing while the follower catches up")
	f.StringVar(&cfg.Contract, "contract", "configs/contract.yaml", "shipping contract (lag SLOs, minimum catch-up speed)")
	f.StringVar(&out, "out", "bench/results", "output directory")
	registerOverrides(f, &cfg.Overrides)
	f.StringVar(&cfg.DataDir, "datadir", "", "keep the chain's (DIR/chain) and the follower's (DIR/follower) stores here (default a temporary directory, removed)")
	f.IntVar(&cfg.Catchup.BatchBlocks, "batch-blocks", cfg.Catchup.BatchBlocks, "catch-up blocks per batch")
	f.IntVar(&cfg.Catchup.Fetchers, "fetchers", cfg.Catchup.Fetchers, "catch-up batches fetched ahead")
	return cmd
}
