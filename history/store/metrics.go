package store

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the store's Prometheus series. Fields are nil-safe: a store
// whose metrics were never registered records nothing.
type metrics struct {
	ingest      prometheus.Histogram // seconds per ingested block
	nodes       prometheus.Counter   // trie node versions written
	cacheHits   prometheus.Counter
	cacheMisses prometheus.Counter
	batchBlocks prometheus.Counter // blocks committed by IngestBatch
}

// RegisterMetrics registers the store's metrics with reg:
// strata_history_ingest_seconds, strata_history_trie_nodes_written_total,
// strata_history_node_cache_{hits,misses}_total, strata_history_head_block,
// strata_history_disk_bytes, strata_window_rebuilds_total,
// strata_window_rebuild_cache_hits_total,
// strata_window_rebuild_fallbacks_total, strata_history_write_fault. Call it
// once, before ingest starts.
func (s *Store) RegisterMetrics(reg prometheus.Registerer) error {
	m := &metrics{
		ingest: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "strata_history_ingest_seconds",
			Help:    "Time to verify and commit one block's state update.",
			Buckets: prometheus.ExponentialBuckets(0.0002, 2, 14),
		}),
		nodes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "strata_history_trie_nodes_written_total",
			Help: "Trie node versions written by ingest.",
		}),
		batchBlocks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "strata_history_batch_blocks_total",
			Help: "Blocks committed in catch-up batches (many blocks per commit).",
		}),
		cacheHits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "strata_history_node_cache_hits_total",
			Help: "Trie node reads served from the hash-keyed cache.",
		}),
		cacheMisses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "strata_history_node_cache_misses_total",
			Help: "Trie node reads that went to Pebble.",
		}),
	}
	head := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "strata_history_head_block",
		Help: "Number of the newest ingested block.",
	}, func() float64 {
		if h := s.head.Load(); h != nil {
			return float64(h.Number)
		}
		return -1
	})
	disk := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "strata_history_disk_bytes",
		Help: "Bytes the history store occupies on disk.",
	}, func() float64 { return float64(s.DiskUsage()) })
	rebuilds := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "strata_window_rebuilds_total",
		Help: "States of blocks between window checkpoints rebuilt in memory.",
	}, func() float64 { return float64(s.windowRebuilds.Load()) })
	viewHits := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "strata_window_rebuild_cache_hits_total",
		Help: "Reads of blocks between window checkpoints served by an already rebuilt state.",
	}, func() float64 { return float64(s.viewHits.Load()) })
	fallbacks := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "strata_window_rebuild_fallbacks_total",
		Help: "Window rebuilds whose merged replay failed and were replayed block by block (a bug to report; answers stay verified).",
	}, func() float64 { return float64(s.rebuildFallbacks.Load()) })
	fault := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "strata_history_write_fault",
		Help: "1 once the store stopped writing on a disk fault (no space, a failed fsync; see the log and Health), else 0.",
	}, func() float64 {
		if s.Health() != nil {
			return 1
		}
		return 0
	})
	for _, c := range []prometheus.Collector{m.ingest, m.nodes, m.batchBlocks, m.cacheHits, m.cacheMisses, head, disk, rebuilds, viewHits, fallbacks, fault} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	s.metrics.Store(m)
	return nil
}

func (s *Store) observeIngest(d time.Duration, nodes int) {
	if m := s.metrics.Load(); m != nil {
		m.ingest.Observe(d.Seconds())
		m.nodes.Add(float64(nodes))
	}
}

// observeBatch records a catch-up batch: its blocks count as ingested, the
// per-block latency histogram is left to blocks ingested one at a time.
func (s *Store) observeBatch(_ time.Duration, blocks, nodes int) {
	if m := s.metrics.Load(); m != nil {
		m.nodes.Add(float64(nodes))
		m.batchBlocks.Add(float64(blocks))
	}
}

func (s *Store) observeCache(hit bool) {
	if m := s.metrics.Load(); m != nil {
		if hit {
			m.cacheHits.Inc()
		} else {
			m.cacheMisses.Inc()
		}
	}
}
