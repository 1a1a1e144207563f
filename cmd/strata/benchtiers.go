package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-chain/strata/bench"
	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/history/store"
	"github.com/strata-chain/strata/retention"
)

// newBenchTiersCmd re-ingests a recorded chain twice, without and with the
// retention runner migrating beside ingest, and then measures each tier:
// logical bytes per block, disk before and after migration, and proof
// latency (state opened, account proved and verified against the root).
func newBenchTiersCmd() *cobra.Command {
	var (
		cfg    = bench.TiersConfig{OpenStore: openTierStore}
		source string
	)
	cmd := &cobra.Command{
		Use:   "tiers",
		Short: "Measure retention on a recorded chain: bytes per block per tier, proof latency per tier, ingest p99 with and without migration",
		Long: `Re-ingest blocks 1..--blocks of a stopped node's datadir (--source, e.g.
DIR/chain of strata bench catchup --datadir DIR) into two fresh stores, one
block at a time: once with retention off, once with --recent/--window/
--checkpoint (blocks) and the retention runner migrating beside ingest. It
prints the ingest p50/p99 of both runs, each tier's logical bytes per block,
the disk before and after migration and compaction, and the latency of
opening a block's state and proving a random changed account, per tier.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if fi, err := os.Stat(source); err != nil || !fi.IsDir() {
				return fmt.Errorf("--source %q: want the datadir of a stopped Strata", source)
			}
			src, err := store.Open(source, store.DefaultConfig(), nil)
			if err != nil {
				return err
			}
			defer src.Close()
			if cfg.Log, err = newLogger(cmd.ErrOrStderr(), "info", "auto"); err != nil {
				return err
			}
			cfg.Source, cfg.SourceName = storeSource{src}, source
			return bench.MeasureTiers(cmd.Context(), cfg, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&source, "source", "", "datadir of a stopped node holding the chain")
	f.Uint64Var(&cfg.Blocks, "blocks", 0, "blocks to re-ingest (default all)")
	f.Uint64Var(&cfg.Recent, "recent", 64, "recent tier in blocks")
	f.Uint64Var(&cfg.Window, "window", 1<<40, "window tier in blocks")
	f.Uint64Var(&cfg.Checkpoint, "checkpoint", 16, "checkpoint interval in blocks")
	f.IntVar(&cfg.Samples, "samples", 200, "proofs per tier")
	f.IntVar(&cfg.Repeat, "repeat", 1, "runs per mode, alternating between the modes")
	f.BoolVar(&cfg.Timer, "timer", true, "also run the mode that migrates on a timer")
	f.DurationVar(&cfg.BlockTime, "block-time", 200*time.Millisecond, "ingest paces blocks at this interval, as a live chain does (0: back to back)")
	_ = cmd.MarkFlagRequired("source")
	return cmd
}

// openTierStore opens a fresh store in dir with retention r, scheduled by
// the retention package's policy, for the tiers bench.
func openTierStore(dir string, r history.Retention) (bench.TierStore, error) {
	cfg := store.DefaultConfig()
	cfg.Retention = r
	if r.Enabled() {
		cfg.Policy = retention.NewPolicy(r)
	}
	s, err := store.Open(dir, cfg, nil)
	if err != nil {
		return nil, err
	}
	return tierStore{s}, nil
}

// tierStore is the store seen as bench.TierStore: its tiers in bench's
// terms.
type tierStore struct{ *store.Store }

func (s tierStore) Tiers() []bench.TierStatus {
	var out []bench.TierStatus
	for _, t := range s.Store.Tiers() {
		out = append(out, bench.TierStatus{Name: t.Name, Earliest: t.Earliest, Latest: t.Latest, Bytes: t.Bytes, Empty: t.Empty})
	}
	return out
}
