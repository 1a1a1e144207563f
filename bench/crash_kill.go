package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/retention"
)

// CrashConfig is a SIGKILL run: the strata binary runs as a child on a
// datadir (fullstack ingest with tiny retention spans, or `strata catchup`
// from a source datadir), is killed with SIGKILL after a random delay, and
// its store is reopened in this process and checked before the child is
// started again on the same datadir.
type CrashConfig struct {
	Kills    int
	Scenario string // ingest, catchup or all (alternating)
	Seed     uint64
	// DataDir holds node/ (the ingest child's store), reference/ (its
	// replica), source/ (the catch-up source), catchup/ and
	// catchup-reference/.
	DataDir string
	// Command runs the strata binary with args. Required.
	Command func(args []string) *exec.Cmd
	// Open opens a store in dir in this process, with retention r
	// (disabled: keep everything). Required.
	Open func(dir string, r history.Retention) (CrashStore, error)
	// CopyGenesis loads src's block 0 (its genesis state, as a bulk load
	// wrote it) into the empty store dst. Required.
	CopyGenesis func(ctx context.Context, dst, src CrashStore) error
	// BlockTime, GasPerSecond: the ingest child's chain.
	BlockTime    time.Duration
	GasPerSecond uint64
	// Spans are the ingest child's retention spans; tiny, so thinning and
	// pruning run every few blocks. Window must hold more blocks than a
	// kill's round makes (the replica reads them back before they go).
	Spans retention.Spans
	// MaxDelay bounds the random delay from a child's start to its kill.
	MaxDelay time.Duration
	// SourceBlocks is the catch-up source's length; BatchBlocks the
	// catch-up child's batch.
	SourceBlocks uint64
	BatchBlocks  int
	Progress     io.Writer // a bar on a terminal, else a log line per kill
	Log          *slog.Logger
}

// DefaultCrashConfig is the run `strata bench crash` makes unless told
// otherwise: 100 ms blocks at 2 Mgas/s, a checkpoint every 4 blocks, 2 s
// (20 blocks) recent and 30 s (300 blocks) window, kills within 3 s.
func DefaultCrashConfig() CrashConfig {
	return CrashConfig{
		Kills: 1000, Scenario: "all", Seed: 1, BlockTime: 100 * time.Millisecond, GasPerSecond: 2_000_000,
		Spans:    retention.Spans{Recent: 2 * time.Second, Window: 30 * time.Second, Checkpoint: 4, Pinned: []common.Address{retention.MessagePasser}},
		MaxDelay: 3 * time.Second, SourceBlocks: 400, BatchBlocks: 16,
	}
}

// crashScenarios are the --scenario values.
var crashScenarios = []string{"ingest", "catchup", "all"}

// Crash runs cfg.Kills SIGKILLs and reports what the reopened stores held.
// The error is for a run that could not go on; failed checks are in the
// report (CrashReport.Err).
func Crash(ctx context.Context, cfg CrashConfig) (*CrashReport, error) {
	if cfg.Kills <= 0 || cfg.Command == nil || cfg.Open == nil || cfg.CopyGenesis == nil || cfg.DataDir == "" || cfg.MaxDelay <= 0 || cfg.BlockTime <= 0 {
		return nil, errors.New("crash: kills, max delay and block time must be positive, and the datadir, Command, Open and CopyGenesis set")
	}
	valid := false
	for _, s := range crashScenarios {
		valid = valid || s == cfg.Scenario
	}
	if !valid {
		return nil, fmt.Errorf("crash: scenario %q: want one of %s", cfg.Scenario, strings.Join(crashScenarios, ", "))
	}
	r, err := cfg.Spans.Blocks(cfg.BlockTime)
	if err != nil {
		return nil, fmt.Errorf("crash: %w", err)
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("crash: %w", err)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("crash: datadir: %w", err)
	}
	start := time.Now()
	rep := newCrashReport("sigkill", cfg.Scenario)
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5167))
	k := &killer{cfg: cfg, rep: rep, rng: rng, retention: r}
	defer k.close()
	var prog *CountProgress
	if cfg.Progress != nil {
		prog = NewCountProgress(cfg.Progress, "kills", uint64(cfg.Kills), 0)
		defer prog.Done()
	}
	for i := 0; rep.Kills < cfg.Kills; i++ {
		if err := ctx.Err(); err != nil {
			rep.Took = time.Since(start)
			return rep, err
		}
		scenario := cfg.Scenario
		if scenario == "all" {
			scenario = crashScenarios[i%2]
		}
		var err error
		if scenario == "ingest" {
			err = k.ingestRound(ctx)
		} else {
			err = k.catchupRound(ctx)
		}
		if err != nil {
			rep.Took = time.Since(start)
			return rep, err
		}
		if prog != nil {
			prog.Update(uint64(rep.Kills), float64(rep.Kills)/time.Since(start).Seconds(),
				fmt.Sprintf("%s head %d, lost %d, failures %d", scenario, rep.Head, rep.LostBlocks,
					rep.Inconsistencies+rep.ProofFailures+rep.DigestMismatches+rep.ReopenFailures))
		}
	}
	rep.Took = time.Since(start)
	return rep, nil
}

// killer carries a crash run's state from one kill to the next.
type killer struct {
	cfg       CrashConfig
	rep       *CrashReport
	rng       *rand.Rand
	retention history.Retention

	ingest  *crashChecker
	ref     *crashReference // the ingest store's replica
	ingestN uint64          // the ingest child's last reported block
	seenAny bool

	catchup    *crashChecker
	catchupRef *crashReference
	sourceHead uint64
	source     CrashStore // open only while a catch-up kill is checked
}

func (k *killer) close() {
	for _, ref := range []*crashReference{k.ref, k.catchupRef} {
		if ref != nil {
			_ = ref.s.Close()
		}
	}
}

func (k *killer) dir(name string) string { return filepath.Join(k.cfg.DataDir, name) }

// ingestArgs are the fullstack child's arguments on datadir dir.
func (k *killer) ingestArgs(dir string, spans bool) []string {
	args := []string{"run", "--mode", "fullstack", "--datadir", dir, "--log.format", "json", "--status.interval", "20ms",
		"--http.port", "0", "--ws.port", "0", "--grpc.port", "0", "--metrics.port", "0",
		"--sequencer.block_time", k.cfg.BlockTime.String(), "--sequencer.load.gas_per_second", strconv.FormatUint(k.cfg.GasPerSecond, 10),
		"--sequencer.load.seed", strconv.FormatUint(k.cfg.Seed, 10)}
	if !spans {
		return append(args, "--retention.recent", "0")
	}
	s := k.cfg.Spans
	pinned := make([]string, len(s.Pinned))
	for i, a := range s.Pinned {
		pinned[i] = a.Hex()
	}
	return append(args, "--retention.recent", s.Recent.String(), "--retention.window", s.Window.String(),
		"--retention.checkpoint", strconv.FormatUint(s.Checkpoint, 10), "--retention.pinned", strings.Join(pinned, ","))
}

// ingestRound starts the fullstack child on node/, kills it after a random
// delay and checks the store it left.
func (k *killer) ingestRound(ctx context.Context) error {
	dir := k.dir("node")
	if k.ingest == nil {
		k.ingest = &crashChecker{rep: k.rep, rng: k.rng, accounts: 3, random: 2}
	}
	c, err := startCrashChild(k.cfg.Command(k.ingestArgs(dir, true)), parseStatusHead)
	if err != nil {
		return err
	}
	phase, exited := c.killAfter(time.Duration(k.rng.Int64N(int64(k.cfg.MaxDelay))))
	k.rep.Kills++
	k.rep.ByPhase["ingest: "+phase]++
	if exited != nil {
		k.rep.ReopenFailures++
		k.rep.problem("kill %d: the ingest child exited before the kill: %v; its last lines:\n%s", k.rep.Kills, exited, c.tail())
	}
	if n, ok := c.reported(); ok {
		k.ingestN, k.seenAny = max(k.ingestN, n), true
	}
	s, ok := k.reopen(dir, k.retention)
	if !ok {
		return nil
	}
	defer func() { _ = s.Close() }()
	held, err := k.ingest.check(s, k.ingestN, k.seenAny)
	if err != nil {
		return fmt.Errorf("kill %d: %w", k.rep.Kills, err)
	}
	k.ingestN, k.seenAny = held-min(held, 1), held > 0
	if k.ref == nil {
		rs, err := k.cfg.Open(k.dir("reference"), k.retention)
		if err != nil {
			return fmt.Errorf("open the reference: %w", err)
		}
		next := uint64(0)
		if h, err := rs.Head(); err == nil {
			next = h.Number + 1
		}
		k.ref = &crashReference{s: rs, next: next}
	}
	k.ref.source = s.UpdateAt
	k.ref.genesis = func(ctx context.Context, dst CrashStore) error { return k.cfg.CopyGenesis(ctx, dst, s) }
	if err := k.ref.compare(ctx, s, k.rep); errors.Is(err, errReferenceGap) {
		k.rep.ReferenceResets++
		k.cfg.Log.Info("Replica reset", "kill", k.rep.Kills, "err", err)
		if err := migrateAll(ctx, s); err != nil {
			return fmt.Errorf("kill %d: %w", k.rep.Kills, err)
		}
		_ = s.Close()
		_ = k.ref.s.Close()
		k.ref = nil
		if err := copyDir(dir, k.dir("reference")); err != nil {
			return fmt.Errorf("kill %d: reset the replica: %w", k.rep.Kills, err)
		}
	} else if err != nil {
		return fmt.Errorf("kill %d: %w", k.rep.Kills, err)
	}
	k.cfg.Log.Debug("Kill", "kill", k.rep.Kills, "scenario", "ingest", "phase", phase, "held", held)
	return nil
}

// copyDir replaces dst with a copy of the closed store in src.
func copyDir(src, dst string) error {
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	return filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, 0o644)
	})
}

// reopen opens dir after a kill, timing it; a failure is counted.
func (k *killer) reopen(dir string, r history.Retention) (CrashStore, bool) {
	t0 := time.Now()
	s, err := k.cfg.Open(dir, r)
	if err != nil {
		k.rep.ReopenFailures++
		k.rep.problem("kill %d: reopen %s: %v", k.rep.Kills, dir, err)
		return nil, false
	}
	k.rep.ReopenTimes = append(k.rep.ReopenTimes, time.Since(t0))
	return s, true
}

// catchupRound catches catchup/ up from source/ with the catch-up child,
// kills it after a random delay and checks the store it left; once the
// target holds the whole source it starts over from an empty one.
func (k *killer) catchupRound(ctx context.Context) error {
	if err := k.ensureSource(ctx); err != nil {
		return err
	}
	dir := k.dir("catchup")
	if k.catchup == nil {
		k.catchup = &crashChecker{rep: k.rep, rng: k.rng, accounts: 3, random: 2}
	}
	args := []string{"catchup", "--source", k.dir("source"), "--datadir", dir, "--batch-blocks", strconv.Itoa(max(1, k.cfg.BatchBlocks)),
		"--fetchers", "1", "--block-time", k.cfg.BlockTime.String(), "--progress-interval", "0"}
	c, err := startCrashChild(k.cfg.Command(args), parseCatchupHead)
	if err != nil {
		return err
	}
	// Catch-up replays far faster than real time: its kills come sooner,
	// and three in four come once it committed its first batch (the rest
	// land in its start: opening, loading the genesis).
	if k.rng.IntN(4) != 0 {
		c.waitReported(ctx, 30*time.Second)
	}
	phase, exited := c.killAfter(time.Duration(k.rng.Int64N(int64(k.cfg.MaxDelay) / 3)))
	if phase == "finished" {
		k.rep.ByPhase["catch-up: finished before the kill (not counted)"]++
	} else {
		k.rep.Kills++
		k.rep.ByPhase["catch-up: "+phase]++
	}
	if exited != nil && !c.cleanExit() {
		k.rep.ReopenFailures++
		k.rep.problem("kill %d: the catch-up child failed: %v; its last lines:\n%s", k.rep.Kills, exited, c.tail())
	}
	reported, any := c.reported()
	held, err := k.checkCatchup(ctx, dir, reported, any)
	if err != nil {
		return fmt.Errorf("kill %d: %w", k.rep.Kills, err)
	}
	k.cfg.Log.Debug("Kill", "kill", k.rep.Kills, "scenario", "catchup", "phase", phase, "reported", reported, "held", held)
	if held > k.sourceHead {
		// Caught up: the next round replays from nothing again.
		_ = k.catchupRef.s.Close()
		k.catchupRef, k.catchup = nil, nil
		return os.RemoveAll(dir)
	}
	return nil
}

// checkCatchup reopens the catch-up target after a kill, checks it and
// compares it with a replica fed from the source; it returns the number of
// blocks it holds.
func (k *killer) checkCatchup(ctx context.Context, dir string, reported uint64, any bool) (uint64, error) {
	s, ok := k.reopen(dir, history.Retention{})
	if !ok {
		return 0, nil
	}
	defer s.Close()
	held, err := k.catchup.check(s, reported, any)
	if err != nil {
		return 0, err
	}
	// The replica is fed from the source, the chain the target replays.
	src, err := k.cfg.Open(k.dir("source"), history.Retention{})
	if err != nil {
		return 0, fmt.Errorf("open the catch-up source: %w", err)
	}
	defer src.Close()
	if k.catchupRef == nil {
		if err := os.RemoveAll(k.dir("catchup-reference")); err != nil {
			return 0, err
		}
		rs, err := k.cfg.Open(k.dir("catchup-reference"), history.Retention{})
		if err != nil {
			return 0, fmt.Errorf("open the catch-up reference: %w", err)
		}
		k.catchupRef = &crashReference{s: rs}
	}
	k.catchupRef.source = src.UpdateAt
	k.catchupRef.genesis = func(ctx context.Context, dst CrashStore) error { return k.cfg.CopyGenesis(ctx, dst, src) }
	if err := k.catchupRef.compare(ctx, s, k.rep); err != nil {
		return 0, err
	}
	return held, nil
}

// ensureSource makes the catch-up source once: a fullstack child without
// retention runs on source/ until it reported SourceBlocks blocks, and
// stops cleanly (SIGINT).
func (k *killer) ensureSource(ctx context.Context) error {
	if k.sourceHead > 0 {
		return nil
	}
	dir := k.dir("source")
	if s, err := k.cfg.Open(dir, history.Retention{}); err == nil {
		h, herr := s.Head()
		_ = s.Close()
		if herr == nil && h.Number >= k.cfg.SourceBlocks {
			k.sourceHead = h.Number
			return nil
		}
	}
	k.cfg.Log.Info("Making the catch-up source", "blocks", k.cfg.SourceBlocks, "datadir", dir)
	c, err := startCrashChild(k.cfg.Command(k.ingestArgs(dir, false)), parseStatusHead)
	if err != nil {
		return err
	}
	tk := time.NewTicker(100 * time.Millisecond)
	defer tk.Stop()
	for {
		if n, ok := c.reported(); ok && n >= k.cfg.SourceBlocks {
			break
		}
		select {
		case <-ctx.Done():
			c.kill()
			return ctx.Err()
		case <-c.exited:
			return fmt.Errorf("the catch-up source exited: %v; its last lines:\n%s", c.err, c.tail())
		case <-tk.C:
		}
	}
	if err := c.cmd.Process.Signal(syscall.SIGINT); err != nil {
		return err
	}
	<-c.exited
	s, err := k.cfg.Open(dir, history.Retention{})
	if err != nil {
		return fmt.Errorf("open the catch-up source: %w", err)
	}
	defer s.Close()
	h, err := s.Head()
	if err != nil {
		return err
	}
	k.sourceHead = h.Number
	return nil
}

// crashChild is one strata child of a crash run, its stderr read line by
// line for the blocks it reports committed.
type crashChild struct {
	cmd    *exec.Cmd
	parse  func(line string) (uint64, bool)
	exited chan struct{}
	err    error // valid once exited is closed

	mu      sync.Mutex
	last    uint64
	any     bool
	serving bool
	lines   []string // the last few lines
	done    bool     // the child said it finished
}

// parseStatusHead reads the head of a `strata run` status line.
func parseStatusHead(line string) (uint64, bool) {
	if !strings.Contains(line, `"msg":"Status"`) {
		return 0, false
	}
	var st struct {
		Head uint64 `json:"head"`
	}
	if json.Unmarshal([]byte(line), &st) != nil {
		return 0, false
	}
	return st.Head, true
}

var catchupHead = regexp.MustCompile(`head (\d+)`)

// parseCatchupHead reads the head of a `strata catchup` progress line (one
// per committed batch).
func parseCatchupHead(line string) (uint64, bool) {
	if !strings.Contains(line, `"task":"catch-up"`) {
		return 0, false
	}
	var p struct {
		Detail string `json:"detail"`
	}
	if json.Unmarshal([]byte(line), &p) != nil {
		return 0, false
	}
	m := catchupHead.FindStringSubmatch(p.Detail)
	if m == nil {
		return 0, false
	}
	n, err := strconv.ParseUint(m[1], 10, 64)
	return n, err == nil
}

func startCrashChild(cmd *exec.Cmd, parse func(string) (uint64, bool)) (*crashChild, error) {
	out, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = nil
	setPdeathsig(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", strings.Join(cmd.Args, " "), err)
	}
	c := &crashChild{cmd: cmd, parse: parse, exited: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			c.line(sc.Text())
		}
		_, _ = io.Copy(io.Discard, out)
		c.err = cmd.Wait()
		close(c.exited)
	}()
	return c, nil
}

func (c *crashChild) line(l string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n, ok := c.parse(l); ok && (!c.any || n > c.last) {
		c.last, c.any = n, true
	}
	if strings.Contains(l, `"msg":"Strata is serving"`) {
		c.serving = true
	}
	if strings.Contains(l, "replayed ") || strings.Contains(l, `"msg":"Nothing to replay"`) {
		c.done = true
	}
	if len(c.lines) == 8 {
		c.lines = c.lines[1:]
	}
	c.lines = append(c.lines, l)
}

// reported is the last block the child reported committed.
func (c *crashChild) reported() (uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last, c.any
}

func (c *crashChild) tail() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.lines, "\n")
}

// waitReported waits until the child reports a block, ends, or timeout
// or ctx runs out.
func (c *crashChild) waitReported(ctx context.Context, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	tk := time.NewTicker(5 * time.Millisecond)
	defer tk.Stop()
	for time.Now().Before(deadline) {
		if _, ok := c.reported(); ok {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-c.exited:
			return
		case <-tk.C:
		}
	}
}

// cleanExit reports whether the child ended by itself without an error.
func (c *crashChild) cleanExit() bool { return c.err == nil }

// killAfter SIGKILLs the child after d and waits for it to end; it returns
// what the child was doing (as far as its output says) and, when it ended
// by itself first, how.
func (c *crashChild) killAfter(d time.Duration) (phase string, exited error) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.exited:
		if c.err == nil {
			return "finished", nil
		}
		return "exited", fmt.Errorf("exit: %w", c.err)
	case <-t.C:
	}
	c.mu.Lock()
	phase = "startup"
	switch {
	case c.serving:
		phase = "running"
	case c.any:
		phase = "committing"
	}
	c.mu.Unlock()
	c.kill()
	return phase, nil
}

func (c *crashChild) kill() {
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.exited
}
