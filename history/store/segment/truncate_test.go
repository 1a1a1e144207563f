package segment

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// fsCases runs a test over a MemFS (cuts by writing zeros) and over the OS
// file system (cuts by truncating).
func fsCases(t *testing.T, bpf uint64, fn func(t *testing.T, o Options)) {
	t.Run("mem", func(t *testing.T) { fn(t, memOpts(bpf)) })
	t.Run("os", func(t *testing.T) { fn(t, Options{Dir: t.TempDir(), BlocksPerFile: bpf}) })
}

// heldCases runs fsCases with seals running free, and held until the
// writer waits for them (a TruncateAfter, PruneBefore or Close racing a
// seal under way).
func heldCases(t *testing.T, bpf uint64, fn func(t *testing.T, o Options, held bool)) {
	for _, held := range []bool{false, true} {
		t.Run(map[bool]string{false: "free", true: "held"}[held], func(t *testing.T) {
			fsCases(t, bpf, func(t *testing.T, o Options) { fn(t, o, held) })
		})
	}
}

func TestTruncateAfter(t *testing.T) {
	// Blocks 2..15 in files 2, 6, 10 (sealed) and 14 (open: 14, 15).
	for _, tc := range []struct {
		name  string
		after uint64
		files int
	}{
		{"at the last block", 15, 4},
		{"past the last block", 99, 4},
		{"in the open file", 14, 4},
		{"the last block of a sealed file", 13, 3},
		{"into a sealed file", 11, 3},
		{"across two boundaries", 7, 2},
		{"the first file's first block", 2, 1},
		{"before the first block", 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			heldCases(t, 4, func(t *testing.T, o Options, held bool) {
				l := mustOpen(t, o)
				if held { // file 10's seal is under way
					holdSeals(l)
				}
				m := newModel()
				appendN(t, l, m, newGen(1, 5, 700), 2, 15)
				require.NoError(t, l.Sync())

				require.NoError(t, l.TruncateAfter(tc.after))
				m.truncateAfter(tc.after)
				check(t, l, m)
				l.waitSeal()
				files := l.Files()
				require.Len(t, files, tc.files)
				for i, f := range files {
					require.Equal(t, i < len(files)-1, f.Sealed)
				}
				// The log appends on from the cut, with other blocks.
				next := tc.after + 1
				if !m.ok {
					next = 2
				}
				next = min(next, 16)
				appendN(t, l, m, newGen(2, 5, 700), next, next+6)
				check(t, l, m)
				require.NoError(t, l.Close())

				l = mustOpen(t, o)
				require.True(t, l.Recovered().Empty(), "%v", l.Recovered())
				check(t, l, m)
				require.NoError(t, l.Close())
			})
		})
	}
}

func TestPruneBefore(t *testing.T) {
	// Blocks 0..13 in files 0, 4, 8 (sealed) and 12 (open: 12, 13).
	for _, tc := range []struct {
		name    string
		before  uint64
		removed int // files
		first   uint64
	}{
		{"nothing below", 0, 0, 0},
		{"inside the first file", 3, 0, 0},
		{"exactly the first file", 4, 1, 4},
		{"two files", 8, 2, 8},
		{"two files and part of the third", 11, 2, 8},
		{"every sealed file, never the open one", 100, 3, 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			heldCases(t, 4, func(t *testing.T, o Options, held bool) {
				l := mustOpen(t, o)
				if held { // file 8's seal is under way
					holdSeals(l)
				}
				m := newModel()
				appendN(t, l, m, newGen(1, 5, 700), 0, 13)
				if !held {
					l.waitSeal()
				}
				files := l.Files()
				require.Equal(t, !held, files[2].Sealed)
				var want int64
				for _, f := range files[:tc.removed] {
					want += f.Bytes + f.IndexBytes
				}
				got, err := l.PruneBefore(tc.before)
				require.NoError(t, err)
				if held && tc.removed == 3 {
					// File 8 was sealed, then removed: with its index.
					require.Greater(t, got, want)
				} else {
					require.Equal(t, want, got)
				}
				l.waitSeal()
				if !held || tc.removed == 3 {
					require.Equal(t, files[tc.removed:], l.Files())
				}
				m.pruneBelow(tc.first)
				check(t, l, m)
				// Again: nothing more.
				got, err = l.PruneBefore(tc.before)
				require.NoError(t, err)
				require.Zero(t, got)

				appendN(t, l, m, newGen(2, 5, 700), 14, 17)
				require.NoError(t, l.Close())
				l = mustOpen(t, o)
				require.True(t, l.Recovered().Empty(), "%v", l.Recovered())
				check(t, l, m)
				require.NoError(t, l.Close())
			})
		})
	}
}

// TestPruneWhileReading: a file pruned (or truncated away) while a reader
// holds it stays readable by that reader.
func TestPruneWhileReading(t *testing.T) {
	l := mustOpen(t, memOpts(4))
	defer l.Close()
	m := newModel()
	appendN(t, l, m, newGen(1, 2, 300), 0, 13)

	pruned, err := l.find(1)
	require.NoError(t, err)
	cut, err := l.find(9)
	require.NoError(t, err)
	_, err = l.PruneBefore(4)
	require.NoError(t, err)
	require.NoError(t, l.TruncateAfter(6))

	for _, r := range []recRef{pruned, cut} {
		buf := make([]byte, r.loc.size())
		require.NoError(t, r.h.readAt(buf, r.loc.off))
		r.h.release()
	}
	_, err = l.Read(1)
	require.ErrorIs(t, err, ErrNotFound)
	_, err = l.Read(9)
	require.ErrorIs(t, err, ErrNotFound)
	m.pruneBelow(4)
	m.truncateAfter(6)
	check(t, l, m)
}
