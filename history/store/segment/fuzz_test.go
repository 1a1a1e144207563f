package segment

import (
	"bytes"
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"
)

const (
	fuzzSeg0 = "log/00000000000000000000.seg"
	fuzzIdx0 = "log/00000000000000000000.idx"
	fuzzSeg4 = "log/00000000000000000004.seg"
)

// fuzzBase is a closed log of blocks 0..5 in files 0 (sealed) and 4 (open),
// and its model.
func fuzzBase(t testing.TB) (*vfs.MemFS, *model) {
	fs := vfs.NewMem()
	l := mustOpen(t, Options{FS: fs, Dir: "log", BlocksPerFile: 4})
	m := newModel()
	appendN(t, l, m, newGen(4, 3, 300), 0, 5)
	require.NoError(t, l.Close())
	return fs, m
}

// FuzzOpen feeds arbitrary bytes to recovery: the first byte picks what
// they replace (0: the only file of a log; 1: the index of a sealed file;
// 2: the last file, after a sealed one). Open must not panic; it errors or
// recovers a valid prefix, which reads back, appends on and reopens clean.
func FuzzOpen(f *testing.F) {
	fs, _ := fuzzBase(f)
	seg0, idx0, seg4 := readFile(f, fs, fuzzSeg0), readFile(f, fs, fuzzIdx0), readFile(f, fs, fuzzSeg4)
	for _, s := range []struct {
		mode byte
		b    []byte
	}{
		{0, seg4}, {0, seg0}, {0, seg0[:len(seg0)/2]}, {0, seg0[:fileHeaderSize+3]}, {0, nil},
		{1, idx0}, {1, idx0[:len(idx0)-1]}, {1, idx0[:idxHeaderSize]}, {1, []byte("strIDX")},
		{2, seg4}, {2, seg4[:len(seg4)-7]}, {2, append(bytes.Clone(seg4), seg4[fileHeaderSize:]...)},
		// Format version 2: another version's files, an index cut inside
		// its chunks and at its meta section's end.
		{0, withVersion(seg0, 1)}, {2, withVersion(seg4, 1)}, {2, withVersion(seg4, 3)},
		{1, append([]byte("strIDX\x00\x01"), idx0[8:]...)},
		{1, idx0[:len(idx0)-5]}, {1, idx0[:len(idx0)/2]},
	} {
		f.Add(append([]byte{s.mode}, s.b...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		mode, body := data[0]%3, data[1:]
		fs, m := fuzzBase(t)
		switch mode {
		case 0:
			for _, name := range []string{fuzzSeg0, fuzzIdx0, fuzzSeg4} {
				require.NoError(t, fs.Remove(name))
			}
			writeFile(t, fs, fuzzSeg0, body)
			m = nil
		case 1:
			writeFile(t, fs, fuzzIdx0, body)
		case 2:
			writeFile(t, fs, fuzzSeg4, body)
			m.truncateAfter(3)
		}
		o := Options{FS: fs, Dir: "log", BlocksPerFile: 4}
		l, err := Open(o)
		if err != nil {
			return
		}
		defer l.Close()
		first, last, ok := l.Bounds()
		if m != nil {
			// The sealed file 0 is whole: blocks 0..3 at least.
			require.True(t, ok)
			require.Zero(t, first)
			require.GreaterOrEqual(t, last, uint64(3))
			for n := uint64(0); n <= 3; n++ {
				got, err := l.Read(n)
				require.NoError(t, err)
				require.Equal(t, m.blocks[n].payload, got)
				for _, e := range m.blocks[n].keys {
					loc, found, err := l.Lookup(e.Key, 0)
					var ce *CorruptError
					if errors.As(err, &ce) {
						continue // a damaged chunk of an index that checked out
					}
					require.NoError(t, err)
					if n > 0 {
						want, _ := m.lookup(e.Key, 0)
						require.True(t, found)
						require.Equal(t, want, loc)
					}
				}
			}
		}
		if ok {
			for n := first; n <= last; n++ {
				_, err := l.Read(n)
				require.NoError(t, err, "block %d of %d..%d", n, first, last)
			}
		}
		next := last + 1
		if !ok {
			next = 0
		}
		require.NoError(t, l.Append(next, []byte("next"), []Entry{{Key: 1, Len: 4}}))
		got, err := l.Read(next)
		require.NoError(t, err)
		require.Equal(t, []byte("next"), got)
		require.NoError(t, l.Close())
		l, err = Open(o)
		require.NoError(t, err)
		require.True(t, l.Recovered().Empty(), "%v", l.Recovered())
		f2, l2, ok2 := l.Bounds()
		require.True(t, ok2)
		require.Equal(t, [2]uint64{first, next}, [2]uint64{f2, l2})
		if !ok {
			require.Zero(t, f2)
		}
	})
}
