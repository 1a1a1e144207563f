package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-chain/strata/api"
	"github.com/strata-chain/strata/api/slo"
	"github.com/strata-chain/strata/sequencer"
)

// nodeMetrics are a running node's figures beyond the store's own
// (strata_history_*): head and lag, SLO states, mode, proof latency,
// catch-up progress and the sequencer's.
type nodeMetrics struct {
	head          prometheus.Gauge
	lag           prometheus.Gauge
	proof         prometheus.Histogram
	catchupBlocks prometheus.Counter
	catchupRate   prometheus.Gauge
	build         prometheus.Histogram
	txs           prometheus.Counter
	gas           prometheus.Counter
}

// sloStateValue maps SLO states to a gauge: 0 ok, 1 recovering, 2
// breached, -1 unknown.
var sloStateValue = map[slo.State]float64{slo.StateOK: 0, slo.StateRecovering: 1, slo.StateBreached: 2, slo.StateUnknown: -1}

func newNodeMetrics(reg prometheus.Registerer, mon *slo.Monitor, mode func() string, tiers func() []api.Tier) *nodeMetrics {
	m := &nodeMetrics{
		head: prometheus.NewGauge(prometheus.GaugeOpts{Name: "strata_head_number", Help: "Number of the newest ingested block."}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{Name: "strata_head_lag_seconds",
			Help: "For the newest block: its commit time minus its slot (sequencer) or minus when the upstream was seen to hold it (follower)."}),
		proof: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "strata_proof_seconds",
			Help: "eth_getProof latency, verification included.", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		catchupBlocks: prometheus.NewCounter(prometheus.CounterOpts{Name: "strata_catchup_blocks_total",
			Help: "Blocks ingested by catch-up replay."}),
		catchupRate: prometheus.NewGauge(prometheus.GaugeOpts{Name: "strata_catchup_blocks_per_second",
			Help: "Replay rate of the latest catch-up batch."}),
		build: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "strata_sequencer_build_seconds",
			Help: "Time to execute and seal a block.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		txs: prometheus.NewCounter(prometheus.CounterOpts{Name: "strata_sequencer_transactions_total", Help: "Transactions included in made blocks."}),
		gas: prometheus.NewCounter(prometheus.CounterOpts{Name: "strata_sequencer_gas_total", Help: "Gas used by made blocks."}),
	}
	reg.MustRegister(m.head, m.lag, m.proof, m.catchupBlocks, m.catchupRate, m.build, m.txs, m.gas)
	reg.MustRegister(&sloCollector{mon: mon, mode: mode, tiers: tiers})
	return m
}

// observe records a made block's sequencer figures.
func (m *nodeMetrics) observe(info sequencer.BlockInfo) {
	m.build.Observe(info.Build.Seconds())
	m.txs.Add(float64(info.Txs))
	m.gas.Add(float64(info.GasUsed))
}

// sloCollector evaluates the SLO monitor at scrape time.
type sloCollector struct {
	mon   *slo.Monitor
	mode  func() string
	tiers func() []api.Tier
}

var (
	descLagBlocks = prometheus.NewDesc("strata_lag_blocks", "Blocks the upstream holds beyond the ingested head.", nil, nil)
	descLag       = prometheus.NewDesc("strata_lag_seconds", "How long the block after the head has waited (or the newest block waited, when level).", nil, nil)
	descUpstream  = prometheus.NewDesc("strata_upstream_head_number", "Newest block the upstream is known to hold.", nil, nil)
	descState     = prometheus.NewDesc("strata_slo_state", "SLO state: 0 ok, 1 recovering (hold-down), 2 breached, -1 unknown.", []string{"slo"}, nil)
	descValue     = prometheus.NewDesc("strata_slo_value", "Current measurement of an SLO (blocks or milliseconds).", []string{"slo"}, nil)
	descTarget    = prometheus.NewDesc("strata_slo_target", "Target of an SLO (blocks or milliseconds), from the contract.", []string{"slo"}, nil)
	descReady     = prometheus.NewDesc("strata_slo_ready", "1 when every SLO is ok (what /readyz needs besides fresh blocks).", nil, nil)
	descMode      = prometheus.NewDesc("strata_mode", "1 for the mode the node is in.", []string{"mode"}, nil)
	descTierBytes = prometheus.NewDesc("strata_tier_bytes", "Logical (uncompressed) bytes each retention tier holds.", []string{"tier"}, nil)
	descTierFirst = prometheus.NewDesc("strata_tier_earliest_block", "First block each retention tier serves.", []string{"tier"}, nil)
	descTierLast  = prometheus.NewDesc("strata_tier_latest_block", "Last block each retention tier serves.", []string{"tier"}, nil)
)

func (c *sloCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLagBlocks, descLag, descUpstream, descState, descValue, descTarget, descReady, descMode, descTierBytes, descTierFirst, descTierLast} {
		ch <- d
	}
}

func (c *sloCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.mon.Status()
	ch <- prometheus.MustNewConstMetric(descLagBlocks, prometheus.GaugeValue, float64(st.LagBlocks))
	ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, st.Lag.Seconds())
	ch <- prometheus.MustNewConstMetric(descUpstream, prometheus.GaugeValue, float64(st.UpstreamHead))
	for _, o := range st.Objectives {
		ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, sloStateValue[o.State], o.Name)
		ch <- prometheus.MustNewConstMetric(descValue, prometheus.GaugeValue, o.Value, o.Name)
		ch <- prometheus.MustNewConstMetric(descTarget, prometheus.GaugeValue, o.Target, o.Name)
	}
	ready := 0.0
	if st.Ready() == nil {
		ready = 1
	}
	ch <- prometheus.MustNewConstMetric(descReady, prometheus.GaugeValue, ready)
	cur := c.mode()
	for _, m := range []string{"sequencer", "live", "catch-up"} {
		v := 0.0
		if m == cur {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(descMode, prometheus.GaugeValue, v, m)
	}
	for _, t := range c.tiers() {
		ch <- prometheus.MustNewConstMetric(descTierBytes, prometheus.GaugeValue, float64(t.Bytes), t.Name)
		ch <- prometheus.MustNewConstMetric(descTierFirst, prometheus.GaugeValue, float64(t.Earliest), t.Name)
		ch <- prometheus.MustNewConstMetric(descTierLast, prometheus.GaugeValue, float64(t.Latest), t.Name)
	}
}
