package segment

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"
)

// syncFS counts the fsyncs of .seg files, and makes each wait for a token
// on gate when gate is set, and then for delay.
type syncFS struct {
	vfs.FS
	syncs   atomic.Int32
	entered chan struct{} // a token per fsync entered, when set
	gate    chan struct{}
	delay   time.Duration
}

func (fs *syncFS) wrap(f vfs.File, name string, err error) (vfs.File, error) {
	if err != nil || !strings.HasSuffix(name, ".seg") {
		return f, err
	}
	return &syncFile{File: f, fs: fs}, nil
}

func (fs *syncFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, c)
	return fs.wrap(f, name, err)
}

func (fs *syncFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := fs.FS.OpenReadWrite(name, c, opts...)
	return fs.wrap(f, name, err)
}

type syncFile struct {
	vfs.File
	fs *syncFS
}

func (f *syncFile) Sync() error {
	f.fs.syncs.Add(1)
	if f.fs.entered != nil {
		f.fs.entered <- struct{}{}
	}
	if f.fs.gate != nil {
		<-f.fs.gate
	}
	time.Sleep(f.fs.delay)
	return f.File.Sync()
}

// TestGroupCommit: Sync callers arriving while an fsync runs wait for the
// next one, which serves them all; callers whose appends the running fsync
// covers wait for it alone.
func TestGroupCommit(t *testing.T) {
	fs := &syncFS{FS: vfs.NewMem(), entered: make(chan struct{}, 16), gate: make(chan struct{})}
	l := mustOpen(t, Options{FS: fs, Dir: "log", BlocksPerFile: 64})
	defer func() {
		fs.gate = nil
		require.NoError(t, l.Close())
	}()
	g := newGen(1, 2, 100)
	m := newModel()
	appendN(t, l, m, g, 0, 0)

	var wg sync.WaitGroup
	callSync := func(n int) {
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				require.NoError(t, l.Sync())
			}()
		}
	}
	// Round 1 runs (held at the gate); callers of block 0 wait for it.
	callSync(1)
	<-fs.entered
	callSync(5)
	// Block 1 is appended while round 1 runs: its callers wait for round 2.
	appendN(t, l, m, g, 1, 1)
	callSync(5)
	fs.gate <- struct{}{} // round 1 ends
	<-fs.entered          // round 2 starts, for every caller of block 1
	fs.gate <- struct{}{}
	wg.Wait()
	require.Equal(t, int32(2), fs.syncs.Load(), "11 callers, 2 fsyncs")

	// Nothing appended since: Sync returns without an fsync.
	require.NoError(t, l.Sync())
	require.Equal(t, int32(2), fs.syncs.Load())
}

// TestGroupCommitDurable: every Sync caller returns after the blocks
// appended before its call are durable (a crash clone keeping no unsynced
// data holds them), with fewer fsyncs than callers.
func TestGroupCommitDurable(t *testing.T) {
	mem := vfs.NewCrashableMem()
	fs := &syncFS{FS: mem, delay: 2 * time.Millisecond} // so that callers overlap
	l := mustOpen(t, Options{FS: fs, Dir: "log", BlocksPerFile: 8})
	defer l.Close()
	g := newGen(2, 2, 200)
	m := newModel()
	const callers = 40
	var wg sync.WaitGroup
	for n := uint64(0); n < callers; n++ {
		appendN(t, l, m, g, n, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			require.NoError(t, l.Sync())
			clone := mem.CrashClone(vfs.CrashCloneCfg{})
			c, err := Open(Options{FS: clone, Dir: "log", BlocksPerFile: 8})
			require.NoError(t, err)
			defer c.Close()
			_, last, ok := c.Bounds()
			require.True(t, ok)
			require.GreaterOrEqual(t, last, n, "block %d was synced", n)
		}()
	}
	wg.Wait()
	// The seals fsync too (4 of them); the callers share the rest.
	require.Less(t, int(fs.syncs.Load()), callers)
	t.Logf("%d Sync callers, %d fsyncs of .seg files (4 of them seals)", callers, fs.syncs.Load())
}
