package live

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/ethereum/go-ethereum/common"
)

// chainModel is the plain in-memory model of the head state: per block of
// the current chain, the full state and the items its layer wrote.
type chainModel struct {
	u       universe
	states  map[uint64]state
	changes map[uint64]change
	roots   map[uint64]common.Hash
	disk    uint64
	diskOK  bool
	head    uint64
	headOK  bool
}

func (m *chainModel) headState() state {
	if !m.headOK {
		return make(state, len(m.u))
	}
	return m.states[m.head]
}

// modelReader is a Reader with the state it must read.
type modelReader struct {
	r    *Reader
	want state
	head uint64
	ok   bool
}

// TestModel runs random sequences of pushes, flushes (with reads between
// Flush, the commit and Flushed, and pushes between them), aborted
// flushes, unwinds (some too deep), restarts and readers, and after every
// step compares every key read through the DB and through every open
// Reader with the model at that one's head.
func TestModel(t *testing.T) {
	cases := []struct {
		name       string
		seed       uint64
		cacheBytes int
		steps      int
		walkOnly   bool
	}{
		{"no cache", 1, 0, 600, false},
		{"tiny cache", 2, 2 << 10, 600, false},
		{"large cache", 3, 1 << 20, 600, false},
		{"large cache walk", 4, 1 << 20, 400, true},
		{"tiny cache 2", 5, 4 << 10, 600, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			runModel(t, tc.seed, tc.cacheBytes, tc.steps, tc.walkOnly)
		})
	}
}

func runModel(t *testing.T, seed uint64, cacheBytes, steps int, walkOnly bool) {
	rng := rand.New(rand.NewPCG(seed, 0x11fe))
	u := newUniverse(rng)
	pdb, d := openMem(t, cacheBytes)
	d.walkOnly = walkOnly
	m := &chainModel{u: u, states: map[uint64]state{}, changes: map[uint64]change{}, roots: map[uint64]common.Hash{}}
	var readers []*modelReader
	serial := 0
	// takeReader keeps at most 5 readers open, closing a random one.
	takeReader := func() {
		if len(readers) == 5 {
			i := rng.IntN(len(readers))
			if err := readers[i].r.Close(); err != nil {
				t.Fatal(err)
			}
			readers = append(readers[:i], readers[i+1:]...)
		}
		readers = append(readers, &modelReader{r: d.Reader(), want: m.headState(), head: m.head, ok: m.headOK})
	}

	check := func(step int, what string) {
		t.Helper()
		block, root, ok := d.Head()
		if ok != m.headOK || (ok && (block != m.head || root != m.roots[m.head])) {
			t.Fatalf("step %d (%s): head %d %x %v, model %d %x %v", step, what, block, root, ok, m.head, m.roots[m.head], m.headOK)
		}
		if db, _, dok := d.Disk(); dok != m.diskOK || (dok && db != m.disk) {
			t.Fatalf("step %d (%s): disk %d %v, model %d %v", step, what, db, dok, m.disk, m.diskOK)
		}
		wantLayers := 0
		if m.headOK {
			switch {
			case m.diskOK:
				wantLayers = int(m.head - m.disk)
			default:
				wantLayers = len(m.states)
			}
		}
		if d.Layers() != wantLayers || (wantLayers > 0) != (d.MemBytes() > 0) {
			t.Fatalf("step %d (%s): %d layers (%d bytes), want %d", step, what, d.Layers(), d.MemBytes(), wantLayers)
		}
		want := m.headState()
		for i := range u {
			if got := u.read(t, d, i); !bytes.Equal(got, want[i]) {
				t.Fatalf("step %d (%s): item %d %+v: DB reads %x, model %x", step, what, i, u[i], got, want[i])
			}
		}
		for ri, r := range readers {
			b, _, ok := r.r.Head()
			if ok != r.ok || b != r.head {
				t.Fatalf("step %d (%s): reader %d head moved to %d %v", step, what, ri, b, ok)
			}
			for i := range u {
				if got := u.read(t, r.r, i); !bytes.Equal(got, r.want[i]) {
					t.Fatalf("step %d (%s): item %d: reader %d at block %d reads %x, model %x", step, what, i, ri, r.head, got, r.want[i])
				}
			}
		}
	}
	push := func() {
		block := uint64(100)
		if m.headOK {
			block = m.head + 1
		}
		c := randomChange(rng, u, 20)
		serial++
		root := rootOf(seed, block, serial)
		if err := d.Push(u.layer(block, root, c, rng.IntN(4) == 0)); err != nil {
			t.Fatalf("push %d: %v", block, err)
		}
		m.states[block] = m.headState().apply(c)
		m.changes[block] = c
		m.roots[block] = root
		m.head, m.headOK = block, true
	}
	oldest := func() uint64 { // the oldest block a layer holds
		if m.diskOK {
			return m.disk + 1
		}
		o := m.head
		for o > 0 {
			if _, ok := m.states[o-1]; !ok {
				break
			}
			o--
		}
		return o
	}

	for step := range steps {
		var what string
		switch p := rng.IntN(100); {
		case p < 45 || !m.headOK:
			what = "push"
			push()
		case p < 65:
			if m.diskOK && m.head == m.disk {
				what = "push"
				push()
				break
			}
			lo := oldest()
			upTo := lo + uint64(rng.IntN(int(m.head-lo)+1))
			what = fmt.Sprintf("flush to %d", upTo)
			b := pdb.NewBatch()
			written, err := d.Flush(b, upTo)
			if err != nil {
				t.Fatalf("step %d: flush: %v", step, err)
			}
			keys := map[int]bool{}
			for blk := lo; blk <= upTo; blk++ {
				for i := range m.changes[blk] {
					keys[i] = true
				}
			}
			if written != len(keys) || int(b.Count()) != written+1 {
				t.Fatalf("step %d: flush to %d wrote %d (batch %d), want %d distinct keys", step, upTo, written, b.Count(), len(keys))
			}
			check(step, what+" written")
			if rng.IntN(3) == 0 {
				push()
			}
			if rng.IntN(4) == 0 && m.head > upTo {
				// In flight, an unwind that would drop layers is refused
				// and changes nothing; so is a second flush.
				to := upTo + uint64(rng.IntN(int(m.head-upTo)))
				if err := d.Unwind(to); !errors.Is(err, ErrFlushInFlight) {
					t.Fatalf("step %d: unwind to %d in flight: %v", step, to, err)
				}
				if _, err := d.Flush(pdb.NewBatch(), upTo); !errors.Is(err, ErrFlushInFlight) {
					t.Fatalf("step %d: second flush in flight: %v", step, err)
				}
				check(step, what+" unwind refused")
			}
			if rng.IntN(12) == 0 {
				what += " aborted"
				b.Close()
				if err := d.FlushAbort(); err != nil {
					t.Fatal(err)
				}
				break
			}
			if rng.IntN(4) == 0 {
				takeReader()
			}
			if err := b.Commit(pebble.NoSync); err != nil {
				t.Fatal(err)
			}
			check(step, what+" committed")
			if rng.IntN(3) == 0 {
				push()
			}
			d.Flushed(upTo)
			for blk := range m.states {
				if blk < upTo {
					delete(m.states, blk)
					delete(m.changes, blk)
				}
			}
			m.disk, m.diskOK = upTo, true
		case p < 77:
			what = "reader"
			takeReader()
		case p < 83:
			what = "close reader"
			if len(readers) > 0 {
				i := rng.IntN(len(readers))
				if err := readers[i].r.Close(); err != nil {
					t.Fatal(err)
				}
				readers = append(readers[:i], readers[i+1:]...)
			}
		case p < 96:
			lo := oldest()
			if m.diskOK {
				lo = m.disk
			}
			to := lo + uint64(rng.IntN(int(m.head-lo)+1))
			if rng.IntN(5) == 0 && lo >= 2 {
				to = lo - 1 - uint64(rng.IntN(2))
			}
			what = fmt.Sprintf("unwind to %d", to)
			err := d.Unwind(to)
			if to < lo {
				if !errors.Is(err, ErrUnwindTooDeep) {
					t.Fatalf("step %d: unwind to %d below %d: %v", step, to, lo, err)
				}
				break
			}
			if err != nil {
				t.Fatalf("step %d: unwind to %d: %v", step, to, err)
			}
			for blk := range m.states {
				if blk > to {
					delete(m.states, blk)
					delete(m.changes, blk)
				}
			}
			if to < m.head {
				m.head = to
			}
		default:
			what = "restart"
			d = New(pdb, testOptions(cacheBytes))
			d.walkOnly = walkOnly
			if err := d.Open(); err != nil {
				t.Fatal(err)
			}
			for blk := range m.states {
				if !m.diskOK || blk != m.disk {
					delete(m.states, blk)
					delete(m.changes, blk)
				}
			}
			m.head, m.headOK = m.disk, m.diskOK
		}
		check(step, what)
	}
	for _, r := range readers {
		r.r.Close()
	}
}
