// Package slo measures a node's lag to its upstream and ingest latency
// against the objectives of the shipping contract, and keeps each
// objective's state: ok, breached, or recovering (back inside its target
// but not yet for long enough to count as ok). A node is ready only while
// every objective is ok; the hold-down keeps readiness from flapping.
package slo

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Objectives are the targets, from configs/contract.yaml.
type Objectives struct {
	MaxLagBlocks uint64        // upstream head minus ingested head
	MaxLag       time.Duration // how long the block after the head has been waiting
	IngestP99    time.Duration // p99 of per-block ingest over Window
	// Window is the span the ingest p99 is taken over.
	Window time.Duration
	// HoldDown is how long an objective must stay inside its target after a
	// breach before it is ok again.
	HoldDown time.Duration
}

// State is one objective's state.
type State string

const (
	StateUnknown    State = "unknown"    // nothing measured yet
	StateOK         State = "ok"         // inside the target for at least HoldDown
	StateBreached   State = "breached"   // outside the target now
	StateRecovering State = "recovering" // inside again, for less than HoldDown
)

// Objective names, as metrics labels and in /v1/status.
const (
	LagBlocks = "max_lag_blocks"
	LagMs     = "max_lag_ms"
	IngestMs  = "ingest_p99_ms"
)

// Objective is one objective's target, current value and state.
type Objective struct {
	Name   string
	Target float64
	Value  float64
	State  State
	Since  time.Time // when State was entered
}

// Status is a snapshot of the monitor.
type Status struct {
	Head, UpstreamHead uint64
	LagBlocks          uint64
	Lag                time.Duration
	Objectives         []Objective
}

// Ready is nil when every objective is ok, otherwise an error naming the
// ones that are not.
func (s Status) Ready() error {
	var bad []string
	for _, o := range s.Objectives {
		if o.State != StateOK {
			bad = append(bad, fmt.Sprintf("%s %s (%.4g, target %.4g, since %s)", o.Name, o.State, o.Value, o.Target, o.Since.UTC().Format(time.RFC3339)))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return errors.New(strings.Join(bad, "; "))
}

// Monitor tracks lag and ingest latency. It is safe for concurrent use.
type Monitor struct {
	obj Objectives
	now func() time.Time

	mu      sync.Mutex
	head    uint64
	started bool          // a block has been committed
	upHead  uint64        // newest upstream block
	seen    []seenAt      // upstream blocks above head by when they appeared, oldest first
	lastLag time.Duration // how long the newest committed block waited
	ingest  []timed       // per-block ingest samples within Window
	states  map[string]*Objective
}

// seenAt: blocks from n on (up to the next entry) appeared at at.
type seenAt struct {
	n  uint64
	at time.Time
}

type timed struct {
	at time.Time
	d  time.Duration
}

// New returns a monitor; now is the clock (time.Now in production, a fake
// one in tests).
func New(obj Objectives, now func() time.Time) *Monitor {
	if obj.Window <= 0 {
		obj.Window = time.Minute
	}
	m := &Monitor{obj: obj, now: now, states: make(map[string]*Objective)}
	t := now()
	for _, o := range []Objective{
		{Name: LagBlocks, Target: float64(obj.MaxLagBlocks)},
		{Name: LagMs, Target: float64(obj.MaxLag) / float64(time.Millisecond)},
		{Name: IngestMs, Target: float64(obj.IngestP99) / float64(time.Millisecond)},
	} {
		o.State, o.Since = StateUnknown, t
		m.states[o.Name] = &o
	}
	return m
}

// Upstream records that the upstream holds block n, made or announced at
// at (a sequencer passes the block's due time, a follower when it learnt
// of the block).
func (m *Monitor) Upstream(n uint64, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	from := max(m.upHead, m.head) + 1
	if n < from {
		return
	}
	// One entry per sighting covers every block it revealed.
	m.seen = append(m.seen, seenAt{from, at})
	m.upHead = n
}

// Committed records that block n is ingested; ingest is its per-block
// ingest time (0 for blocks committed in a catch-up batch, which the
// ingest objective does not judge).
func (m *Monitor) Committed(n uint64, ingest time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.started = true
	m.lastLag = 0
	// seen[i] covers blocks seen[i].n .. seen[i+1].n-1 (the last up to upHead).
	j := -1
	for i := range m.seen {
		if m.seen[i].n <= n {
			j = i
		}
	}
	if j >= 0 {
		m.lastLag = now.Sub(m.seen[j].at)
		if (j+1 < len(m.seen) && m.seen[j+1].n == n+1) || (j == len(m.seen)-1 && m.upHead <= n) {
			m.seen = m.seen[j+1:]
		} else {
			m.seen[j].n = n + 1
			m.seen = m.seen[j:]
		}
	}
	m.head = max(m.head, n)
	m.upHead = max(m.upHead, n)
	if ingest > 0 {
		m.ingest = append(m.ingest, timed{now, ingest})
	}
}

// Status evaluates every objective at the current time and returns the
// snapshot.
func (m *Monitor) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	lag := m.lastLag
	if len(m.seen) > 0 { // the next block is waiting
		lag = max(lag, now.Sub(m.seen[0].at))
	}
	cut := 0
	for cut < len(m.ingest) && now.Sub(m.ingest[cut].at) > m.obj.Window {
		cut++
	}
	m.ingest = m.ingest[cut:]
	st := Status{Head: m.head, UpstreamHead: m.upHead, LagBlocks: m.upHead - m.head, Lag: lag}
	if m.started {
		m.set(LagBlocks, float64(st.LagBlocks), now)
		m.set(LagMs, float64(lag)/float64(time.Millisecond), now)
		if len(m.ingest) > 0 {
			m.set(IngestMs, float64(p99(m.ingest))/float64(time.Millisecond), now)
		}
	}
	for _, name := range []string{LagBlocks, LagMs, IngestMs} {
		st.Objectives = append(st.Objectives, *m.states[name])
	}
	return st
}

// set moves one objective's state machine with a new measurement.
func (m *Monitor) set(name string, v float64, now time.Time) {
	o := m.states[name]
	o.Value = v
	inside := v <= o.Target
	next := o.State
	switch {
	case !inside:
		next = StateBreached
	case o.State == StateUnknown:
		next = StateOK
	case o.State == StateBreached:
		next = StateRecovering
	case o.State == StateRecovering && now.Sub(o.Since) >= m.obj.HoldDown:
		next = StateOK
	}
	if next != o.State {
		o.State, o.Since = next, now
	}
}

func p99(xs []timed) time.Duration {
	ds := make([]time.Duration, len(xs))
	for i, x := range xs {
		ds[i] = x.d
	}
	slices.Sort(ds)
	return ds[min(len(ds)-1, (len(ds)*99+99)/100-1)]
}
