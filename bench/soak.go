package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// SoakConfig describes a soak (strata bench soak): a source strata making
// a chain at a load profile, a second strata following it over the block
// stream and serving proofs, and open-loop eth_getProof clients against the
// follower, stepping through Clients while the victim runs throughout.
type SoakConfig struct {
	// Command returns the command running the strata binary with args (its
	// output is redirected by Soak).
	Command func(args []string) *exec.Cmd
	// SourceArgs are the arguments that run a fullstack source at the load
	// profile; Soak appends the node flags (--datadir, the ports,
	// --log.format, --status.interval, --slo.contract,
	// --sequencer.block_time).
	SourceArgs []string
	Profile    string // the profile's name, for the report
	BlockTime  time.Duration
	// Contract holds the lag SLOs judged; ContractPath is handed to both
	// nodes as slo.contract, so their /readyz judges the same ones.
	Contract     *Contract
	ContractPath string
	// Warmup is the least time followed before measuring; the window then
	// starts once the follower is ready, or ReadyWait later regardless
	// (default 2 m: a follower that cannot keep its SLOs is measured, not
	// waited for).
	Warmup    time.Duration
	ReadyWait time.Duration
	// VictimAlone is the first phase of the window: the victim alone.
	VictimAlone time.Duration
	// Duration is split in equal phases, one per entry of Clients.
	Duration time.Duration
	Clients  []int
	// Rate is each client's constant arrival rate, requests per second;
	// VictimRate the victim's.
	Rate       float64
	VictimRate float64
	// InFlight bounds each client's outstanding requests (default 32).
	InFlight int
	// RequestTimeout bounds one request (default 10 s).
	RequestTimeout time.Duration
	// SetupTimeout bounds starting both nodes and the warmup (default 30 m:
	// a large initial state takes minutes to build).
	SetupTimeout time.Duration
	Addresses    []common.Address // accounts proven (absent ones give exclusion proofs)
	Slots        []common.Hash    // storage keys asked with every proof
	// DataDir holds the two stores; empty means a temporary directory,
	// removed afterwards.
	DataDir string
	// LogDir receives source.log and follower.log.
	LogDir      string
	SampleEvery time.Duration // default 1 s
	BucketEvery time.Duration // default 10 s
	Seed        uint64
	Log         *slog.Logger
}

func (c *SoakConfig) validate() error {
	var errs []error
	if c.Command == nil || len(c.SourceArgs) == 0 {
		errs = append(errs, errors.New("a command and the source's arguments are needed"))
	}
	if c.Contract == nil {
		errs = append(errs, errors.New("a contract is needed"))
	}
	if c.Duration <= 0 || c.VictimAlone < 0 || c.Warmup < 0 {
		errs = append(errs, fmt.Errorf("duration must be positive and warmup, victim-alone not negative (got %s, %s, %s)", c.Duration, c.Warmup, c.VictimAlone))
	}
	if len(c.Clients) == 0 {
		errs = append(errs, errors.New("at least one client count is needed"))
	}
	for _, n := range c.Clients {
		if n <= 0 {
			errs = append(errs, fmt.Errorf("client count %d: must be positive", n))
		}
	}
	if c.Rate <= 0 || c.VictimRate < 0 {
		errs = append(errs, fmt.Errorf("rate must be positive and victim rate not negative (got %g, %g)", c.Rate, c.VictimRate))
	}
	if len(c.Addresses) == 0 {
		errs = append(errs, errors.New("addresses to prove are needed"))
	}
	if c.LogDir == "" {
		errs = append(errs, errors.New("a log directory is needed"))
	}
	if c.BlockTime <= 0 {
		errs = append(errs, fmt.Errorf("block time %s: must be positive", c.BlockTime))
	}
	return errors.Join(errs...)
}

func (c *SoakConfig) defaults() {
	if c.InFlight <= 0 {
		c.InFlight = 32
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 10 * time.Second
	}
	if c.ReadyWait <= 0 {
		c.ReadyWait = 2 * time.Minute
	}
	if c.SetupTimeout <= 0 {
		c.SetupTimeout = 30 * time.Minute
	}
	if c.SampleEvery <= 0 {
		c.SampleEvery = time.Second
	}
	if c.BucketEvery <= 0 {
		c.BucketEvery = 10 * time.Second
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
}

// soakPhases lays out the window: the victim alone, then one equal part of
// duration per client count.
func soakPhases(alone, duration time.Duration, clients []int, rate float64) []SoakPhase {
	var out []SoakPhase
	at := time.Duration(0)
	if alone > 0 {
		out = append(out, SoakPhase{Clients: 0, Start: 0, End: alone})
		at = alone
	}
	part := duration / time.Duration(len(clients))
	for _, n := range clients {
		out = append(out, SoakPhase{Clients: n, Start: at, End: at + part, Offered: float64(n) * rate})
		at += part
	}
	return out
}

// phaseAt is the index of the phase holding at (the last one past the end).
func phaseAt(phases []SoakPhase, at time.Duration) int {
	for i, ph := range phases {
		if at < ph.End {
			return i
		}
	}
	return len(phases) - 1
}

// Soak runs the soak and judges it. It returns the report even when the
// run ended early (a node exited: Aborted says which); the error is then
// nil, since the report is the evidence. Setup failures return an error.
func Soak(ctx context.Context, cfg SoakConfig) (*SoakReport, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("soak: %w", err)
	}
	cfg.defaults()
	log := cfg.Log
	dir := cfg.DataDir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "strata-soak-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
	}
	if err := os.MkdirAll(cfg.LogDir, 0o755); err != nil {
		return nil, err
	}
	ports, err := freePorts(5)
	if err != nil {
		return nil, err
	}
	srcHTTP, srcGRPC, srcOps, folHTTP, folOps := ports[0], ports[1], ports[2], ports[3], ports[4]
	nodeFlags := func(datadir string, http, grpc, ops int) []string {
		args := []string{"--datadir", datadir, "--http.addr", "127.0.0.1", "--http.port", strconv.Itoa(http), "--ws.port", "0",
			"--grpc.port", strconv.Itoa(grpc), "--metrics.port", strconv.Itoa(ops), "--log.format", "json", "--status.interval", "10s",
			"--sequencer.block_time", cfg.BlockTime.String()}
		if cfg.ContractPath != "" {
			args = append(args, "--slo.contract", cfg.ContractPath)
		}
		return args
	}
	rep := &SoakReport{Profile: cfg.Profile, BlockTime: cfg.BlockTime, Clients: cfg.Clients, Rate: cfg.Rate, VictimRate: cfg.VictimRate,
		InFlight: cfg.InFlight, SampleEvery: cfg.SampleEvery, BucketEvery: cfg.BucketEvery}
	setupStart := time.Now()
	setupCtx, cancelSetup := context.WithTimeout(ctx, cfg.SetupTimeout)
	defer cancelSetup()

	srcArgs := append(append([]string(nil), cfg.SourceArgs...), nodeFlags(filepath.Join(dir, "source"), srcHTTP, srcGRPC, srcOps)...)
	log.Info("Soak: starting the source", "profile", cfg.Profile, "log", filepath.Join(cfg.LogDir, "source.log"))
	src, err := startSoakProc("source", cfg.Command(srcArgs), filepath.Join(cfg.LogDir, "source.log"), fmt.Sprintf("127.0.0.1:%d", srcOps))
	if err != nil {
		return nil, err
	}
	defer src.stop(time.Minute)
	if err := src.waitHealthy(setupCtx); err != nil {
		return nil, err
	}
	folArgs := append([]string{"run", "--mode", "follower", "--follower.url", fmt.Sprintf("strata://127.0.0.1:%d", srcGRPC)},
		nodeFlags(filepath.Join(dir, "follower"), folHTTP, 0, folOps)...)
	log.Info("Soak: starting the follower", "log", filepath.Join(cfg.LogDir, "follower.log"))
	fol, err := startSoakProc("follower", cfg.Command(folArgs), filepath.Join(cfg.LogDir, "follower.log"), fmt.Sprintf("127.0.0.1:%d", folOps))
	if err != nil {
		return nil, err
	}
	defer fol.stop(time.Minute)
	if err := fol.waitHealthy(setupCtx); err != nil {
		return nil, err
	}
	folS := newNodeSampler(fol.ops, fol.pid(), 2*time.Second)
	srcS := newNodeSampler(src.ops, src.pid(), 2*time.Second)

	// Warmup: at least Warmup, then until the follower is ready with a
	// history to prove, for at most ReadyWait more.
	warmStart := time.Now()
	readyCtx, cancelReady := context.WithDeadline(setupCtx, warmStart.Add(cfg.Warmup+cfg.ReadyWait))
	defer cancelReady()
	tk := time.NewTicker(cfg.SampleEvery)
	defer tk.Stop()
	for {
		s := folS.sample(readyCtx)
		if time.Since(warmStart) >= cfg.Warmup && s.Readyz == 200 && s.Head >= 2 {
			rep.ReadyAtStart = true
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-readyCtx.Done():
			s = folS.sample(ctx)
			log.Warn("Soak: the follower is not ready at the end of the warmup; measuring anyway", "readyz", s.Readyz, "why", s.NotReady, "head", s.Head)
		case <-src.exited:
			return nil, src.exitErr()
		case <-fol.exited:
			return nil, fol.exitErr()
		case <-tk.C:
			continue
		}
		break
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rep.Setup = time.Since(setupStart)

	// The measured window.
	phases := soakPhases(cfg.VictimAlone, cfg.Duration, cfg.Clients, cfg.Rate)
	window := phases[len(phases)-1].End
	log.Info("Soak: measuring", "window", window, "phases", len(phases), "setup", rep.Setup.Round(time.Second), "ready", rep.ReadyAtStart)
	t0 := time.Now()
	var head atomic.Uint64
	if st, err := folS.status(ctx); err == nil {
		head.Store(st.Head)
	}
	prover := newSoakProver(fmt.Sprintf("http://127.0.0.1:%d", folHTTP), cfg.Addresses, cfg.Slots, head.Load, cfg.RequestTimeout, t0)
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()

	var (
		mu      sync.Mutex
		samples []SoakSample
		wg      sync.WaitGroup
	)
	wg.Add(1)
	go func() { // the sampler
		defer wg.Done()
		tk := time.NewTicker(cfg.SampleEvery)
		defer tk.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-tk.C:
			}
			at := time.Since(t0)
			var s SoakSample
			var inner sync.WaitGroup
			inner.Add(2)
			go func() { defer inner.Done(); s.Follower = folS.sample(runCtx) }()
			go func() { defer inner.Done(); s.Source = srcS.sample(runCtx) }()
			inner.Wait()
			if runCtx.Err() != nil {
				return
			}
			s.At, s.Phase = at, phaseAt(phases, at)
			if s.Follower.StatusOK {
				head.Store(max(head.Load(), s.Follower.Head))
			}
			mu.Lock()
			samples = append(samples, s)
			mu.Unlock()
		}
	}()
	loadErr := make(chan error, 64)
	if cfg.VictimRate > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := prover.openLoop(runCtx, victimClient, cfg.VictimRate, cfg.InFlight, cfg.Seed); err != nil {
				loadErr <- fmt.Errorf("victim: %w", err)
			}
		}()
	}
	// A phase's clients stop scheduling at its end; their outstanding
	// requests finish while the next phase runs (waited for at the end).
	aborted := ""
	var clientsWG sync.WaitGroup
phases:
	for i, ph := range phases {
		phCtx, endPhase := context.WithCancel(runCtx)
		for c := range ph.Clients {
			clientsWG.Add(1)
			go func() {
				defer clientsWG.Done()
				if err := prover.openLoop(phCtx, c, cfg.Rate, cfg.InFlight, cfg.Seed+uint64(i+1)<<32); err != nil {
					loadErr <- fmt.Errorf("client %d of phase %d: %w", c, i, err)
				}
			}()
		}
		log.Info("Soak: phase", "phase", i, "clients", ph.Clients, "from", ph.Start, "to", ph.End)
		timer := time.NewTimer(time.Until(t0.Add(ph.End)))
		select {
		case <-timer.C:
		case <-ctx.Done():
			aborted = "interrupted: " + ctx.Err().Error()
		case <-src.exited:
			aborted = src.exitErr().Error()
		case <-fol.exited:
			aborted = fol.exitErr().Error()
		case err := <-loadErr:
			aborted = err.Error()
		}
		timer.Stop()
		endPhase()
		if aborted != "" {
			log.Warn("Soak: ended early", "why", aborted)
			break phases
		}
	}
	rep.Window = time.Since(t0)
	stopRun()
	clientsWG.Wait()
	wg.Wait()
	if err := fol.stop(time.Minute); err != nil && aborted == "" {
		log.Warn("Soak: the follower did not stop cleanly", "err", err)
	}
	if err := src.stop(time.Minute); err != nil && aborted == "" {
		log.Warn("Soak: the source did not stop cleanly", "err", err)
	}

	reqs := prover.requests()
	rep.Aborted = aborted
	rep.Phases = phases
	summarizePhases(rep.Phases, reqs)
	rep.Buckets = bucketize(reqs, cfg.BucketEvery, min(window, rep.Window))
	rep.Samples = samples
	rep.Verified, rep.VerifyFailed = prover.verified.Load(), prover.failed.Load()
	if bad := prover.firstFailure(); bad != nil {
		rep.FirstVerifyError = bad.Error()
	}
	from := rep.Window / 3
	rep.RSSTrend = fitTrend(samples, from, func(s SoakSample) (float64, bool) { return float64(s.Follower.RSS), s.Follower.RSS > 0 })
	rep.GoroutineTrend = fitTrend(samples, from, func(s SoakSample) (float64, bool) {
		return float64(s.Follower.Goroutines), s.Follower.Goroutines >= 0
	})
	rep.SourceRSSTrend = fitTrend(samples, from, func(s SoakSample) (float64, bool) { return float64(s.Source.RSS), s.Source.RSS > 0 })
	rep.Contract = *cfg.Contract
	rep.Verdicts = judgeSoak(rep, cfg.Contract)
	return rep, nil
}
