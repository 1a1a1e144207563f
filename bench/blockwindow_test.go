package bench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/sequencer"
)

// TestBlockWindow keeps exactly the blocks recorded between begin and end,
// and runs end's callback before any later block could enter.
func TestBlockWindow(t *testing.T) {
	var w blockWindow
	w.record(sequencer.BlockInfo{Number: 1})
	start := w.begin()
	w.record(sequencer.BlockInfo{Number: 2})
	w.record(sequencer.BlockInfo{Number: 3})
	called := false
	window, got := w.end(func() { called = true })
	w.record(sequencer.BlockInfo{Number: 4})
	require.True(t, called)
	require.False(t, start.IsZero())
	require.Positive(t, window)
	require.Len(t, got, 2)
	require.Equal(t, uint64(2), got[0].Number)
	require.Equal(t, uint64(3), got[1].Number)
}

func TestSummarizeBlocks(t *testing.T) {
	start := time.Unix(1000, 0)
	due := start.Add(time.Second)
	got := []sequencer.BlockInfo{
		{Number: 5, Txs: 2, GasUsed: 300, Ingest: 4 * time.Millisecond, Due: due, Committed: due.Add(10 * time.Millisecond)},
		{Number: 6, Txs: 0, GasUsed: 100, Ingest: 2 * time.Millisecond, Due: due.Add(time.Second), Committed: due.Add(time.Second + 30*time.Millisecond)},
	}
	var run Run
	summarizeBlocks(&run, got, start, 2*time.Second)
	require.Equal(t, 2, run.Blocks)
	require.Equal(t, 1, run.EmptyBlocks)
	require.Equal(t, 1.0, run.BlocksPerSecond)
	require.Equal(t, 1.0, run.TxsPerSecond)
	require.Equal(t, 200.0, run.GasPerSecond)
	require.Equal(t, 30*time.Millisecond, run.Lag.Max)
	require.Equal(t, 4*time.Millisecond, run.Ingest.Max)
	require.Equal(t, run.Ingest, run.Stages["publish"])
	require.Len(t, run.Series, 2)
	require.Equal(t, time.Second+10*time.Millisecond, run.Series[0].At)
}
