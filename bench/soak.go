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

// soakPorts are the loopback ports of the two nodes.
type soakPorts struct {
	srcHTTP, srcGRPC, srcOps, folHTTP, folOps int
}

// soakRun is a soak under way: its configuration, the two nodes with
// their samplers, and the report it fills.
type soakRun struct {
	cfg        SoakConfig
	log        *slog.Logger
	ports      soakPorts
	rep        *SoakReport
	src, fol   *soakProc
	srcS, folS *nodeSampler
}

// Soak runs the soak and judges it. It returns the report even when the
// run ended early (a node exited: Aborted says which); the error is then
// nil, since the report is the evidence. Setup failures return an error.
func Soak(ctx context.Context, cfg SoakConfig) (*SoakReport, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("soak: %w", err)
	}
	cfg.defaults()
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
	r := &soakRun{cfg: cfg, log: cfg.Log, rep: newSoakReport(&cfg),
		ports: soakPorts{srcHTTP: ports[0], srcGRPC: ports[1], srcOps: ports[2], folHTTP: ports[3], folOps: ports[4]}}
	setupStart := time.Now()
	setupCtx, cancelSetup := context.WithTimeout(ctx, cfg.SetupTimeout)
	defer cancelSetup()
	defer r.stopNodes(false)
	if err := r.startNodes(setupCtx, dir); err != nil {
		return nil, err
	}
	if err := r.warmup(ctx, setupCtx); err != nil {
		return nil, err
	}
	r.rep.Setup = time.Since(setupStart)
	w := r.measure(ctx)
	r.stopNodes(w.aborted == "")
	r.report(w)
	return r.rep, nil
}

// newSoakReport is the report of a soak with cfg, before it ran.
func newSoakReport(cfg *SoakConfig) *SoakReport {
	return &SoakReport{Profile: cfg.Profile, BlockTime: cfg.BlockTime, Clients: cfg.Clients, Rate: cfg.Rate, VictimRate: cfg.VictimRate,
		InFlight: cfg.InFlight, SampleEvery: cfg.SampleEvery, BucketEvery: cfg.BucketEvery}
}

// nodeFlags are the flags Soak gives either node.
func (r *soakRun) nodeFlags(datadir string, http, grpc, ops int) []string {
	args := []string{"--datadir", datadir, "--http.addr", "127.0.0.1", "--http.port", strconv.Itoa(http), "--ws.port", "0",
		"--grpc.port", strconv.Itoa(grpc), "--metrics.port", strconv.Itoa(ops), "--log.format", "json", "--status.interval", "10s",
		"--sequencer.block_time", r.cfg.BlockTime.String()}
	if r.cfg.ContractPath != "" {
		args = append(args, "--slo.contract", r.cfg.ContractPath)
	}
	return args
}

// startNodes starts the source, then the follower of its block stream,
// each until healthy, and makes their samplers. The nodes started are
// kept even on an error, for stopNodes.
func (r *soakRun) startNodes(ctx context.Context, dir string) error {
	p := r.ports
	srcArgs := append(append([]string(nil), r.cfg.SourceArgs...), r.nodeFlags(filepath.Join(dir, "source"), p.srcHTTP, p.srcGRPC, p.srcOps)...)
	r.log.Info("Soak: starting the source", "profile", r.cfg.Profile, "log", filepath.Join(r.cfg.LogDir, "source.log"))
	var err error
	if r.src, err = r.startNode(ctx, "source", srcArgs, p.srcOps); err != nil {
		return err
	}
	folArgs := append([]string{"run", "--mode", "follower", "--follower.url", fmt.Sprintf("strata://127.0.0.1:%d", p.srcGRPC)},
		r.nodeFlags(filepath.Join(dir, "follower"), p.folHTTP, 0, p.folOps)...)
	r.log.Info("Soak: starting the follower", "log", filepath.Join(r.cfg.LogDir, "follower.log"))
	if r.fol, err = r.startNode(ctx, "follower", folArgs, p.folOps); err != nil {
		return err
	}
	r.folS = newNodeSampler(r.fol.ops, r.fol.pid(), 2*time.Second)
	r.srcS = newNodeSampler(r.src.ops, r.src.pid(), 2*time.Second)
	return nil
}

// startNode starts the node name with args, its log <LogDir>/<name>.log,
// and waits until it is healthy; the process is returned even then.
func (r *soakRun) startNode(ctx context.Context, name string, args []string, ops int) (*soakProc, error) {
	p, err := startSoakProc(name, r.cfg.Command(args), filepath.Join(r.cfg.LogDir, name+".log"), fmt.Sprintf("127.0.0.1:%d", ops))
	if err != nil {
		return nil, err
	}
	return p, p.waitHealthy(ctx)
}

// warmup follows for at least Warmup, then until the follower is ready
// with a history to prove, for at most ReadyWait more (setupCtx bounds it
// too). ctx ending or a node exiting fails it.
func (r *soakRun) warmup(ctx, setupCtx context.Context) error {
	warmStart := time.Now()
	readyCtx, cancelReady := context.WithDeadline(setupCtx, warmStart.Add(r.cfg.Warmup+r.cfg.ReadyWait))
	defer cancelReady()
	tk := time.NewTicker(r.cfg.SampleEvery)
	defer tk.Stop()
	for {
		s := r.folS.sample(readyCtx)
		if time.Since(warmStart) >= r.cfg.Warmup && s.Readyz == 200 && s.Head >= 2 {
			r.rep.ReadyAtStart = true
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-readyCtx.Done():
			s = r.folS.sample(ctx)
			r.log.Warn("Soak: the follower is not ready at the end of the warmup; measuring anyway", "readyz", s.Readyz, "why", s.NotReady, "head", s.Head)
		case <-r.src.exited:
			return r.src.exitErr()
		case <-r.fol.exited:
			return r.fol.exitErr()
		case <-tk.C:
			continue
		}
		break
	}
	return ctx.Err()
}

// stopNodes stops the follower, then the source, whichever were started
// (stopping again does nothing); with warn, one that does not stop
// cleanly is warned of.
func (r *soakRun) stopNodes(warn bool) {
	for _, p := range []*soakProc{r.fol, r.src} {
		if p == nil {
			continue
		}
		if err := p.stop(time.Minute); err != nil && warn {
			r.log.Warn("Soak: the "+p.name+" did not stop cleanly", "err", err)
		}
	}
}

// report fills the report from the window's requests and samples, fits
// the trends and judges it.
func (r *soakRun) report(w *soakWindow) {
	rep, cfg := r.rep, &r.cfg
	reqs := w.prover.requests()
	rep.Aborted = w.aborted
	rep.Phases = w.phases
	summarizePhases(rep.Phases, reqs)
	rep.Buckets = bucketize(reqs, cfg.BucketEvery, min(w.phases[len(w.phases)-1].End, rep.Window))
	rep.Samples = w.samples
	rep.Verified, rep.VerifyFailed = w.prover.verified.Load(), w.prover.failed.Load()
	if bad := w.prover.firstFailure(); bad != nil {
		rep.FirstVerifyError = bad.Error()
	}
	from := rep.Window / 3
	rep.RSSTrend = fitTrend(w.samples, from, func(s SoakSample) (float64, bool) { return float64(s.Follower.RSS), s.Follower.RSS > 0 })
	rep.GoroutineTrend = fitTrend(w.samples, from, func(s SoakSample) (float64, bool) {
		return float64(s.Follower.Goroutines), s.Follower.Goroutines >= 0
	})
	rep.SourceRSSTrend = fitTrend(w.samples, from, func(s SoakSample) (float64, bool) { return float64(s.Source.RSS), s.Source.RSS > 0 })
	rep.Contract = *cfg.Contract
	rep.Verdicts = judgeSoak(rep, cfg.Contract)
}
