package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestStatusWindow(t *testing.T) {
	w := newStatusWindow(10 * time.Second)
	t0 := time.Unix(1000, 0)
	_, ok := w.line(t0)
	require.False(t, ok, "no blocks yet")
	// 50 blocks over 10 s, 2 txs each; ingest 1..50 ms.
	for i := range 50 {
		w.add(blockEvent{at: t0.Add(time.Duration(i) * 200 * time.Millisecond), number: uint64(i), txs: 2, ingest: time.Duration(i+1) * time.Millisecond, lag: 3 * time.Millisecond})
	}
	l, ok := w.line(t0.Add(9800 * time.Millisecond))
	require.True(t, ok)
	require.Equal(t, uint64(49), l.head)
	require.InDelta(t, 5.0, l.blocksPS, 1e-9)
	require.InDelta(t, 10.0, l.txsPS, 1e-9)
	require.Equal(t, 50*time.Millisecond, l.ingestP99)
	require.Equal(t, 3*time.Millisecond, l.lag)
	// Ten seconds later the old blocks have left the window.
	w.add(blockEvent{at: t0.Add(25 * time.Second), number: 50, ingest: time.Millisecond})
	l, _ = w.line(t0.Add(25 * time.Second))
	require.InDelta(t, 0.1, l.blocksPS, 1e-9)
	require.Equal(t, time.Millisecond, l.ingestP99)
}
