package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/spf13/cobra"

	"github.com/strata-chain/strata/bench"
	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/history/store"
	"github.com/strata-chain/strata/retention"
)

// newBenchCrashCmd is `strata bench crash`: the SIGKILL loop over this
// binary, or the in-process power-cut loop.
func newBenchCrashCmd() *cobra.Command {
	var (
		cfg      = bench.DefaultCrashConfig()
		powercut bool
		maxBlock int
	)
	cmd := &cobra.Command{
		Use:   "crash",
		Short: "Kill strata with SIGKILL at random moments (or cut the power in process) and check every reopened store",
		Long: `Run this strata binary as a child on --datadir and SIGKILL it after a random
(--seed) delay, --kills times. --scenario ingest runs a fullstack node with
tiny retention spans (--block-time, --recent, --window, --checkpoint), so
flushes, thinning and pruning run every few blocks; catchup runs strata
catchup from a source datadir it makes first; all alternates. After each
kill the store is reopened here and checked: its head is at or above the
last block the child reported committed; nothing is above the head; every
new block (and a few older ones) links to its parent, has its header's state
root, and proves a sample of the accounts and slots it touched
(trie.VerifyProof against the header's root); and its digest, once both
finish their migrations, equals that of a replica fed the same blocks one
at a time. Then the child starts again on the same datadir.

--powercut instead cuts the power in process: a store on a crashable
in-memory file system ingests a deterministic chain and migrates; at a
random moment only what was synced survives, and the clone is reopened and
checked the same way (STRATA_TEST_UNSAFE_NOSYNC=1 makes the store skip the
ingest fsync, which this mode then reports as lost blocks).

Prints a summary table; exits non-zero if any check failed.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(cmd.ErrOrStderr(), "info", "auto")
			if err != nil {
				return err
			}
			// An interrupt ends the run after the kill under way; the
			// summary of what was done is printed.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			var rep *bench.CrashReport
			if powercut {
				rep, err = bench.PowerCut(ctx, bench.PowerCutConfig{Cuts: cfg.Kills, Seed: cfg.Seed, MaxBlocks: maxBlock,
					Retention: bench.PowerCutRetention(cfg.Seed), Open: openPowerCutStore, Progress: cmd.ErrOrStderr(), Log: log})
			} else {
				if cfg.DataDir == "" {
					return fmt.Errorf("--datadir is required (the child's stores live there)")
				}
				exe, xerr := os.Executable()
				if xerr != nil {
					return fmt.Errorf("find the strata executable: %w", xerr)
				}
				cfg.Command = func(args []string) *exec.Cmd { return exec.Command(exe, args...) }
				cfg.Open, cfg.CopyGenesis, cfg.Progress, cfg.Log = openCrashStore, copyCrashGenesis, cmd.ErrOrStderr(), log
				rep, err = bench.Crash(ctx, cfg)
			}
			if rep != nil {
				fmt.Fprint(cmd.OutOrStdout(), rep.Table())
			}
			if err != nil {
				return err
			}
			return rep.Err()
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Kills, "kills", cfg.Kills, "SIGKILLs (power cuts with --powercut)")
	f.StringVar(&cfg.Scenario, "scenario", cfg.Scenario, "what the child does when killed: ingest, catchup or all (alternating)")
	f.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed of the kill delays, the load and the power-cut chain")
	f.StringVar(&cfg.DataDir, "datadir", "", "directory for the child's stores, the replicas and the catch-up source (required without --powercut)")
	f.DurationVar(&cfg.BlockTime, "block-time", cfg.BlockTime, "block time of the ingest child's chain")
	f.Uint64Var(&cfg.GasPerSecond, "gas-per-second", cfg.GasPerSecond, "load of the ingest child's chain")
	f.DurationVar(&cfg.Spans.Recent, "recent", cfg.Spans.Recent, "the ingest child's retention.recent")
	f.DurationVar(&cfg.Spans.Window, "window", cfg.Spans.Window, "the ingest child's retention.window (must hold more blocks than one kill's round makes)")
	f.Uint64Var(&cfg.Spans.Checkpoint, "checkpoint", cfg.Spans.Checkpoint, "the ingest child's retention.checkpoint (blocks)")
	f.DurationVar(&cfg.MaxDelay, "max-delay", cfg.MaxDelay, "a child is killed after a random delay below this")
	f.Uint64Var(&cfg.SourceBlocks, "source-blocks", cfg.SourceBlocks, "blocks of the catch-up source")
	f.IntVar(&cfg.BatchBlocks, "batch-blocks", cfg.BatchBlocks, "the catch-up child's --batch-blocks")
	f.BoolVar(&powercut, "powercut", false, "cut the power in process on a crashable in-memory file system instead of killing a child")
	f.IntVar(&maxBlock, "powercut-blocks", 12, "with --powercut: blocks ingested between two cuts at most")
	return cmd
}

// openCrashStore opens the store in dir for the crash checks, with
// retention r (the tier policy built from it) when enabled.
func openCrashStore(dir string, r history.Retention) (bench.CrashStore, error) {
	return store.Open(dir, crashStoreConfig(nil, r), nil)
}

// copyCrashGenesis loads src's genesis state into the empty dst, as
// strata catchup does, and checks that it makes src's block 0.
func copyCrashGenesis(ctx context.Context, dst, src bench.CrashStore) error {
	d, ok1 := dst.(*store.Store)
	s, ok2 := src.(*store.Store)
	if !ok1 || !ok2 {
		return fmt.Errorf("copy genesis: want stores opened by openCrashStore, got %T and %T", dst, src)
	}
	h0, err := s.HeaderByNumber(0)
	if err != nil {
		return fmt.Errorf("source block 0: %w", err)
	}
	gs, err := s.GenesisState()
	if err != nil {
		return fmt.Errorf("source genesis: %w", err)
	}
	defer gs.Close()
	hdr := types.CopyHeader(h0)
	hdr.Root = common.Hash{}
	sealed, err := d.LoadGenesis(ctx, gs, hdr, nil)
	if err != nil {
		return fmt.Errorf("load genesis: %w", err)
	}
	if sealed.Hash() != h0.Hash() {
		return fmt.Errorf("the genesis state makes block 0 %s, the source's header is %s", sealed.Hash(), h0.Hash())
	}
	return nil
}

// openPowerCutStore opens the store in dir on fs for the power-cut loop.
// The test-only mutation store.UnsafeNoSyncEnv, when set, makes it commit
// ingest without fsync.
func openPowerCutStore(fs vfs.FS, dir string, r history.Retention) (bench.CrashStore, error) {
	return store.Open(dir, crashStoreConfig(fs, r), nil)
}

func crashStoreConfig(fs vfs.FS, r history.Retention) store.Config {
	cfg := store.DefaultConfig()
	cfg.FS = fs
	cfg.NoSync = store.UnsafeNoSync()
	cfg.NodeCacheEntries = 1 // reads go to Pebble: a lost node cannot hide in the cache
	if r.Enabled() {
		cfg.Retention, cfg.Policy = r, retention.NewPolicy(r)
	}
	return cfg
}
