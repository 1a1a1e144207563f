package segment

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"
)

// rec is a block as appended.
type rec struct {
	payload []byte
	keys    []Entry
}

// gen makes deterministic random blocks: payloads of up to maxPayload bytes,
// nkeys keys each, some drawn from a small shared pool so that keys repeat
// across blocks and within one.
type gen struct {
	rng        *rand.Rand
	nkeys      int
	maxPayload int
	shared     []uint64
}

func newGen(seed uint64, nkeys, maxPayload int) *gen {
	g := &gen{rng: rand.New(rand.NewPCG(seed, seed^0x5eed)), nkeys: nkeys, maxPayload: maxPayload}
	for range 8 {
		g.shared = append(g.shared, g.rng.Uint64())
	}
	return g
}

func (g *gen) block(n uint64) rec {
	size := 16 + g.rng.IntN(max(g.maxPayload-16, 1))
	p := make([]byte, size)
	for i := range p {
		p[i] = byte(g.rng.Uint32())
	}
	// The first 16 bytes name the block, so a read of the wrong block shows.
	copy(p, fmt.Sprintf("block%011d", n))
	keys := make([]Entry, g.nkeys)
	// Half the blocks' entries are contiguous (a history record's are), the
	// others anywhere in the payload: the record's two forms.
	contig, coff := g.rng.IntN(2) == 0, 0
	for i := range keys {
		off := g.rng.IntN(size)
		ln := g.rng.IntN(size - off + 1)
		if contig {
			off, ln = coff, g.rng.IntN((size-coff)/(g.nkeys-i)+1)
			coff += ln
		}
		key := g.rng.Uint64()
		if g.rng.IntN(8) == 0 {
			key = g.shared[g.rng.IntN(len(g.shared))]
		}
		keys[i] = Entry{Key: key, Off: uint32(off), Len: uint32(ln)}
	}
	return rec{payload: p, keys: keys}
}

// model is what the log should hold.
type model struct {
	blocks      map[uint64]rec
	first, last uint64
	ok          bool
	inv         map[uint64][]Loc // key -> its first entry in each block, ascending; nil when stale
}

func newModel() *model { return &model{blocks: map[uint64]rec{}} }

func (m *model) append(n uint64, r rec) {
	m.inv = nil
	if !m.ok {
		m.first, m.ok = n, true
	}
	m.last = n
	m.blocks[n] = r
}

func (m *model) truncateAfter(n uint64) {
	m.inv = nil
	if !m.ok || n >= m.last {
		return
	}
	for b := max(n+1, m.first); b <= m.last; b++ {
		delete(m.blocks, b)
	}
	if n < m.first {
		m.ok = false
		return
	}
	m.last = n
}

func (m *model) pruneBelow(n uint64) {
	m.inv = nil
	for b := m.first; b < n; b++ {
		delete(m.blocks, b)
	}
	m.first = n
}

// lookup is what Lookup(key, after) should answer.
func (m *model) lookup(key, after uint64) (Loc, bool) {
	if !m.ok {
		return Loc{}, false
	}
	if m.inv == nil {
		m.inv = map[uint64][]Loc{}
		for b := m.first; b <= m.last; b++ {
			seen := map[uint64]bool{}
			for _, e := range m.blocks[b].keys {
				if !seen[e.Key] {
					seen[e.Key] = true
					m.inv[e.Key] = append(m.inv[e.Key], Loc{Block: b, Off: e.Off, Len: e.Len})
				}
			}
		}
	}
	locs := m.inv[key]
	i, _ := slices.BinarySearchFunc(locs, after, func(l Loc, a uint64) int {
		if l.Block <= a {
			return -1
		}
		return 1
	})
	if i == len(locs) {
		return Loc{}, false
	}
	return locs[i], true
}

// appendN appends blocks from..to (inclusive) made by g to l and m.
func appendN(t testing.TB, l *Log, m *model, g *gen, from, to uint64) {
	t.Helper()
	for n := from; n <= to; n++ {
		r := g.block(n)
		require.NoError(t, l.Append(n, r.payload, r.keys), "append %d", n)
		m.append(n, r)
	}
}

// check verifies every block of m in l: Bounds, Read, ReadLoc of every key,
// and Lookup of every key after the block before it (and after every
// earlier block for the shared keys).
func check(t testing.TB, l *Log, m *model) {
	t.Helper()
	first, last, ok := l.Bounds()
	require.Equal(t, m.ok, ok, "bounds ok")
	if !m.ok {
		_, err := l.Read(0)
		require.ErrorIs(t, err, ErrNotFound)
		return
	}
	require.Equal(t, [2]uint64{m.first, m.last}, [2]uint64{first, last}, "bounds")
	keys := map[uint64]bool{}
	for n := m.first; n <= m.last; n++ {
		r := m.blocks[n]
		got, err := l.Read(n)
		require.NoError(t, err, "read %d", n)
		require.True(t, bytes.Equal(r.payload, got), "read %d: payload differs", n)
		for _, e := range r.keys {
			keys[e.Key] = true
			b, err := l.ReadLoc(Loc{Block: n, Off: e.Off, Len: e.Len})
			require.NoError(t, err, "readloc %d", n)
			require.True(t, bytes.Equal(r.payload[e.Off:e.Off+e.Len], b), "readloc %d %+v", n, e)
			checkLookup(t, l, m, e.Key, n-1)
		}
	}
	if m.first > 0 {
		_, err := l.Read(m.first - 1)
		require.ErrorIs(t, err, ErrNotFound)
	}
	_, err := l.Read(m.last + 1)
	require.ErrorIs(t, err, ErrNotFound)
	// Keys after every block, and absent keys.
	sorted := slices.Sorted(func(yield func(uint64) bool) {
		for k := range keys {
			if !yield(k) {
				return
			}
		}
	})
	for i, k := range sorted {
		if i%max(1, len(sorted)/64) == 0 {
			for after := m.first - min(m.first, 1); after <= m.last; after++ {
				checkLookup(t, l, m, k, after)
			}
		}
		checkLookup(t, l, m, k^0xdeadbeef, m.first)
	}
}

func checkLookup(t testing.TB, l *Log, m *model, key, after uint64) {
	t.Helper()
	want, wok := m.lookup(key, after)
	got, ok, err := l.Lookup(key, after)
	require.NoError(t, err, "lookup %#x after %d", key, after)
	require.Equal(t, wok, ok, "lookup %#x after %d: found", key, after)
	require.Equal(t, want, got, "lookup %#x after %d", key, after)
}

func mustOpen(t testing.TB, o Options) *Log {
	t.Helper()
	l, err := Open(o)
	require.NoError(t, err)
	return l
}

// memOpts are options over a fresh MemFS.
func memOpts(bpf uint64) Options {
	return Options{FS: vfs.NewMem(), Dir: "log", BlocksPerFile: bpf}
}
