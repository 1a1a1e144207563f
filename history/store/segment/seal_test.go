package segment

import (
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"
)

// TestSealInFlight holds a background seal and checks, while it is held:
// the Append that rolled returned, reads and lookups are served (the file
// from its keys in memory), Sync makes every block durable (a crash clone
// keeping no unsynced data reopens to all of them, the index rebuilt), and
// the Append that fills the next file waits for the seal. Then Close, with
// a seal held, waits for it: the reopened log needs no recovery.
func TestSealInFlight(t *testing.T) {
	const bpf = 4
	mem := vfs.NewCrashableMem()
	o := Options{FS: mem, Dir: "log", BlocksPerFile: bpf}
	l := mustOpen(t, o)
	started := make(chan uint64, 4)
	gate := make(chan struct{})
	l.sealStart = func(first uint64) {
		started <- first
		<-gate
	}
	m := newModel()
	g := newGen(7, 6, 900)
	appendN(t, l, m, g, 0, 5) // file 0 full and being sealed, file 4 open
	require.Equal(t, uint64(0), <-started)
	files := l.Files()
	require.Len(t, files, 2)
	require.False(t, files[0].Sealed)
	check(t, l, m)

	// Sync covers the file being sealed (fsynced by the roll).
	require.NoError(t, l.Sync())
	c, err := Open(Options{FS: mem.CrashClone(vfs.CrashCloneCfg{}), Dir: "log", BlocksPerFile: bpf})
	require.NoError(t, err)
	check(t, c, m)
	require.Equal(t, []string{"00000000000000000000.idx (missing)"}, c.Recovered().Rebuilt)
	require.NoError(t, c.Close())

	// The Append that starts file 8 waits for file 0's seal.
	appendN(t, l, m, g, 6, 7)
	r := g.block(8)
	errc := make(chan error)
	go func() { errc <- l.Append(8, r.payload, r.keys) }()
	select {
	case err := <-errc:
		t.Fatalf("the Append of block 8 returned (%v) while file 0's seal was held", err)
	case <-time.After(20 * time.Millisecond):
	}
	gate <- struct{}{} // file 0's seal runs
	require.NoError(t, <-errc)
	m.append(8, r)
	require.Equal(t, uint64(4), <-started) // file 4's, held
	files = l.Files()
	require.True(t, files[0].Sealed)
	require.False(t, files[1].Sealed)
	check(t, l, m)

	// Close waits for file 4's seal.
	go func() { gate <- struct{}{} }()
	require.NoError(t, l.Close())
	l = mustOpen(t, o)
	require.True(t, l.Recovered().Empty(), "%v", l.Recovered())
	files = l.Files()
	require.True(t, files[0].Sealed && files[1].Sealed)
	check(t, l, m)
	require.NoError(t, l.Close())
}

// TestRollWithoutSync: when blocks of a full file were not synced, the
// Append that rolls fsyncs the file before the next file exists (a crash
// may keep the next file's entry and lose unsynced bytes of the full one,
// which Open would refuse as a short file): a crash clone taken as the next
// file is created, keeping no unsynced data, holds the whole full file.
func TestRollWithoutSync(t *testing.T) {
	const bpf = 3
	mem := vfs.NewCrashableMem()
	var clone *vfs.MemFS
	fs := &hookFS{FS: mem, hook: func(op string) {
		if op == "create log/00000000000000000003.seg" {
			clone = mem.CrashClone(vfs.CrashCloneCfg{}) // synced data only
		}
	}}
	l := mustOpen(t, Options{FS: fs, Dir: "log", BlocksPerFile: bpf})
	m := newModel()
	g := newGen(8, 3, 500)
	appendN(t, l, m, g, 0, 0)
	require.NoError(t, l.Sync()) // file 0's directory entry
	appendN(t, l, m, g, 1, 3)    // blocks 1, 2 not synced; 3 rolls
	require.NotNil(t, clone)
	require.NoError(t, l.Close())
	c, err := Open(Options{FS: clone, Dir: "log", BlocksPerFile: bpf})
	require.NoError(t, err)
	_, last, ok := c.Bounds()
	require.True(t, ok)
	require.Equal(t, uint64(2), last, "the full file is durable")
	require.NoError(t, c.Close())
}
