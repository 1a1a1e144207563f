package slo

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeClock is a settable clock.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func objectives() Objectives {
	return Objectives{MaxLagBlocks: 5, MaxLag: time.Second, IngestP99: 100 * time.Millisecond, Window: 10 * time.Second, HoldDown: 3 * time.Second}
}

func state(t *testing.T, st Status, name string) Objective {
	t.Helper()
	for _, o := range st.Objectives {
		if o.Name == name {
			return o
		}
	}
	t.Fatalf("no objective %s", name)
	return Objective{}
}

// follow makes the upstream produce a block every 200 ms and the node
// commit it after ingest, for d.
func follow(m *Monitor, c *fakeClock, from uint64, d time.Duration, ingest time.Duration) uint64 {
	n := from
	for end := c.t.Add(d); c.t.Before(end); {
		n++
		m.Upstream(n, c.t)
		c.advance(ingest)
		m.Committed(n, ingest)
		c.advance(200*time.Millisecond - ingest)
	}
	return n
}

func TestStateMachine(t *testing.T) {
	c := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	m := New(objectives(), c.now)

	st := m.Status()
	require.Error(t, st.Ready(), "nothing committed yet")
	require.Equal(t, StateUnknown, state(t, st, LagBlocks).State)

	n := follow(m, c, 0, 5*time.Second, 10*time.Millisecond)
	st = m.Status()
	require.NoError(t, st.Ready())
	require.Equal(t, uint64(0), st.LagBlocks)
	require.Equal(t, 10*time.Millisecond, st.Lag, "lag of the last block: seen to committed")

	// Outage: the upstream goes on, the node commits nothing.
	steps := []struct {
		after     time.Duration
		lagBlocks uint64
		blocks    State
		ms        State
	}{
		{200 * time.Millisecond, 1, StateOK, StateOK},
		{600 * time.Millisecond, 4, StateOK, StateOK},
		{400 * time.Millisecond, 6, StateBreached, StateOK}, // 6 blocks; block head+1 waited 1.0 s
		{200 * time.Millisecond, 7, StateBreached, StateBreached},
		{10 * time.Second, 57, StateBreached, StateBreached},
	}
	outStart := c.t
	up := n
	for i, s := range steps {
		end := c.t.Add(s.after)
		for c.t.Before(end) {
			c.advance(200 * time.Millisecond)
			up++
			m.Upstream(up, c.t)
		}
		st = m.Status()
		require.Equal(t, s.lagBlocks, st.LagBlocks, "step %d", i)
		require.Equal(t, s.blocks, state(t, st, LagBlocks).State, "step %d blocks", i)
		require.Equal(t, s.ms, state(t, st, LagMs).State, "step %d ms", i)
		waited := c.t.Sub(outStart) - 200*time.Millisecond // block head+1 appeared one slot into the outage
		require.Equal(t, max(waited, 10*time.Millisecond), st.Lag, "step %d: lag is how long block head+1 has waited", i)
	}
	require.Error(t, st.Ready())

	// Catch up in one batch: inside the targets again, but recovering.
	m.Committed(up, 0)
	st = m.Status()
	require.Equal(t, uint64(0), st.LagBlocks)
	require.Equal(t, StateRecovering, state(t, st, LagBlocks).State)
	require.Equal(t, StateRecovering, state(t, st, LagMs).State, "the batch's last block waited only a moment")
	require.ErrorContains(t, st.Ready(), "recovering")

	// Live again; ok after the hold-down.
	n = follow(m, c, up, 2*time.Second, 10*time.Millisecond)
	require.Error(t, m.Status().Ready(), "still inside the hold-down")
	n = follow(m, c, n, 2*time.Second, 10*time.Millisecond)
	st = m.Status()
	require.NoError(t, st.Ready())
	require.Equal(t, StateOK, state(t, st, LagMs).State)

	// Slow ingest breaks the ingest objective (p99 over the window) while
	// lag stays inside its targets.
	n = follow(m, c, n, 2*time.Second, 150*time.Millisecond)
	st = m.Status()
	require.Equal(t, StateBreached, state(t, st, IngestMs).State)
	require.Equal(t, StateOK, state(t, st, LagBlocks).State)
	require.InDelta(t, 150, state(t, st, IngestMs).Value, 0.001)
	require.ErrorContains(t, st.Ready(), IngestMs)

	// Fast again: the slow samples leave the window, then the hold-down.
	n = follow(m, c, n, 11*time.Second, 5*time.Millisecond)
	require.Equal(t, StateRecovering, state(t, m.Status(), IngestMs).State)
	follow(m, c, n, 3*time.Second, 5*time.Millisecond)
	require.NoError(t, m.Status().Ready())

	// A breach during recovery starts over.
	m2 := New(objectives(), c.now)
	n = follow(m2, c, 0, time.Second, time.Millisecond)
	for range 7 {
		n++
		m2.Upstream(n, c.t)
	}
	require.Equal(t, StateBreached, state(t, m2.Status(), LagBlocks).State)
	m2.Committed(n, 0)
	require.Equal(t, StateRecovering, state(t, m2.Status(), LagBlocks).State)
	m2.Upstream(n+9, c.t)
	require.Equal(t, StateBreached, state(t, m2.Status(), LagBlocks).State)
}

func TestLagOfEachBlock(t *testing.T) {
	c := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	m := New(objectives(), c.now)
	// Blocks 1..3 appear together; 4 a second later.
	m.Upstream(3, c.t)
	c.advance(time.Second)
	m.Upstream(4, c.t)
	c.advance(100 * time.Millisecond)
	m.Committed(2, 0)
	st := m.Status()
	require.Equal(t, uint64(2), st.LagBlocks)
	require.Equal(t, 1100*time.Millisecond, st.Lag, "block 3 waits since the first sighting")
	m.Committed(3, 0)
	require.Equal(t, 1100*time.Millisecond, m.Status().Lag)
	m.Committed(4, 0)
	st = m.Status()
	require.Equal(t, 100*time.Millisecond, st.Lag, "block 4 waited 100 ms")
	require.Equal(t, uint64(0), st.LagBlocks)
}
