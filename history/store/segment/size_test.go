package segment

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBytesPerEntry measures what the log stores per entry beyond the
// payload, for blocks shaped like a full base-like block's history record:
// 3,765 entries of 60-90 bytes each, contiguous and in order, over two
// sealed files. It logs the .seg's bytes beyond the payload and the .idx's
// bytes, per entry, and holds them to the format's budget (format version
// 1 took 16.0 and 21.4). Then it looks entries up in the sealed files
// (their offsets and lengths come from the records' length tables, through
// the index's groups), before and after a reopen.
func TestBytesPerEntry(t *testing.T) {
	const bpf, perBlock = 8, 3765
	o := memOpts(bpf)
	l := mustOpen(t, o)
	rng := rand.New(rand.NewPCG(9, 9))
	var payload int64
	var all [][]Entry
	for n := range uint64(2*bpf + 1) { // two full files, sealed by the next block
		keys := make([]Entry, perBlock)
		off := uint32(0)
		for i := range keys {
			ln := 60 + rng.Uint32N(31)
			if n == 2*bpf-1 && i%3 == 0 {
				ln = 100 + rng.Uint32N(600) // two-byte lengths too
			}
			keys[i] = Entry{Key: rng.Uint64(), Off: off, Len: ln}
			off += ln
		}
		p := make([]byte, off)
		if n < 2*bpf {
			payload += int64(len(p))
		}
		require.NoError(t, l.Append(n, p, keys))
		all = append(all, keys)
	}
	require.NoError(t, l.Sync())
	l.waitSeal()
	files := l.Files()
	require.Len(t, files, 3)
	var seg, idx int64
	for _, f := range files[:2] {
		require.True(t, f.Sealed)
		seg += f.Bytes
		idx += f.IndexBytes
	}
	entries := float64(2 * bpf * perBlock)
	segOver := float64(seg-payload) / entries
	idxPer := float64(idx) / entries
	t.Logf(".seg: %.2f B/entry beyond the payload; .idx: %.2f B/entry; total %.2f B/entry (%.1f KB per %d-entry block)",
		segOver, idxPer, segOver+idxPer, (segOver+idxPer)*perBlock/1000, perBlock)
	require.Less(t, segOver, 9.5)
	require.Less(t, idxPer, 12.0)

	lookups := func(l *Log) {
		for n, keys := range all[1 : 2*bpf] {
			n++ // block 0 is after none
			for i := 0; i < len(keys); i += 1 + rng.IntN(40) {
				e := keys[i]
				for _, after := range []uint64{uint64(n) - 1, 0} {
					loc, ok, err := l.Lookup(e.Key, after)
					require.NoError(t, err)
					require.True(t, ok)
					require.Equal(t, Loc{Block: uint64(n), Off: e.Off, Len: e.Len}, loc)
				}
			}
		}
	}
	lookups(l)
	require.NoError(t, l.Close())
	l = mustOpen(t, o)
	defer l.Close()
	require.True(t, l.Recovered().Empty(), "%v", l.Recovered())
	lookups(l)
}
