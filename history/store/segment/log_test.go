package segment

import (
	"math"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"
)

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name       string
		os         bool
		bpf        uint64
		first      uint64
		blocks     uint64
		keys       int
		maxPayload int
	}{
		{name: "three files and a half", bpf: 8, first: 0, blocks: 28, keys: 12, maxPayload: 3000},
		{name: "exactly three files", bpf: 8, first: 100, blocks: 24, keys: 5, maxPayload: 200},
		{name: "no keys", bpf: 4, first: 7, blocks: 13, keys: 0, maxPayload: 100},
		{name: "many keys, chunks span blocks", bpf: 16, first: 1, blocks: 48, keys: 300, maxPayload: 5000},
		{name: "one block per file", bpf: 1, first: 3, blocks: 5, keys: 3, maxPayload: 64},
		{name: "os files", os: true, bpf: 8, first: 0, blocks: 27, keys: 20, maxPayload: 70000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := memOpts(tc.bpf)
			if tc.os {
				o = Options{Dir: t.TempDir(), BlocksPerFile: tc.bpf}
			}
			l := holdSeals(mustOpen(t, o))
			require.True(t, l.Recovered().Empty())
			m := newModel()
			g := newGen(uint64(tc.blocks), tc.keys, tc.maxPayload)
			appendN(t, l, m, g, tc.first, tc.first+tc.blocks-1)
			// The last full file's seal is held: it is served from memory.
			check(t, l, m)
			require.NoError(t, l.Sync())
			if tc.blocks > tc.bpf {
				files := l.Files()
				require.False(t, files[len(files)-2].Sealed, "held")
				require.Zero(t, files[len(files)-2].IndexBytes, "held")
			}
			l.waitSeal()
			check(t, l, m)
			files := l.Files()
			require.Len(t, files, int((tc.blocks+tc.bpf-1)/tc.bpf))
			for i, f := range files {
				require.Equal(t, tc.first+uint64(i)*tc.bpf, f.First)
				require.Equal(t, i < len(files)-1, f.Sealed, "file %d sealed", i)
				require.Equal(t, f.Sealed, f.IndexBytes > 0)
			}
			require.NoError(t, l.Close())

			l = mustOpen(t, o)
			require.True(t, l.Recovered().Empty(), "clean reopen: %v", l.Recovered())
			require.Equal(t, files, l.Files())
			check(t, l, m)
			// The reopened log appends on, across the next seal.
			appendN(t, l, m, g, tc.first+tc.blocks, tc.first+tc.blocks+tc.bpf)
			check(t, l, m)
			require.NoError(t, l.Close())
			l = mustOpen(t, o)
			check(t, l, m)
			require.NoError(t, l.Close())
		})
	}
}

// TestLookup pins Lookup's answer: the lowest block after after that has
// the key, the first of its entries there, in sealed and open files.
func TestLookup(t *testing.T) {
	const K, S, O, A = 0xaaaa, 0x5555, 0x0f0f, 0xdead // repeated, sealed only, open only, absent
	l := mustOpen(t, memOpts(4))
	defer l.Close()
	keys := map[uint64][]Entry{
		11: {{Key: K, Off: 1, Len: 2}, {Key: K, Off: 3, Len: 4}},
		13: {{Key: S, Off: 0, Len: 8}},
		15: {{Key: 1}, {Key: K, Off: 5, Len: 1}},
		19: {{Key: O, Off: 2, Len: 2}},
		20: {{Key: K, Off: 0, Len: 0}, {Key: K, Off: 9, Len: 1}},
	}
	payload := make([]byte, 10)
	holdSeals(l)
	for n := uint64(10); n <= 21; n++ {
		require.NoError(t, l.Append(n, payload, keys[n]))
	}
	// File 14's seal is held (file 10's ran when file 18 was started):
	// the answers are the same before and after it.
	files := l.Files()
	require.Len(t, files, 3)
	require.True(t, files[0].Sealed)
	require.False(t, files[1].Sealed)
	lookups(t, l, K, S, O, A)
	l.waitSeal()
	files = l.Files()
	require.True(t, files[1].Sealed)
	require.False(t, files[2].Sealed)
	lookups(t, l, K, S, O, A)
}

func lookups(t *testing.T, l *Log, K, S, O, A uint64) {
	t.Helper()
	for _, tc := range []struct {
		key, after uint64
		want       Loc
		ok         bool
	}{
		{K, 0, Loc{11, 1, 2}, true},
		{K, 10, Loc{11, 1, 2}, true},
		{K, 11, Loc{15, 5, 1}, true},
		{K, 14, Loc{15, 5, 1}, true},
		{K, 15, Loc{20, 0, 0}, true},
		{K, 19, Loc{20, 0, 0}, true},
		{K, 20, Loc{}, false},
		{K, 21, Loc{}, false},
		{K, 1000, Loc{}, false},
		{K, math.MaxUint64, Loc{}, false},
		{S, 12, Loc{13, 0, 8}, true},
		{S, 13, Loc{}, false},
		{O, 0, Loc{19, 2, 2}, true},
		{O, 18, Loc{19, 2, 2}, true},
		{O, 19, Loc{}, false},
		{A, 0, Loc{}, false},
	} {
		got, ok, err := l.Lookup(tc.key, tc.after)
		require.NoError(t, err)
		require.Equal(t, tc.ok, ok, "lookup %#x after %d", tc.key, tc.after)
		require.Equal(t, tc.want, got, "lookup %#x after %d", tc.key, tc.after)
	}
}

// TestLookupChunks has one key in every block of a sealed file, many times,
// among many others, so that its entries span chunks of the sorted index.
func TestLookupChunks(t *testing.T) {
	const hot = 0x1234
	const bpf = 64
	l := mustOpen(t, memOpts(bpf))
	defer l.Close()
	m := newModel()
	g := newGen(1, 40, 256)
	for n := uint64(0); n < 2*bpf+3; n++ {
		r := g.block(n)
		for i := range r.keys {
			if i%4 == 0 {
				r.keys[i].Key = hot
			}
		}
		require.NoError(t, l.Append(n, r.payload, r.keys))
		m.append(n, r)
	}
	for after := uint64(0); after <= m.last+1; after++ {
		checkLookup(t, l, m, hot, after)
	}
	check(t, l, m)
}

func TestAppendRefused(t *testing.T) {
	l := mustOpen(t, memOpts(4))
	defer l.Close()
	p := make([]byte, 8)
	require.NoError(t, l.Append(5, p, nil))
	for _, tc := range []struct {
		name  string
		block uint64
		keys  []Entry
	}{
		{"gap", 7, nil},
		{"again", 5, nil},
		{"back", 4, nil},
		{"key past payload", 6, []Entry{{Key: 1, Off: 4, Len: 5}}},
		{"key offset overflow", 6, []Entry{{Key: 1, Off: math.MaxUint32, Len: 2}}},
	} {
		require.Error(t, l.Append(tc.block, p, tc.keys), tc.name)
	}
	// A refused Append is the caller's error, not a fault.
	require.NoError(t, l.Health())
	require.NoError(t, l.Append(6, p, []Entry{{Key: 1, Off: 0, Len: 8}}))
	first, last, ok := l.Bounds()
	require.True(t, ok)
	require.Equal(t, [2]uint64{5, 6}, [2]uint64{first, last})
}

func TestEmptyAndClosed(t *testing.T) {
	o := memOpts(4)
	l := mustOpen(t, o)
	_, _, ok := l.Bounds()
	require.False(t, ok)
	_, err := l.Read(0)
	require.ErrorIs(t, err, ErrNotFound)
	_, found, err := l.Lookup(1, 0)
	require.NoError(t, err)
	require.False(t, found)
	require.NoError(t, l.Sync())
	require.NoError(t, l.TruncateAfter(3))
	n, err := l.PruneBefore(10)
	require.NoError(t, err)
	require.Zero(t, n)
	require.Empty(t, l.Files())
	require.NoError(t, l.Close())

	_, err = l.Read(0)
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, l.Append(0, nil, nil), ErrClosed)
	require.ErrorIs(t, l.Sync(), ErrClosed)
	require.NoError(t, l.Close())

	// A second Open of a directory in use is refused (the LOCK).
	l = mustOpen(t, o)
	_, err = Open(o)
	require.Error(t, err)
	require.NoError(t, l.Close())

	_, err = Open(Options{FS: vfs.NewMem()})
	require.Error(t, err, "no directory")
	_, err = Open(Options{FS: vfs.NewMem(), Dir: "x", BlocksPerFile: 1 << 30})
	require.Error(t, err)
}
