package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-chain/strata/bench"
	"github.com/strata-chain/strata/catchup"
	"github.com/strata-chain/strata/history/store"
)

// catchupOptions are the flags of `strata catchup`.
type catchupOptions struct {
	from, to   uint64
	fromSet    bool // --from was given
	source     string
	datadir    string
	blockTime  time.Duration
	every      time.Duration
	cpuProfile string
	phases     bool
	cfg        catchup.Config
}

func newCatchupCmd() *cobra.Command {
	o := catchupOptions{cfg: catchup.DefaultConfig()}
	cmd := &cobra.Command{
		Use:   "catchup",
		Short: "Replay blocks from another Strata into a datadir with parallel catch-up replay",
		Long: `Replay blocks --from..--to from --source into --datadir, BatchBlocks to a
commit: storage tries of all accounts replayed in parallel across each
batch, then the account trie block by block, every root checked against its
header. The source is another Strata's gRPC block stream (strata://host:port)
or another Strata's datadir (stopped; it is opened for reading). An empty
datadir first loads the source's genesis state. A kill at any moment leaves
the datadir at the last committed batch; running the command again resumes.

With --phases it measures instead of racing: it reads the whole range (at
most 2048 blocks) into memory, replays every batch, then writes every
batch, and prints each stage's CPU per block and the speed that all cores
busy would reach, which says whether replay or the store bounds catch-up
on this machine.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(cmd.ErrOrStderr(), "info", "auto")
			if err != nil {
				return err
			}
			if o.cpuProfile != "" {
				stop, err := startCPUProfile(o.cpuProfile)
				if err != nil {
					return err
				}
				defer stop()
			}
			o.fromSet = cmd.Flags().Changed("from")
			return replayInto(cmd.Context(), o, log, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.source, "source", "", "strata://host:port (another Strata's gRPC) or the path of another Strata's datadir")
	f.StringVar(&o.datadir, "datadir", "./data", "datadir to replay into")
	f.Uint64Var(&o.from, "from", 0, "first block to replay (must be the datadir's head + 1; default that)")
	f.Uint64Var(&o.to, "to", 0, "last block to replay (default the source's head)")
	f.DurationVar(&o.blockTime, "block-time", 200*time.Millisecond, "the chain's block time, for the multiple of real time")
	f.DurationVar(&o.every, "progress-interval", 5*time.Second, "off a terminal: interval of the JSON progress lines (0: one per committed batch)")
	f.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the replay to this file")
	f.BoolVar(&o.phases, "phases", false, "measure: read, replay and write the range one stage after the other and print each stage's CPU per block")
	f.IntVar(&o.cfg.BatchBlocks, "batch-blocks", o.cfg.BatchBlocks, "blocks per replayed and committed batch")
	f.IntVar(&o.cfg.Fetchers, "fetchers", o.cfg.Fetchers, "batches fetched ahead while one replays")
	f.IntVar(&o.cfg.Workers, "workers", o.cfg.Workers, "goroutines replaying storage tries")
	_ = cmd.MarkFlagRequired("source")
	return cmd
}

// replayInto opens the source and the datadir (loading the source's
// genesis into an empty one), checks --from against the datadir's head,
// and replays up to --to (default the source's head): measured stage by
// stage with --phases, otherwise as catch-up runs, with progress on
// progress. The result goes to out.
func replayInto(ctx context.Context, o catchupOptions, log *slog.Logger, out, progress io.Writer) error {
	src, err := openCatchupSource(o.source)
	if err != nil {
		return err
	}
	defer src.Close()
	if err := os.MkdirAll(o.datadir, 0o755); err != nil {
		return err
	}
	st, err := store.Open(o.datadir, store.DefaultConfig(), log.With("module", "history"))
	if err != nil {
		return err
	}
	defer st.Close()
	if err := ensureGenesis(ctx, st, src, log); err != nil {
		return err
	}
	head, to, err := replayRange(ctx, o, st, src)
	if err != nil {
		return err
	}
	if to <= head {
		log.Info("Nothing to replay", "head", head, "to", to)
		return nil
	}
	var res fmt.Stringer
	if o.phases {
		res, err = bench.MeasurePhases(ctx, o.cfg, st, src, head, to, bench.ProcessCPU, runtime.GOMAXPROCS(0))
	} else {
		res, err = bench.MeasureReplay(ctx, o.cfg, st, src, to, o.blockTime, bench.NewCountProgress(progress, "catch-up", to-head, o.every))
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(out, res)
	return nil
}

// replayRange is the datadir's head and the last block to replay: --to,
// or the source's head. A --from other than head+1 is an error.
func replayRange(ctx context.Context, o catchupOptions, st *store.Store, src catchupSource) (head, to uint64, err error) {
	h, err := st.Head()
	if err != nil {
		return 0, 0, err
	}
	if o.fromSet && o.from != h.Number+1 {
		return 0, 0, fmt.Errorf("--from %d: the datadir's head is %d, so catch-up starts at %d (omit --from to start there)", o.from, h.Number, h.Number+1)
	}
	if to = o.to; to == 0 {
		sh, err := src.Head(ctx)
		if err != nil {
			return 0, 0, fmt.Errorf("source head: %w", err)
		}
		to = sh.Number.Uint64()
	}
	return h.Number, to, nil
}

// startCPUProfile profiles the process into file until the returned stop.
func startCPUProfile(file string) (func(), error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
