package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/strata-chain/strata/catchup"
	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/history/store"
	"github.com/strata-chain/strata/history/stream"
)

// catchupSource is where `strata catchup` reads blocks: another Strata's
// block stream or another Strata's datadir.
type catchupSource interface {
	catchup.Source
	Head(ctx context.Context) (*types.Header, error)
	Header(ctx context.Context, n uint64) (*types.Header, error)
	Genesis(ctx context.Context) (history.GenesisSource, func(), error)
	Close() error
}

func newCatchupCmd() *cobra.Command {
	var (
		from, to   uint64
		source     string
		datadir    string
		blockTime  time.Duration
		every      time.Duration
		cpuProfile string
		phases     bool
		cfg        = catchup.DefaultConfig()
	)
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
			ctx := cmd.Context()
			if cpuProfile != "" {
				stop, err := startCPUProfile(cpuProfile)
				if err != nil {
					return err
				}
				defer stop()
			}
			src, err := openCatchupSource(source)
			if err != nil {
				return err
			}
			defer src.Close()
			if err := os.MkdirAll(datadir, 0o755); err != nil {
				return err
			}
			st, err := store.Open(datadir, store.DefaultConfig(), log.With("module", "history"))
			if err != nil {
				return err
			}
			defer st.Close()
			if err := ensureGenesis(ctx, st, src, log); err != nil {
				return err
			}
			head, err := st.Head()
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("from") && from != head.Number+1 {
				return fmt.Errorf("--from %d: the datadir's head is %d, so catch-up starts at %d (omit --from to start there)", from, head.Number, head.Number+1)
			}
			if to == 0 {
				h, err := src.Head(ctx)
				if err != nil {
					return fmt.Errorf("source head: %w", err)
				}
				to = h.Number.Uint64()
			}
			if to <= head.Number {
				log.Info("Nothing to replay", "head", head.Number, "to", to)
				return nil
			}
			if phases {
				res, err := measurePhases(ctx, cfg, st, src, head.Number, to, processCPU, runtime.GOMAXPROCS(0))
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), res)
				return nil
			}
			res, err := runCatchup(ctx, cfg, st, src, head.Number, to, blockTime, newCountProgress(cmd.ErrOrStderr(), "catch-up", to-head.Number, every))
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), res)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&source, "source", "", "strata://host:port (another Strata's gRPC) or the path of another Strata's datadir")
	f.StringVar(&datadir, "datadir", "./data", "datadir to replay into")
	f.Uint64Var(&from, "from", 0, "first block to replay (must be the datadir's head + 1; default that)")
	f.Uint64Var(&to, "to", 0, "last block to replay (default the source's head)")
	f.DurationVar(&blockTime, "block-time", 200*time.Millisecond, "the chain's block time, for the multiple of real time")
	f.DurationVar(&every, "progress-interval", 5*time.Second, "off a terminal: interval of the JSON progress lines (0: one per committed batch)")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the replay to this file")
	f.BoolVar(&phases, "phases", false, "measure: read, replay and write the range one stage after the other and print each stage's CPU per block")
	f.IntVar(&cfg.BatchBlocks, "batch-blocks", cfg.BatchBlocks, "blocks per replayed and committed batch")
	f.IntVar(&cfg.Fetchers, "fetchers", cfg.Fetchers, "batches fetched ahead while one replays")
	f.IntVar(&cfg.Workers, "workers", cfg.Workers, "goroutines replaying storage tries")
	_ = cmd.MarkFlagRequired("source")
	return cmd
}

// catchupResult summarises a replay.
type catchupResult struct {
	Blocks  uint64
	Txs     int
	Elapsed time.Duration
	Speed   float64 // multiple of real time
	Prepare time.Duration
	Commit  time.Duration
	Wait    time.Duration
	// CPU is the process's CPU time over the replay (0 where not measured):
	// replay, writes, Pebble's compactions and, for a datadir source,
	// reading it.
	CPU   time.Duration
	Cores int // GOMAXPROCS
}

func (r catchupResult) Rate() float64 { return float64(r.Blocks) / r.Elapsed.Seconds() }

func (r catchupResult) String() string {
	s := fmt.Sprintf("replayed %d blocks (%d txs) in %s: %.1f blocks/s, %.1fx real time (replay %s, commit %s, waiting for the source %s; replay and commit overlap)",
		r.Blocks, r.Txs, r.Elapsed.Round(time.Millisecond), r.Rate(), r.Speed, r.Prepare.Round(time.Millisecond),
		r.Commit.Round(time.Millisecond), r.Wait.Round(time.Millisecond))
	if r.CPU > 0 && r.Blocks > 0 && r.Elapsed > 0 {
		// What bounds the speed: at this CPU cost per block, all cores busy
		// would replay Cores/perBlock blocks a second.
		perBlock := r.CPU / time.Duration(r.Blocks)
		s += fmt.Sprintf("; CPU %s = %s per block, %.2f of %d cores busy", r.CPU.Round(time.Millisecond), perBlock.Round(10*time.Microsecond),
			r.CPU.Seconds()/r.Elapsed.Seconds(), r.Cores)
	}
	return s
}

// runCatchup replays head+1..to with a progress bar (rate, multiple of real
// time, ETA) on a terminal, structured progress logs otherwise.
func runCatchup(ctx context.Context, cfg catchup.Config, st catchup.Store, src catchup.Source, head, to uint64, blockTime time.Duration, p *countProgress) (catchupResult, error) {
	res := catchupResult{Cores: runtime.GOMAXPROCS(0)}
	start, cpu := time.Now(), processCPU()
	err := catchup.Run(ctx, cfg, st, src, to, func(b catchup.Batch) {
		res.Blocks, res.Txs = b.Done, res.Txs+b.Txs
		res.Prepare += b.Prepare
		res.Commit += b.Commit
		res.Wait += b.Wait
		speed := b.Rate() * blockTime.Seconds()
		p.update(b.Done, b.Rate(), fmt.Sprintf("%.0f blocks/s %.1fx real time head %d", b.Rate(), speed, b.To))
	})
	p.done()
	res.Elapsed = time.Since(start)
	if cpu > 0 {
		res.CPU = processCPU() - cpu
	}
	res.Speed = res.Rate() * blockTime.Seconds()
	return res, err
}

// countProgress shows progress through a known number of items: a bar with
// rate and ETA on a terminal, a JSON log line every few seconds otherwise.
type countProgress struct {
	w       io.Writer
	tty     bool
	label   string
	total   uint64
	every   time.Duration
	ended   bool // the line for the last item was written
	lastLog time.Time
	log     *slog.Logger
}

func newCountProgress(w io.Writer, label string, total uint64, every time.Duration) *countProgress {
	return &countProgress{w: w, tty: isTerminal(w), label: label, total: total, every: every, log: slog.New(slog.NewJSONHandler(w, nil))}
}

func (p *countProgress) update(done uint64, rate float64, detail string) {
	frac := min(1, float64(done)/float64(max(p.total, 1)))
	var eta time.Duration
	if rate > 0 {
		eta = time.Duration(float64(p.total-min(done, p.total)) / rate * float64(time.Second)).Round(time.Second)
	}
	if p.tty {
		const width = 30
		n := int(frac * width)
		fmt.Fprintf(p.w, "\r%s [%s%s] %3.0f%% %d/%d %s ETA %s   ", p.label, strings.Repeat("=", n), strings.Repeat(" ", width-n),
			frac*100, done, p.total, detail, eta)
		return
	}
	if time.Since(p.lastLog) >= p.every || (done >= p.total && !p.ended) {
		p.ended = done >= p.total
		p.lastLog = time.Now()
		p.log.Info("Progress", "task", p.label, "done", done, "total", p.total, "percent", int(frac*100), "detail", detail, "eta", eta.String())
	}
}

func (p *countProgress) done() {
	if p.tty {
		fmt.Fprintln(p.w)
	}
}

// ensureGenesis loads the source's genesis state into an empty store and
// checks a non-empty store has the source's block 0.
func ensureGenesis(ctx context.Context, st *store.Store, src catchupSource, log *slog.Logger) error {
	h0, err := src.Header(ctx, 0)
	if err != nil {
		return fmt.Errorf("source block 0: %w", err)
	}
	if _, err := st.Head(); err == nil {
		ours, err := st.HeaderByNumber(0)
		if err != nil {
			return err
		}
		if ours.Hash() != h0.Hash() {
			return fmt.Errorf("the datadir's block 0 is %s, the source's is %s: not the same chain", ours.Hash(), h0.Hash())
		}
		return nil
	} else if !errors.Is(err, history.ErrEmpty) {
		return err
	}
	gs, release, err := src.Genesis(ctx)
	if err != nil {
		return fmt.Errorf("source genesis: %w", err)
	}
	defer release()
	hdr := types.CopyHeader(h0)
	hdr.Root = [32]byte{}
	start := time.Now()
	sealed, err := st.LoadGenesis(ctx, gs, hdr, nil)
	if err != nil {
		return fmt.Errorf("load genesis: %w", err)
	}
	if sealed.Hash() != h0.Hash() {
		return fmt.Errorf("the source's genesis state makes block 0 %s, its header says %s", sealed.Hash(), h0.Hash())
	}
	log.Info("Loaded the source's genesis", "hash", sealed.Hash(), "took", time.Since(start).Round(time.Millisecond).String())
	return nil
}

func openCatchupSource(src string) (catchupSource, error) {
	if addr, ok := strings.CutPrefix(src, "strata://"); ok {
		c, err := stream.Dial(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", src, err)
		}
		return streamSource{c}, nil
	}
	if fi, err := os.Stat(src); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("--source %q: want strata://host:port or a Strata datadir", src)
	}
	s, err := store.Open(src, store.DefaultConfig(), nil)
	if err != nil {
		return nil, fmt.Errorf("open source datadir: %w", err)
	}
	return storeSource{s}, nil
}

// streamSource reads another Strata over gRPC.
type streamSource struct{ c *stream.Client }

func (s streamSource) Range(ctx context.Context, from, to uint64) (func() (*history.BlockUpdate, error), error) {
	return s.c.Range(ctx, from, to)
}
func (s streamSource) Head(ctx context.Context) (*types.Header, error) { return s.c.Head(ctx) }
func (s streamSource) Header(ctx context.Context, n uint64) (*types.Header, error) {
	return s.c.Header(ctx, n)
}
func (s streamSource) Genesis(ctx context.Context) (history.GenesisSource, func(), error) {
	g, err := s.c.Genesis(ctx)
	return g, func() {}, err
}
func (s streamSource) Close() error { return s.c.Close() }

// storeSource reads another Strata's datadir.
type storeSource struct{ s *store.Store }

func (s storeSource) Range(ctx context.Context, from, to uint64) (func() (*history.BlockUpdate, error), error) {
	n := from
	return func() (*history.BlockUpdate, error) {
		if n > to {
			return nil, io.EOF
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		u, err := s.s.UpdateAt(n)
		n++
		return u, err
	}, nil
}
func (s storeSource) Head(context.Context) (*types.Header, error) {
	h, err := s.s.Head()
	if err != nil {
		return nil, err
	}
	return s.s.HeaderByNumber(h.Number)
}
func (s storeSource) Header(_ context.Context, n uint64) (*types.Header, error) {
	return s.s.HeaderByNumber(n)
}
func (s storeSource) Genesis(context.Context) (history.GenesisSource, func(), error) {
	g, err := s.s.GenesisState()
	if err != nil {
		return nil, nil, err
	}
	return g, func() { g.Close() }, nil
}
func (s storeSource) Close() error { return s.s.Close() }

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
