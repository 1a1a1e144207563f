package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/strata-chain/strata/api"
	"github.com/strata-chain/strata/api/slo"
	"github.com/strata-chain/strata/bench"
	"github.com/strata-chain/strata/catchup"
	"github.com/strata-chain/strata/follower"
	"github.com/strata-chain/strata/history/store"
	"github.com/strata-chain/strata/history/stream"
	"github.com/strata-chain/strata/retention"
	"github.com/strata-chain/strata/sequencer"
)

// node is one running Strata: store, producer (the in-process sequencer,
// engine mode's driver and follower of op-geth, or follower mode's
// follower), JSON-RPC, and the operator servers (metrics and readiness,
// gRPC).
//
// Lifecycle: newNode validates and builds, without I/O; Start opens the
// store, starts the producer and binds the listeners, in that order, and on
// any failure releases what it started; run makes blocks until its context
// ends or Stop; Stop shuts down gracefully (see Stop). A node is started at
// most once: after a failed Start or a Stop, build a new one.
type node struct {
	cfg     nodeConfig
	log     *slog.Logger
	reg     *prometheus.Registry
	metrics *nodeMetrics
	store   *store.Store
	// health is the opened store's Health, kept after Stop releases the
	// store so readiness can ask it at any time.
	health atomic.Pointer[func() error]
	seq    *sequencer.Sequencer    // fullstack and sequencer modes, in process
	drv    *sequencer.EngineDriver // fullstack and sequencer modes, engine mode
	fol    *follower.Follower      // follower mode, and engine mode's follower of op-geth
	api    *api.Server
	ops    *api.OpsServer
	grpc   *api.GRPCServer
	status *statusWindow
	slo    *slo.Monitor
	// committed is signalled after each ingested block or batch; retention
	// steps start on it, in the idle part of the slot.
	committed chan struct{}

	started  bool        // Start was called (set before its first I/O)
	up       bool        // Start succeeded
	draining atomic.Bool // Stop began: /readyz answers 503 from then on

	runMu     sync.Mutex
	stopping  bool               // Stop began: no run starts any more; guarded by runMu
	runCancel context.CancelFunc // ends the run in progress; nil when none; guarded by runMu
	runDone   chan struct{}      // closed when that run returns; guarded by runMu

	lastMu     sync.Mutex
	lastCommit time.Time // guarded by lastMu

	blockHooks  []func(sequencer.BlockInfo)
	engineHooks []func(sequencer.EngineBlockInfo)
	tmpGenesis  string // engine mode without a datadir: the genesis file to remove
}

// drainTimeout bounds how long Stop lets JSON-RPC and gRPC requests in
// flight finish before the producer stops and the store closes.
const drainTimeout = 5 * time.Second

// newNode checks cfg and builds the node's registry, SLO monitor and
// metrics. It does no I/O: Start opens the store and binds the listeners.
func newNode(cfg nodeConfig, log *slog.Logger) (*node, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Mode == "sequencer" {
		cfg.Sequencer.Load.GasPerSecond = 0
	}
	if cfg.Retention.Recent > 0 {
		var err error
		if cfg.Store.Retention, err = cfg.Retention.Blocks(cfg.Sequencer.BlockTime); err != nil {
			return nil, err
		}
		cfg.Store.Policy = retention.NewPolicy(cfg.Store.Retention)
	}
	n := &node{cfg: cfg, log: log, reg: prometheus.NewRegistry(), status: newStatusWindow(5 * time.Second), committed: make(chan struct{}, 1)}
	n.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	contract := cfg.Contract
	if contract == nil {
		contract = bench.DefaultContract()
	}
	contract = contract.Scaled(cfg.Sequencer.BlockTime)
	n.slo = slo.New(slo.Objectives{MaxLagBlocks: uint64(contract.MaxLagBlocks), MaxLag: contract.MaxLag, IngestP99: contract.IngestP99,
		Window: time.Minute, HoldDown: contract.SLOHoldDown}, time.Now)
	n.metrics = newNodeMetrics(n.reg, n.slo, n.mode, n.tiers)
	return n, nil
}

// startNode builds and starts a node: newNode then Start.
func startNode(ctx context.Context, cfg nodeConfig, log *slog.Logger) (*node, error) {
	n, err := newNode(cfg, log)
	if err != nil {
		return nil, err
	}
	if err := n.Start(ctx); err != nil {
		return nil, err
	}
	return n, nil
}

// Start opens the store, starts the producer and binds the JSON-RPC, ops
// and gRPC listeners. ctx bounds the start only (dialing an upstream,
// binding). On an error nothing it started is left running or open, and
// the error names the cause in one line: the port in use with its key,
// the genesis file, the locked datadir, the store's schema version.
func (n *node) Start(ctx context.Context) (err error) {
	if n.started {
		return errors.New("node already started")
	}
	n.started = true
	defer func() {
		if err != nil {
			// Release what was started; the start's error is the one to report.
			if cerr := n.release(); cerr != nil {
				n.log.Warn("Releasing after a failed start", "err", cerr)
			}
		}
	}()
	cfg, log := n.cfg, n.log
	if err := n.openStore(); err != nil {
		return err
	}
	if err := n.store.RegisterMetrics(n.reg); err != nil {
		return err
	}
	var apiCfg api.Config
	switch {
	case cfg.engineMode():
		if apiCfg, err = n.startEngine(n.metrics, n.record); err != nil {
			return err
		}
	case cfg.Mode == "follower":
		if apiCfg, err = n.startFollower(ctx); err != nil {
			return err
		}
	default:
		if n.seq, err = sequencer.Open(cfg.Sequencer, n.store, log.With("module", "sequencer")); err != nil {
			return err
		}
		n.seq.OnBlock(func(info sequencer.BlockInfo) {
			lag := info.Committed.Sub(info.Due)
			n.slo.Upstream(info.Number, info.Due)
			n.record(info.Number, info.Txs, info.Ingest, info.Committed, lag)
			n.metrics.observe(info)
			for _, h := range n.blockHooks {
				h(info)
			}
		})
		apiCfg = api.Config{ChainConfig: n.seq.ChainConfig(), RollupConfig: n.seq.RollupConfig(), Reader: n.store, TxPool: n.seq, Log: log.With("module", "api")}
	}
	if err := n.startServers(ctx, apiCfg); err != nil {
		return err
	}
	n.up = true
	return nil
}

// openStore opens the store in the datadir (in memory without one). The
// errors an operator meets on a restart name their remedy: a datadir
// another process holds, a store of a schema this build does not read.
func (n *node) openStore() error {
	err := n.openStoreAt()
	if err == nil {
		health := n.store.Health
		n.health.Store(&health)
	}
	return err
}

func (n *node) openStoreAt() error {
	var err error
	if n.cfg.DataDir == "" {
		n.store, err = store.OpenMem(n.cfg.Store)
		return err
	}
	if err := os.MkdirAll(n.cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("create datadir: %w", err)
	}
	n.store, err = store.Open(n.cfg.DataDir, n.cfg.Store, n.log.With("module", "history"))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EWOULDBLOCK):
		// Pebble's LOCK file is held (fcntl F_SETLK refused).
		return fmt.Errorf("datadir %s is locked by another process (another strata running on it?): stop it or give another --datadir (%w)", n.cfg.DataDir, err)
	case errors.As(err, new(*store.SchemaError)):
		return fmt.Errorf("datadir %s: %w; to rebuild it, replay the chain into a new datadir with `strata catchup --source <strata://host:grpc-port or a datadir> --datadir <new dir>`, or follow the upstream into a new datadir", n.cfg.DataDir, err)
	}
	return fmt.Errorf("datadir %s: %w", n.cfg.DataDir, err)
}

// startFollower starts follower mode's follower: it dials the upstream
// and checks (or loads) the genesis. It returns the API's configuration.
func (n *node) startFollower(ctx context.Context) (api.Config, error) {
	cfg, log := n.cfg, n.log
	var err error
	if n.fol, err = follower.New(cfg.Follower, n.store, log.With("module", "follower")); err != nil {
		return api.Config{}, err
	}
	if err := n.fol.Start(ctx); err != nil {
		return api.Config{}, err
	}
	m := n.metrics
	n.fol.OnUpstreamHead(func(number uint64, at time.Time) { n.slo.Upstream(number, at) })
	n.fol.OnBlock(func(info follower.BlockInfo) {
		// Lag: from when the upstream was seen to hold the block to its commit.
		n.record(info.Number, info.Txs, info.Ingest, info.Committed, info.Committed.Sub(info.Seen))
	})
	n.fol.OnBatch(func(b catchup.Batch) {
		n.slo.Committed(b.To, 0)
		n.signalCommitted()
		m.catchupBlocks.Add(float64(b.To - b.From + 1))
		m.catchupRate.Set(float64(b.To-b.From+1) / (b.Wait + b.Prepare + b.Commit).Seconds())
		m.head.Set(float64(b.To))
		n.lastMu.Lock()
		n.lastCommit = time.Now()
		n.lastMu.Unlock()
	})
	apiCfg := api.Config{ChainConfig: n.fol.ChainConfig(), Reader: n.store, Log: log.With("module", "api")}
	if cfg.RollupFile != "" {
		if apiCfg.RollupConfig, err = n.checkedRollup(cfg.RollupFile); err != nil {
			return api.Config{}, err
		}
	}
	return apiCfg, nil
}

// startServers binds the JSON-RPC listeners, then the ops and gRPC ones
// when their ports are set. A port in use is reported with its key.
func (n *node) startServers(ctx context.Context, apiCfg api.Config) error {
	cfg, log := n.cfg, n.log
	apiCfg.FutureWait = cfg.FutureWait
	apiCfg.Tiers = n.tiers
	apiCfg.ProofLatency = n.metrics.proof
	apiCfg.DebugMetrics = api.NewDebugMetrics(n.reg) // in-flight, rejected and latency of the proof-host debug calls
	apis, err := api.NewAPIs(apiCfg)
	if err != nil {
		return err
	}
	posture := cfg.Posture
	posture.Addr, posture.HTTPPort, posture.WSPort = cfg.HTTPAddr, cfg.HTTPPort, cfg.WSPort
	srv, err := api.NewServer(posture, apis, log.With("module", "api"))
	if err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		return fmt.Errorf("http.port %d, ws.port %d: %w", cfg.HTTPPort, cfg.WSPort, err)
	}
	n.api = srv
	if cfg.MetricsPort != 0 {
		ops, err := api.NewOpsServer(api.OpsConfig{Addr: net.JoinHostPort(loopbackIfEmpty(cfg.MetricsAddr), strconv.Itoa(cfg.MetricsPort)),
			Gatherer: n.reg, Ready: n.ready, Status: n.nodeStatus, Log: log})
		if err != nil {
			return err
		}
		if err := ops.Start(ctx); err != nil {
			return fmt.Errorf("metrics.port %d: %w", cfg.MetricsPort, err)
		}
		n.ops = ops
	}
	if cfg.GRPCPort != 0 {
		g := api.NewGRPCServer(api.GRPCConfig{Addr: net.JoinHostPort(loopbackIfEmpty(cfg.GRPCAddr), strconv.Itoa(cfg.GRPCPort)), Status: n.nodeStatus, Log: log})
		st := n.store
		stream.Register(g.Server(), st, func() (stream.GenesisExport, error) { return st.GenesisState() })
		if err := g.Start(ctx); err != nil {
			return fmt.Errorf("grpc.port %d: %w", cfg.GRPCPort, err)
		}
		n.grpc = g
	}
	return nil
}

// run makes blocks and prints the status line until ctx is cancelled or
// Stop ends it. The node must have started; run may be called again after
// it returned, but not twice at once. Once Stop began, run returns nil at
// once: the shutdown asked for is no failure of the run.
func (n *node) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	n.runMu.Lock()
	switch {
	case n.stopping:
		n.runMu.Unlock()
		return nil
	case !n.up:
		n.runMu.Unlock()
		return errors.New("node not started: call Start before run")
	case n.runCancel != nil:
		n.runMu.Unlock()
		return errors.New("node already running")
	}
	n.runCancel, n.runDone = cancel, done
	n.runMu.Unlock()
	defer func() {
		n.runMu.Lock()
		n.runCancel, n.runDone = nil, nil
		n.runMu.Unlock()
		close(done)
	}()
	if n.cfg.StatusInterval > 0 {
		go n.statusLoop(ctx)
	}
	if n.cfg.Store.Retention.Enabled() {
		rctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			rcfg := retention.DefaultConfig(n.cfg.Sequencer.BlockTime)
			rcfg.Committed = n.committed
			if err := retention.Run(rctx, rcfg, n.store, n.log.With("module", "retention"), nil); err != nil {
				n.log.Error("Retention stopped", "err", err)
			}
		}()
		defer func() { stop(); <-done }()
	}
	return n.holdOnDiskFault(ctx, n.produce(ctx))
}

// produce runs the producer (engine driver, follower or sequencer) until ctx
// ends or it fails.
func (n *node) produce(ctx context.Context) error {
	switch {
	case n.drv != nil:
		return n.runEngine(ctx)
	case n.fol != nil:
		return n.fol.Run(ctx)
	}
	return n.seq.Run(ctx)
}

// holdOnDiskFault keeps a node whose store stopped writing on a disk fault
// (a full disk, an fsync error) serving what it holds: ingest has stopped,
// readiness says why, and run returns the fault only when ctx ends, so the
// process then exits non-zero naming it. Any other producer error returns
// at once.
func (n *node) holdOnDiskFault(ctx context.Context, err error) error {
	fault := n.store.Health()
	if err == nil || fault == nil {
		return err
	}
	head, _ := n.store.Head()
	n.log.Error("Ingest stopped on a disk fault; serving the blocks held until stopped", "fault", fault, "head", head.Number)
	<-ctx.Done()
	return fmt.Errorf("ingest stopped on a disk fault: %w", fault)
}

// Stop shuts the node down gracefully, in this order: readiness turns
// false (/readyz answers 503); the JSON-RPC and gRPC servers stop
// accepting and let the requests in flight finish, for up to drainTimeout
// (less if ctx ends first), while the producer still makes blocks, so a
// request waiting for a future block (api.future_wait) gets it; then the
// run in progress is ended and awaited, the ops server stops, the producer
// is released and the store closes last, so every ingested block is
// durable. If ctx ends before the run returns, the store is left open
// (closing it under a writer is worse than leaving it to the process exit)
// and Stop says so. Stop is idempotent and safe on a node whose Start
// failed part way.
func (n *node) Stop(ctx context.Context) error {
	n.draining.Store(true)
	drainCtx, cancel := context.WithTimeout(ctx, drainTimeout)
	defer cancel()
	var errs []error
	var wg sync.WaitGroup
	if g := n.grpc; g != nil {
		n.grpc = nil
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A follower's block stream never ends by itself: it is cut at
			// the drain deadline, which is not an error (GRPCServer.Stop).
			if err := g.Stop(drainCtx); err != nil {
				n.log.Warn("gRPC drain", "err", err)
			}
		}()
	}
	if s := n.api; s != nil {
		n.api = nil
		if err := s.Stop(drainCtx); errors.Is(err, context.DeadlineExceeded) {
			// Not a failure of the shutdown: the store still closes cleanly.
			n.log.Warn("JSON-RPC requests still in flight at the drain deadline are abandoned", "drain_timeout", drainTimeout)
		} else if err != nil {
			errs = append(errs, fmt.Errorf("drain JSON-RPC: %w", err))
		}
	}
	wg.Wait()
	n.runMu.Lock()
	n.stopping = true
	stopRun, runDone := n.runCancel, n.runDone
	n.runMu.Unlock()
	if stopRun != nil {
		stopRun()
		select {
		case <-runDone:
		case <-ctx.Done():
			return errors.Join(append(errs, fmt.Errorf("the producer did not stop before the shutdown deadline (%w): store left open", ctx.Err()))...)
		}
	}
	if n.ops != nil {
		errs = append(errs, n.ops.Stop(ctx))
		n.ops = nil
	}
	errs = append(errs, n.release())
	return errors.Join(errs...)
}

// release closes the producer and the store, and any server still up
// (after a failed Start). It is idempotent.
func (n *node) release() error {
	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	var errs []error
	if n.grpc != nil {
		errs = append(errs, n.grpc.Stop(ctx))
		n.grpc = nil
	}
	if n.ops != nil {
		errs = append(errs, n.ops.Stop(ctx))
		n.ops = nil
	}
	if n.api != nil {
		errs = append(errs, n.api.Close())
		n.api = nil
	}
	if n.seq != nil {
		errs = append(errs, n.seq.Stop(ctx))
	}
	if n.drv != nil {
		n.drv.Close()
		n.drv = nil
	}
	if n.fol != nil {
		n.fol.Stop()
	}
	if n.tmpGenesis != "" {
		errs = append(errs, os.Remove(n.tmpGenesis))
		n.tmpGenesis = ""
	}
	if n.store != nil {
		errs = append(errs, n.store.Close())
		n.store = nil
	}
	return errors.Join(errs...)
}

// Close is Stop with half a minute for the whole shutdown, for callers
// that have not moved to Stop(ctx). It is idempotent.
//
// Deprecated: call Stop with the shutdown's deadline.
func (n *node) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return n.Stop(ctx)
}
