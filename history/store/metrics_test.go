package store

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/history/historytest"
)

func TestMetrics(t *testing.T) {
	s, err := OpenMem(DefaultConfig())
	require.NoError(t, err)
	defer s.Close()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, s.RegisterMetrics(reg))
	g := historytest.NewChain(2)
	for range 4 {
		require.NoError(t, s.Ingest(context.Background(), g.Next()))
	}
	historytest.CheckState(t, s, g, 1)
	mfs, err := reg.Gather()
	require.NoError(t, err)
	byName := map[string]float64{}
	for _, mf := range mfs {
		m := mf.GetMetric()[0]
		switch {
		case m.GetHistogram() != nil:
			byName[mf.GetName()] = float64(m.GetHistogram().GetSampleCount())
		case m.GetCounter() != nil:
			byName[mf.GetName()] = m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			byName[mf.GetName()] = m.GetGauge().GetValue()
		}
	}
	require.Equal(t, 4.0, byName["strata_history_ingest_seconds"])
	require.Equal(t, 3.0, byName["strata_history_head_block"])
	require.Positive(t, byName["strata_history_trie_nodes_written_total"])
	require.Positive(t, byName["strata_history_node_cache_misses_total"]+byName["strata_history_node_cache_hits_total"])
}
