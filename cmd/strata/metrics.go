package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-chain/strata/sequencer"
)

// nodeMetrics are the sequencer-side figures of a running node; the store
// registers its own (strata_history_*).
type nodeMetrics struct {
	head  prometheus.Gauge
	lag   prometheus.Gauge
	build prometheus.Histogram
	txs   prometheus.Counter
	gas   prometheus.Counter
}

func newNodeMetrics(reg prometheus.Registerer) *nodeMetrics {
	m := &nodeMetrics{
		head: prometheus.NewGauge(prometheus.GaugeOpts{Name: "strata_head_number", Help: "Number of the newest ingested block."}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{Name: "strata_head_lag_seconds",
			Help: "Time from the newest block's slot on the block-time grid to its ingest commit."}),
		build: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "strata_sequencer_build_seconds",
			Help: "Time to execute and seal a block.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		txs: prometheus.NewCounter(prometheus.CounterOpts{Name: "strata_sequencer_transactions_total", Help: "Transactions included in made blocks."}),
		gas: prometheus.NewCounter(prometheus.CounterOpts{Name: "strata_sequencer_gas_total", Help: "Gas used by made blocks."}),
	}
	reg.MustRegister(m.head, m.lag, m.build, m.txs, m.gas)
	return m
}

// observe records a made block's sequencer figures.
func (m *nodeMetrics) observe(info sequencer.BlockInfo) {
	m.build.Observe(info.Build.Seconds())
	m.txs.Add(float64(info.Txs))
	m.gas.Add(float64(info.GasUsed))
}
