package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-chain/strata/bench"
	"github.com/strata-chain/strata/history/store"
	"github.com/strata-chain/strata/history/store/archive"
)

// newBenchStoreCmd re-ingests a recorded chain into the v1 store and the v2
// (archive) store, alternating, and prints their figures side by side.
func newBenchStoreCmd() *cobra.Command {
	var (
		cfg       bench.StoreCompareConfig
		source    string
		fullEvery []uint
		noV1      bool
	)
	cmd := &cobra.Command{
		Use:   "store",
		Short: "Compare the store layouts (v1, v2) on a recorded chain: ingest latency and CPU, bytes per block by line, proof latency",
		Long: `Re-ingest blocks 1..--blocks of a stopped node's datadir (--source, e.g.
DIR/chain of strata bench catchup --datadir DIR) into a fresh v1 store and a
fresh v2 store, --repeat times each, alternating, paced at --block-time (0:
back to back, a catch-up). Every state is kept (no retention), so the proofs
measured at random blocks are recent-tier proofs; each is verified against
the source's header root. Prints the medians side by side.`,
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
			if !noV1 {
				cfg.Engines = []bench.Engine{{Name: "v1", Open: openV1Engine}}
			}
			for _, k := range fullEvery {
				name := "v2"
				if len(fullEvery) > 1 {
					name = fmt.Sprintf("v2 k=%d", k)
				}
				cfg.Engines = append(cfg.Engines, bench.Engine{Name: name, Open: v2EngineOpener(uint64(k))})
			}
			return bench.CompareStores(cmd.Context(), cfg, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&source, "source", "", "datadir of a stopped node holding the chain")
	f.Uint64Var(&cfg.Blocks, "blocks", 0, "blocks to re-ingest (default all)")
	f.IntVar(&cfg.Samples, "samples", 300, "proofs per run")
	f.IntVar(&cfg.Repeat, "repeat", 1, "runs per layout, alternating")
	f.DurationVar(&cfg.BlockTime, "block-time", 200*time.Millisecond, "ingest paces blocks at this interval (0: back to back)")
	f.UintSliceVar(&fullEvery, "v2-full-every", []uint{uint(archive.DefaultConfig().FullEvery)}, "v2's full-copy interval k; several values compare several v2 stores")
	f.BoolVar(&noV1, "no-v1", false, "measure the v2 stores only")
	f.Uint64Var(&cfg.FullGas, "full-gas", 25_000_000, "gas from which a block is full (its figures are also reported alone)")
	f.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile of each layout's first run to PREFIX.LAYOUT.pprof")
	_ = cmd.MarkFlagRequired("source")
	return cmd
}

type v1Engine struct{ *store.Store }

func openV1Engine(dir string) (bench.StoreEngine, error) {
	s, err := store.Open(dir, store.DefaultConfig(), nil)
	if err != nil {
		return nil, err
	}
	return v1Engine{s}, nil
}

func (e v1Engine) Lines() map[string]uint64 {
	var total uint64
	for _, t := range e.Tiers() {
		total += t.Bytes
	}
	return map[string]uint64{"everything, logical": total}
}

func (e v1Engine) Phases() map[string]time.Duration { return nil }

type v2Engine struct{ *archive.Store }

// v2EngineOpener opens v2 stores that keep every block, with full copies
// every k-th block of a node's cycle.
func v2EngineOpener(k uint64) func(dir string) (bench.StoreEngine, error) {
	return func(dir string) (bench.StoreEngine, error) {
		cfg := archive.DefaultConfig()
		cfg.Recent, cfg.FullEvery = 0, k
		s, err := archive.Open(dir, cfg, nil)
		if err != nil {
			return nil, err
		}
		return v2Engine{s}, nil
	}
}

func (e v2Engine) Lines() map[string]uint64 {
	u := e.Usage()
	hist, index := e.HistoryFiles()
	return map[string]uint64{
		"state history records":       u.HistoryBytes,
		"state history full copies":   u.FullBytes,
		"state history files":         uint64(hist),
		"state history index":         uint64(index),
		"bodies and receipts":         u.ChainBytes,
		"forward updates (transient)": u.ForwardBytes,
		"live flushes":                u.FlushedBytes,
	}
}

func (e v2Engine) Phases() map[string]time.Duration { return e.Usage().Phases }
