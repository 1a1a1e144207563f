package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ethereum-optimism/optimism/op-node/rollup"
	"github.com/ethereum/go-ethereum/core"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-chain/strata/api"
	"github.com/strata-chain/strata/follower"
	"github.com/strata-chain/strata/history/chain"
	"github.com/strata-chain/strata/sequencer"
)

// genesisFileName is the genesis engine mode keeps in the datadir: the one
// op-geth was initialised from, which the follower of op-geth reads.
const genesisFileName = "genesis.json"

// startEngine starts engine mode: the driver that has op-geth build the
// blocks, and a follower of op-geth that ingests them into the store. It
// returns the API's configuration.
func (n *node) startEngine(m *nodeMetrics, record func(number uint64, txs int, ingest time.Duration, committed time.Time, lag time.Duration)) (api.Config, error) {
	cfg, log := n.cfg, n.log
	ctx := context.Background()
	var err error
	if n.drv, err = sequencer.OpenEngineDriver(ctx, cfg.Sequencer, cfg.Engine, log.With("module", "sequencer")); err != nil {
		return api.Config{}, err
	}
	path, err := n.writeGenesis(n.drv.Genesis())
	if err != nil {
		return api.Config{}, err
	}
	fcfg := cfg.Follower
	fcfg.URL, fcfg.GenesisFile, fcfg.ChainConfig = cfg.Engine.RPCURL, path, nil
	if n.fol, err = follower.New(fcfg, n.store, log.With("module", "follower")); err != nil {
		return api.Config{}, fmt.Errorf("follow op-geth: %w", err)
	}
	if err := n.fol.Start(ctx); err != nil {
		return api.Config{}, fmt.Errorf("follow op-geth: %w", err)
	}
	em := newEngineMetrics(n.reg)
	n.drv.OnCall(em.observe)
	drv := n.drv
	drv.OnBlock(func(info sequencer.EngineBlockInfo) {
		n.slo.Upstream(info.Number, info.Sealed)
		m.build.Observe((info.StartBuild + info.GetPayload + info.NewPayload + info.SetHead).Seconds())
		m.txs.Add(float64(info.Txs))
		m.gas.Add(float64(info.GasUsed))
		for _, h := range n.engineHooks {
			h(info)
		}
	})
	n.fol.OnBlock(func(info follower.BlockInfo) {
		// Lag: from the block's slot to its commit, as the in-process
		// sequencer measures it.
		due := time.UnixMilli(int64(drv.BlockMillis(info.Number)))
		record(info.Number, info.Txs, info.Ingest, info.Committed, info.Committed.Sub(due))
	})
	return api.Config{ChainConfig: drv.ChainConfig(), RollupConfig: drv.RollupConfig(), Reader: n.store, TxPool: drv,
		Log: log.With("module", "api")}, nil
}

// runEngine runs the driver and the follower until ctx ends or one fails.
func (n *node) runEngine(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	go func() {
		if err := n.drv.Run(ctx); err != nil {
			errc <- fmt.Errorf("engine driver: %w", err)
			return
		}
		errc <- nil
	}()
	go func() {
		if err := n.fol.Run(ctx); err != nil {
			errc <- fmt.Errorf("follower of op-geth: %w", err)
			return
		}
		errc <- nil
	}()
	first := <-errc
	cancel()
	return errors.Join(first, <-errc)
}

// writeGenesis keeps g, the genesis op-geth runs, in the datadir's
// genesis.json for the follower (and an operator) to read; a file already
// there must be the same genesis. Without a datadir it goes to a temporary
// file, removed on Close.
func (n *node) writeGenesis(g *core.Genesis) (string, error) {
	raw, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return "", err
	}
	if n.cfg.DataDir == "" {
		f, err := os.CreateTemp("", "strata-genesis-*.json")
		if err != nil {
			return "", err
		}
		n.tmpGenesis = f.Name()
		_, err = f.Write(raw)
		return f.Name(), errors.Join(err, f.Close())
	}
	path := filepath.Join(n.cfg.DataDir, genesisFileName)
	if old, err := readGenesisFile(path); err == nil {
		if have, want := old.ToBlock().Hash(), g.ToBlock().Hash(); have != want {
			return "", fmt.Errorf("%s holds genesis %s, op-geth runs %s: the datadir belongs to another chain (remove it, or give another --datadir)", path, have, want)
		}
		return path, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	return path, writeFileAtomic(path, raw)
}

// checkedRollup reads follower mode's rollup.json and checks it describes
// the followed chain (its genesis, chain ID and forks).
func (n *node) checkedRollup(path string) (*rollup.Config, error) {
	rc, err := chain.ReadRollupConfig(path)
	if err != nil {
		return nil, err
	}
	h0, err := n.store.HeaderByNumber(0)
	if err != nil {
		return nil, fmt.Errorf("read the genesis header: %w", err)
	}
	if err := chain.CheckRollup(rc, n.fol.ChainConfig(), h0); err != nil {
		return nil, fmt.Errorf("rollup.config %s: %w", path, err)
	}
	return rc, nil
}

func readGenesisFile(path string) (*core.Genesis, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	g := new(core.Genesis)
	if err := json.Unmarshal(raw, g); err != nil {
		return nil, fmt.Errorf("genesis %s: %w", path, err)
	}
	return g, nil
}

// writeFileAtomic writes raw to path through a temporary file and a rename,
// so a reader never sees half a file.
func writeFileAtomic(path string, raw []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// engineMetrics are engine mode's Engine API call latencies.
type engineMetrics struct {
	latency *prometheus.SummaryVec
	errors  *prometheus.CounterVec
}

func newEngineMetrics(reg prometheus.Registerer) *engineMetrics {
	m := &engineMetrics{
		latency: prometheus.NewSummaryVec(prometheus.SummaryOpts{Name: "strata_engine_call_seconds",
			Help:       "Latency of the Engine API calls to op-geth in engine mode, by call (engine_forkchoiceUpdatedV3+attributes starts a build).",
			Objectives: map[float64]float64{0.5: 0.01, 0.99: 0.001}, MaxAge: 5 * time.Minute}, []string{"call"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "strata_engine_call_errors_total",
			Help: "Engine API calls to op-geth that failed (a payload status other than VALID is not a failure; the driver logs it)."}, []string{"call"}),
	}
	reg.MustRegister(m.latency, m.errors)
	return m
}

func (m *engineMetrics) observe(call string, d time.Duration, err error) {
	m.latency.WithLabelValues(call).Observe(d.Seconds())
	if err != nil {
		m.errors.WithLabelValues(call).Inc()
	}
}
