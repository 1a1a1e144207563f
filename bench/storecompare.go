package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethdb/memorydb"
	"github.com/ethereum/go-ethereum/trie"

	"github.com/strata-chain/strata/history"
)

// StoreEngine is a fresh store of one layout that `strata bench store`
// re-ingests a recorded chain into.
type StoreEngine interface {
	history.Reader
	history.Ingester
	history.GenesisLoader
	// Lines is what the engine wrote since it opened, in bytes by line
	// (state history, bodies and receipts, ...), and Phases its ingest
	// time by phase; either may be empty.
	Lines() map[string]uint64
	Phases() map[string]time.Duration
	Close() error
}

// Engine names a layout and opens a fresh store of it in a directory.
type Engine struct {
	Name string
	Open func(dir string) (StoreEngine, error)
}

// StoreCompareConfig configures `strata bench store`.
type StoreCompareConfig struct {
	Source     RecordedChain
	SourceName string
	Engines    []Engine
	Blocks     uint64        // blocks re-ingested (0: all)
	BlockTime  time.Duration // pace of ingest (0: back to back, a catch-up)
	Repeat     int           // runs per engine, alternating
	Samples    int           // proofs measured per run
	// FullGas is the gas from which a block counts as full: its figures
	// are also reported on their own (a recorded chain mixes full blocks
	// with near-empty ones).
	FullGas uint64
	// CPUProfile, if set, is the prefix of a CPU profile of each engine's
	// first run (PREFIX.ENGINE.pprof).
	CPUProfile string
	Log        *slog.Logger
}

// engineRun is what one re-ingest into one engine measured.
type engineRun struct {
	ingest    Summary
	cpu       time.Duration // process CPU during ingest
	wall      time.Duration // ingest wall time
	disk      uint64        // datadir bytes after ingest minus after genesis
	lines     map[string]uint64
	phases    map[string]time.Duration
	proofs    Summary
	verified  int
	blocks    uint64
	genesisIn time.Duration
	// The same over the full blocks alone.
	full       Summary
	fullBlocks uint64
	fullLines  map[string]uint64
	fullPhases map[string]time.Duration
}

// CompareStores re-ingests the same recorded chain into each engine, Repeat
// times, alternating engines so the machine's drift falls on both alike,
// and prints one table: the median of each figure over the runs.
func CompareStores(ctx context.Context, cfg StoreCompareConfig, out io.Writer) error {
	head, err := cfg.Source.Head(ctx)
	if err != nil {
		return fmt.Errorf("source head: %w", err)
	}
	if cfg.Blocks == 0 || cfg.Blocks > head.Number.Uint64() {
		cfg.Blocks = head.Number.Uint64()
	}
	cfg.Repeat = max(cfg.Repeat, 1)
	runs := make(map[string][]engineRun)
	for r := 0; r < cfg.Repeat; r++ {
		for _, e := range cfg.Engines {
			cfg.Log.Info("Store bench run", "engine", e.Name, "run", r+1, "of", cfg.Repeat, "blocks", cfg.Blocks)
			res, err := runEngine(ctx, cfg, e, int64(r))
			if err != nil {
				return fmt.Errorf("%s, run %d: %w", e.Name, r+1, err)
			}
			runs[e.Name] = append(runs[e.Name], res)
		}
	}
	printStoreTable(out, cfg, runs)
	return nil
}

func runEngine(ctx context.Context, cfg StoreCompareConfig, e Engine, seed int64) (engineRun, error) {
	var res engineRun
	dir, err := os.MkdirTemp("", "strata-bench-store-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	dst, err := e.Open(dir)
	if err != nil {
		return res, fmt.Errorf("open: %w", err)
	}
	defer dst.Close()
	start := time.Now()
	if err := loadGenesisFrom(ctx, cfg.Source, dst); err != nil {
		return res, err
	}
	res.genesisIn = time.Since(start)
	// The genesis load leaves Pebble with a backlog of compactions that
	// would otherwise run during ingest: settle it first, so what is
	// measured is a store in its steady state.
	if c, ok := dst.(interface{ Compact() error }); ok {
		if err := c.Compact(); err != nil {
			return res, fmt.Errorf("compact after the genesis: %w", err)
		}
	}
	base := dirBytes(dir)
	bar := NewCountProgress(os.Stderr, e.Name, cfg.Blocks, 5*time.Second)
	lat := make([]time.Duration, 0, cfg.Blocks)
	var fullLat []time.Duration
	res.fullLines, res.fullPhases = map[string]uint64{}, map[string]time.Duration{}
	if cfg.CPUProfile != "" && seed == 0 {
		stop, err := startCPUProfile(cfg.CPUProfile + "." + e.Name + ".pprof")
		if err != nil {
			return res, err
		}
		defer stop()
	}
	cpu0, wall0 := ProcessCPU(), time.Now()
	next := time.Now()
	for n := uint64(1); n <= cfg.Blocks; n++ {
		if wait := time.Until(next); cfg.BlockTime > 0 && wait > 0 {
			time.Sleep(wait)
		}
		next = next.Add(cfg.BlockTime)
		u, err := cfg.Source.UpdateAt(n)
		if err != nil {
			return res, fmt.Errorf("source block %d: %w", n, err)
		}
		full := cfg.FullGas > 0 && u.Header.GasUsed >= cfg.FullGas
		var lines0 map[string]uint64
		var phases0 map[string]time.Duration
		if full {
			lines0, phases0 = dst.Lines(), dst.Phases()
		}
		t := time.Now()
		if err := dst.Ingest(ctx, u); err != nil {
			return res, fmt.Errorf("ingest block %d: %w", n, err)
		}
		d := time.Since(t)
		lat = append(lat, d)
		if full {
			fullLat = append(fullLat, d)
			for k, v := range dst.Lines() {
				res.fullLines[k] += v - lines0[k]
			}
			for k, v := range dst.Phases() {
				res.fullPhases[k] += v - phases0[k]
			}
		}
		bar.Update(n, float64(n)/time.Since(wall0).Seconds(), "")
	}
	bar.Done()
	res.wall, res.cpu = time.Since(wall0), ProcessCPU()-cpu0
	res.ingest, res.blocks = Summarize(lat), cfg.Blocks
	res.full, res.fullBlocks = Summarize(fullLat), uint64(len(fullLat))
	res.lines, res.phases = dst.Lines(), dst.Phases()
	if d := dirBytes(dir); d > base {
		res.disk = d - base
	}
	res.proofs, res.verified, err = measureEngineProofs(ctx, cfg, dst, seed)
	return res, err
}

// measureEngineProofs proves, at Samples random blocks the engine holds,
// an account that block changed, and verifies each proof against the
// source's header root with go-ethereum's trie.VerifyProof.
func measureEngineProofs(ctx context.Context, cfg StoreCompareConfig, dst StoreEngine, seed int64) (Summary, int, error) {
	oldest, err := dst.Oldest()
	if err != nil {
		return Summary{}, 0, err
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 15))
	lat := make([]time.Duration, 0, cfg.Samples)
	for i := 0; i < cfg.Samples; i++ {
		lo := max(oldest, 1)
		b := lo + rng.Uint64N(cfg.Blocks-lo+1)
		u, err := cfg.Source.UpdateAt(b)
		if err != nil {
			return Summary{}, 0, err
		}
		keys := history.SortedHashes(u.Accounts)
		if len(keys) == 0 {
			continue
		}
		addrHash := keys[rng.IntN(len(keys))]
		hdr, err := cfg.Source.Header(ctx, b)
		if err != nil {
			return Summary{}, 0, err
		}
		t := time.Now()
		proof, _, err := proveAccount(dst, b, addrHash)
		if err != nil {
			return Summary{}, 0, fmt.Errorf("prove %s at block %d: %w", addrHash, b, err)
		}
		lat = append(lat, time.Since(t))
		if _, err := trie.VerifyProof(hdr.Root, addrHash[:], proof); err != nil {
			return Summary{}, 0, fmt.Errorf("proof of %s at block %d does not verify against the source's root: %w", addrHash, b, err)
		}
	}
	return Summarize(lat), len(lat), nil
}

// proveAccount opens block b's state and proves addrHash in its account
// trie, as eth_getProof does; root is the root the state claims.
func proveAccount(dst history.Reader, b uint64, addrHash common.Hash) (proof *memorydb.Database, root common.Hash, err error) {
	st, err := dst.StateAt(b)
	if err != nil {
		return nil, common.Hash{}, err
	}
	defer st.Close()
	tr, err := trie.New(trie.StateTrieID(st.Root()), st.Nodes())
	if err != nil {
		return nil, common.Hash{}, err
	}
	proof = memorydb.New()
	return proof, st.Root(), tr.Prove(addrHash[:], proof)
}

// dirBytes is the size of the files under dir.
func dirBytes(dir string) uint64 {
	var n uint64
	_ = filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += uint64(fi.Size())
		}
		return nil
	})
	return n
}

// printStoreTable prints the medians of every engine's runs side by side.
func printStoreTable(out io.Writer, cfg StoreCompareConfig, runs map[string][]engineRun) {
	fmt.Fprintf(out, "# Store layouts side by side\n\nSource: %s, blocks 1..%d, paced at %s (0 = back to back), %d run(s) per engine alternating; medians. Each store is compacted after its genesis load, outside the figures (steady state). Process CPU includes Pebble's background work.\n\n",
		cfg.SourceName, cfg.Blocks, cfg.BlockTime, cfg.Repeat)
	names := make([]string, 0, len(cfg.Engines))
	for _, e := range cfg.Engines {
		names = append(names, e.Name)
	}
	fmt.Fprintf(out, "| figure | %s |\n|---|%s\n", strings.Join(names, " | "), strings.Repeat("---|", len(names)))
	row := func(label string, f func(r engineRun) float64, format string) {
		cells := make([]string, len(names))
		for i, n := range names {
			vals := make([]float64, 0, len(runs[n]))
			for _, r := range runs[n] {
				vals = append(vals, f(r))
			}
			cells[i] = fmt.Sprintf(format, medianF(vals))
		}
		fmt.Fprintf(out, "| %s | %s |\n", label, strings.Join(cells, " | "))
	}
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	perFull := func(v float64, r engineRun) float64 { return v / float64(max(r.fullBlocks, 1)) }
	row("ingest p50 (ms)", func(r engineRun) float64 { return ms(r.ingest.P50) }, "%.1f")
	row("ingest p99 (ms)", func(r engineRun) float64 { return ms(r.ingest.P99) }, "%.1f")
	row("ingest max (ms)", func(r engineRun) float64 { return ms(r.ingest.Max) }, "%.1f")
	row("process CPU per block (ms)", func(r engineRun) float64 { return ms(r.cpu) / float64(r.blocks) }, "%.1f")
	row("blocks/s (wall)", func(r engineRun) float64 { return float64(r.blocks) / r.wall.Seconds() }, "%.1f")
	row("multiple of real time at 200 ms", func(r engineRun) float64 { return float64(r.blocks) * 0.2 / r.wall.Seconds() }, "%.1f")
	row("datadir growth per block (KB)", func(r engineRun) float64 { return float64(r.disk) / float64(r.blocks) / 1e3 }, "%.0f")
	row("proof p50 (ms)", func(r engineRun) float64 { return ms(r.proofs.P50) }, "%.2f")
	row("proof p99 (ms)", func(r engineRun) float64 { return ms(r.proofs.P99) }, "%.2f")
	row("proofs verified", func(r engineRun) float64 { return float64(r.verified) }, "%.0f")
	row("genesis load (s)", func(r engineRun) float64 { return r.genesisIn.Seconds() }, "%.1f")
	row(fmt.Sprintf("full blocks (>= %d gas)", cfg.FullGas), func(r engineRun) float64 { return float64(r.fullBlocks) }, "%.0f")
	row("full block: ingest p50 (ms)", func(r engineRun) float64 { return ms(r.full.P50) }, "%.1f")
	row("full block: ingest p99 (ms)", func(r engineRun) float64 { return ms(r.full.P99) }, "%.1f")
	lines, phases := map[string]bool{}, map[string]bool{}
	for _, rs := range runs {
		for _, r := range rs {
			for k := range r.lines {
				lines[k] = true
			}
			for k := range r.phases {
				phases[k] = true
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(lines)) {
		row("written per block, "+k+" (KB)", func(r engineRun) float64 { return float64(r.lines[k]) / float64(r.blocks) / 1e3 }, "%.1f")
		row("written per full block, "+k+" (KB)", func(r engineRun) float64 { return perFull(float64(r.fullLines[k]), r) / 1e3 }, "%.1f")
	}
	for _, k := range slices.Sorted(maps.Keys(phases)) {
		row("ingest time per full block, "+k+" (ms)", func(r engineRun) float64 { return perFull(ms(r.fullPhases[k]), r) }, "%.2f")
	}
}

func medianF(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// startCPUProfile writes a CPU profile to path until stop.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
