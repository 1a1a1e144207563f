package bench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLiveFollowerStats counts only blocks the follower committed inside
// the window that the sequencer's hook saw, with the lag in time from the
// sequencer's commit and in blocks from the sequencer's head.
func TestLiveFollowerStats(t *testing.T) {
	t0 := time.Unix(100, 0)
	b := &liveFollower{
		seqAt: map[uint64]time.Time{1: t0, 2: t0.Add(time.Second), 3: t0.Add(2 * time.Second)},
		blocks: []followedBlock{
			{number: 1, committed: t0.Add(100 * time.Millisecond), ingest: time.Millisecond, seqHead: 1},
			{number: 2, committed: t0.Add(1300 * time.Millisecond), ingest: 3 * time.Millisecond, seqHead: 4},
			{number: 3, committed: t0.Add(9 * time.Second), ingest: time.Millisecond, seqHead: 3},         // after the window
			{number: 9, committed: t0.Add(1500 * time.Millisecond), ingest: time.Millisecond, seqHead: 9}, // never seen made
		},
	}
	st := b.stats(t0, t0.Add(5*time.Second))
	require.Equal(t, 2, st.Blocks)
	require.Equal(t, 300*time.Millisecond, st.Lag.Max)
	require.Equal(t, 3*time.Millisecond, st.Ingest.Max)
	require.Equal(t, uint64(0), st.LagBlocks.P50)
	require.Equal(t, uint64(2), st.LagBlocks.P99)
	require.Equal(t, uint64(2), st.LagBlocks.Max)

	empty := (&liveFollower{seqAt: map[uint64]time.Time{}}).stats(t0, t0.Add(time.Second))
	require.Zero(t, empty.Blocks)
	require.Zero(t, empty.LagBlocks.Max)
}
