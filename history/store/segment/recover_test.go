package segment

import (
	"errors"
	"io"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"
)

func readFile(t testing.TB, fs vfs.FS, name string) []byte {
	t.Helper()
	f, err := fs.Open(name)
	require.NoError(t, err)
	defer f.Close()
	b, err := io.ReadAll(f)
	require.NoError(t, err)
	return b
}

func writeFile(t testing.TB, fs vfs.FS, name string, b []byte) {
	t.Helper()
	f, err := fs.Create(name, vfs.WriteCategoryUnspecified)
	require.NoError(t, err)
	_, err = f.Write(b)
	require.NoError(t, err)
	require.NoError(t, f.Sync())
	require.NoError(t, f.Close())
}

// recovered is a log of blocks 0..9 in files 0, 4 (sealed) and 8 (open:
// 8, 9), closed, on a MemFS, with its model and generator.
func recovered(t *testing.T) (Options, *model, *gen) {
	o := memOpts(4)
	l := mustOpen(t, o)
	m := newModel()
	g := newGen(9, 4, 500)
	appendN(t, l, m, g, 0, 9)
	require.NoError(t, l.Close())
	return o, m, g
}

// record is the record Append writes for r as block n.
func record(n uint64, r rec) []byte {
	b, _ := appendRecord(nil, n, r.payload, r.keys)
	return b
}

// TestTornTail: whatever a crash left at the end of the last file is cut,
// reported, and the blocks before it kept.
func TestTornTail(t *testing.T) {
	const last = "log/00000000000000000008.seg"
	for _, tc := range []struct {
		name   string
		tamper func(o Options, m *model, g *gen) // changes the files; may change m to what Open keeps
		reason string                            // of the one Cut, "" for none
		block  uint64                            // the Cut's block
	}{
		{name: "short header", reason: "short record header", block: 10, tamper: func(o Options, m *model, g *gen) {
			appendBytes(t, o.FS, last, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
		}},
		{name: "short payload", reason: "short record", block: 10, tamper: func(o Options, m *model, g *gen) {
			r := record(10, g.block(10))
			appendBytes(t, o.FS, last, r[:len(r)-3])
		}},
		{name: "bad checksum", reason: "record checksum mismatch", block: 10, tamper: func(o Options, m *model, g *gen) {
			r := record(10, g.block(10))
			r[recHeaderSize+1] ^= 0x40
			appendBytes(t, o.FS, last, r)
		}},
		{name: "block not consecutive", reason: "block 11 where block 10 should follow", block: 10, tamper: func(o Options, m *model, g *gen) {
			appendBytes(t, o.FS, last, record(11, g.block(11)))
		}},
		{name: "block past the file", reason: "block 12 past the file's 4 blocks", block: 12, tamper: func(o Options, m *model, g *gen) {
			for n := uint64(10); n <= 12; n++ {
				r := g.block(n)
				appendBytes(t, o.FS, last, record(n, r))
				if n < 12 {
					m.append(n, r)
				}
			}
		}},
		{name: "bad block in the middle", reason: "record checksum mismatch", block: 9, tamper: func(o Options, m *model, g *gen) {
			b := readFile(t, o.FS, last)
			b[len(b)-1] ^= 1 // block 9's last key
			writeFile(t, o.FS, last, b)
			m.truncateAfter(8)
		}},
		{name: "every record bad: the sealed file before is the open one", reason: "bad record header", block: 8, tamper: func(o Options, m *model, g *gen) {
			b := readFile(t, o.FS, last)
			b[fileHeaderSize+28] ^= 1 // block 8's magic
			writeFile(t, o.FS, last, b)
			m.truncateAfter(7)
		}},
		{name: "torn header of a new file", reason: "torn file header", block: 12, tamper: func(o Options, m *model, g *gen) {
			fillOpen(t, o, m, g)
			writeFile(t, o.FS, "log/00000000000000000012.seg", []byte("strSEG"))
		}},
		{name: "empty new file", tamper: func(o Options, m *model, g *gen) {
			fillOpen(t, o, m, g)
			writeFile(t, o.FS, "log/00000000000000000012.seg", nil)
		}},
		{name: "zeros after the last record", tamper: func(o Options, m *model, g *gen) {
			appendBytes(t, o.FS, last, make([]byte, 5000))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, m, g := recovered(t)
			tc.tamper(o, m, g)
			l := mustOpen(t, o)
			defer l.Close()
			rep := l.Recovered()
			if tc.reason == "" {
				require.Empty(t, rep.Cuts, "%v", rep)
			} else {
				require.Len(t, rep.Cuts, 1, "%v", rep)
				require.Equal(t, tc.reason, rep.Cuts[0].Reason)
				require.Equal(t, tc.block, rep.Cuts[0].Block)
			}
			check(t, l, m)
			// It appends on, and reopens clean.
			appendN(t, l, m, g, m.last+1, m.last+5)
			require.NoError(t, l.Close())
			l = mustOpen(t, o)
			require.True(t, l.Recovered().Empty(), "%v", l.Recovered())
			check(t, l, m)
		})
	}
}

func appendBytes(t testing.TB, fs vfs.FS, name string, b []byte) {
	t.Helper()
	writeFile(t, fs, name, append(readFile(t, fs, name), b...))
}

// fillOpen appends blocks 10 and 11, filling file 8.
func fillOpen(t *testing.T, o Options, m *model, g *gen) {
	l := mustOpen(t, o)
	appendN(t, l, m, g, 10, 11)
	require.NoError(t, l.Close())
}

// TestSealedCorruption: damage to a sealed file is an error naming the file
// and offset, never dropped; a damaged or missing index is rebuilt.
func TestSealedCorruption(t *testing.T) {
	const seg4, idx4 = "log/00000000000000000004.seg", "log/00000000000000000004.idx"
	for _, tc := range []struct {
		name    string
		tamper  func(fs vfs.FS, m *model)
		openErr string // Open fails with a *CorruptError of this file
		offset  int64
		rebuilt bool
		readErr uint64 // Open succeeds, Read of this block (if not 0) is a *CorruptError
	}{
		{name: "index missing", rebuilt: true, tamper: func(fs vfs.FS, _ *model) { require.NoError(t, fs.Remove(idx4)) }},
		{name: "index header flipped", rebuilt: true, tamper: func(fs vfs.FS, _ *model) { flip(t, fs, idx4, 17) }},
		{name: "index bloom flipped", rebuilt: true, tamper: func(fs vfs.FS, _ *model) { flip(t, fs, idx4, idxHeaderSize+4*idxBlockSize+idxChunkSize+20) }},
		{name: "index short", rebuilt: true, tamper: func(fs vfs.FS, _ *model) {
			b := readFile(t, fs, idx4)
			writeFile(t, fs, idx4, b[:len(b)-1])
		}},
		{name: "record flipped, index valid", readErr: 5, tamper: func(fs vfs.FS, m *model) {
			b4 := m.blocks[4]
			flip(t, fs, seg4, fileHeaderSize+len(record(4, b4))+recHeaderSize+2)
		}},
		{name: "record flipped, index missing", openErr: "00000000000000000004.seg", tamper: func(fs vfs.FS, _ *model) {
			require.NoError(t, fs.Remove(idx4))
			flip(t, fs, seg4, fileHeaderSize+recHeaderSize+3)
		}, offset: fileHeaderSize},
		{name: "sealed file short", openErr: "00000000000000000004.seg", tamper: func(fs vfs.FS, _ *model) {
			b := readFile(t, fs, seg4)
			writeFile(t, fs, seg4, b[:len(b)-10])
		}},
		{name: "sealed file header", openErr: "00000000000000000004.seg", tamper: func(fs vfs.FS, _ *model) { flip(t, fs, seg4, 9) }},
		{name: "gap", openErr: "00000000000000000008.seg", offset: 8, tamper: func(fs vfs.FS, _ *model) {
			require.NoError(t, fs.Remove(seg4))
			require.NoError(t, fs.Remove(idx4))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, m, _ := recovered(t)
			tc.tamper(o.FS, m)
			l, err := Open(o)
			if tc.openErr != "" {
				var ce *CorruptError
				require.True(t, errors.As(err, &ce), "%v", err)
				require.Equal(t, tc.openErr, ce.File)
				if tc.offset != 0 {
					require.Equal(t, tc.offset, ce.Offset)
				}
				return
			}
			require.NoError(t, err)
			defer l.Close()
			if tc.rebuilt {
				require.Len(t, l.Recovered().Rebuilt, 1, "%v", l.Recovered())
			}
			if tc.readErr != 0 {
				for n := uint64(4); n < 8; n++ {
					_, err := l.Read(n)
					if n != tc.readErr {
						require.NoError(t, err)
						continue
					}
					var ce *CorruptError
					require.True(t, errors.As(err, &ce), "%v", err)
					require.Equal(t, "00000000000000000004.seg", ce.File)
					b4 := m.blocks[4]
					require.Equal(t, int64(fileHeaderSize+len(record(4, b4))), ce.Offset)
				}
				return
			}
			check(t, l, m)
			require.NoError(t, l.Close())
			l = mustOpen(t, o)
			require.True(t, l.Recovered().Empty(), "%v", l.Recovered())
		})
	}
}

func flip(t *testing.T, fs vfs.FS, name string, at int) {
	t.Helper()
	b := readFile(t, fs, name)
	b[at] ^= 0x10
	writeFile(t, fs, name, b)
}

// TestIndexChunkCorruption: a damaged chunk of a sealed index is found when
// a lookup reads it; a lookup never answers from it.
func TestIndexChunkCorruption(t *testing.T) {
	o := memOpts(4)
	l := mustOpen(t, o)
	m := newModel()
	appendN(t, l, m, newGen(5, 100, 500), 0, 9)
	require.NoError(t, l.Close())
	b := readFile(t, o.FS, "log/00000000000000000000.idx")
	b[len(b)-5] ^= 1 // the last key's length
	writeFile(t, o.FS, "log/00000000000000000000.idx", b)

	l = mustOpen(t, o)
	defer l.Close()
	require.True(t, l.Recovered().Empty())
	bad := 0
	for n := uint64(0); n < 4; n++ {
		for _, e := range m.blocks[n].keys {
			got, ok, err := l.Lookup(e.Key, 0)
			if err != nil {
				var ce *CorruptError
				require.True(t, errors.As(err, &ce), "%v", err)
				require.Equal(t, "00000000000000000000.idx", ce.File)
				bad++
				continue
			}
			want, wok := m.lookup(e.Key, 0)
			require.Equal(t, wok, ok)
			require.Equal(t, want, got)
		}
	}
	require.NotZero(t, bad)
}

// TestStrayFiles: temporary indexes and indexes without their .seg are
// removed; other names are left alone.
func TestStrayFiles(t *testing.T) {
	o, m, _ := recovered(t)
	writeFile(t, o.FS, "log/00000000000000000004.idx.tmp", []byte("half"))
	writeFile(t, o.FS, "log/00000000000000000040.idx", []byte("orphan"))
	writeFile(t, o.FS, "log/notes.txt", []byte("mine"))
	l := mustOpen(t, o)
	defer l.Close()
	require.ElementsMatch(t, []string{"00000000000000000004.idx.tmp", "00000000000000000040.idx"}, l.Recovered().Removed)
	check(t, l, m)
	_, err := o.FS.Stat("log/notes.txt")
	require.NoError(t, err)
}
