package segment

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"
)

// hookFS calls hook before every operation that changes the file system
// (create, write, sync, rename, remove): a crash test takes a crash clone
// there, so crashes land everywhere, also midway through a seal, a
// TruncateAfter, a PruneBefore or Open's own repairs.
type hookFS struct {
	vfs.FS
	hook func(op string)
}

func (fs *hookFS) wrap(f vfs.File, name string, err error) (vfs.File, error) {
	if err != nil {
		return nil, err
	}
	return &hookFile{File: f, fs: fs, name: name}, nil
}

func (fs *hookFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	fs.hook("create " + name)
	f, err := fs.FS.Create(name, c)
	return fs.wrap(f, name, err)
}

func (fs *hookFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := fs.FS.OpenReadWrite(name, c, opts...)
	return fs.wrap(f, name, err)
}

func (fs *hookFS) OpenDir(name string) (vfs.File, error) {
	f, err := fs.FS.OpenDir(name)
	return fs.wrap(f, name, err)
}

func (fs *hookFS) Remove(name string) error {
	fs.hook("remove " + name)
	return fs.FS.Remove(name)
}

func (fs *hookFS) Rename(from, to string) error {
	fs.hook("rename " + from)
	return fs.FS.Rename(from, to)
}

type hookFile struct {
	vfs.File
	fs   *hookFS
	name string
}

func (f *hookFile) Write(p []byte) (int, error) {
	f.fs.hook("write " + f.name)
	return f.File.Write(p)
}

func (f *hookFile) WriteAt(p []byte, off int64) (int, error) {
	f.fs.hook(fmt.Sprintf("write %s at %d", f.name, off))
	return f.File.WriteAt(p, off)
}

func (f *hookFile) Sync() error {
	f.fs.hook("sync " + f.name)
	return f.File.Sync()
}

// holdSeals makes l's background seals wait until the writer waits for
// them (waitSeal, from Append, TruncateAfter, PruneBefore, Close or a
// test): the seal then runs while the writer is blocked, so a test that
// watches the file system sees one goroutine at a time change it.
func holdSeals(l *Log) *Log {
	gate := make(chan struct{}, 1)
	l.sealStart = func(uint64) { <-gate }
	l.sealWait = func() {
		select {
		case gate <- struct{}{}:
		default:
		}
	}
	return l
}

// history is one line of blocks the log held: a TruncateAfter starts a new
// one.
type history struct {
	base uint64
	recs []rec
}

func (h *history) last() uint64 { return h.base + uint64(len(h.recs)) - 1 }

// crashModel is what a crash clone must show: every durable block from
// needFrom on, all of one allowed history's blocks, nothing else.
type crashModel struct {
	cur      *history
	allowed  []*history
	durable  uint64 // blocks needFrom..durable are synced
	anyDur   bool
	needFrom uint64
}

// verify opens a crash clone and checks it against the model. With rng,
// it also crashes the clone at random points of that Open's own repairs
// and checks those clones (without rng).
func (cm *crashModel) verify(t *testing.T, clone *vfs.MemFS, bpf uint64, op string, rng *rand.Rand) {
	t.Helper()
	var fs vfs.FS = clone
	opening := true
	if rng != nil {
		fs = &hookFS{FS: clone, hook: func(op2 string) {
			if !opening || t.Failed() || rng.IntN(2) != 0 {
				return
			}
			pct := []int{0, 50, 100}[rng.IntN(3)]
			cm.verify(t, clone.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: pct, RNG: rng}), bpf, op+", then before "+op2+" in Open", nil)
		}}
	}
	l, err := Open(Options{FS: fs, Dir: "log", BlocksPerFile: bpf})
	opening = false
	require.NoError(t, err, "open after a crash before %s", op)
	defer l.Close()
	first, last, ok := l.Bounds()
	if cm.anyDur && cm.durable >= cm.needFrom {
		require.True(t, ok, "crash before %s: empty, block %d was durable (%v)", op, cm.durable, l.Recovered())
		require.LessOrEqual(t, first, cm.needFrom, "crash before %s: first block", op)
		require.GreaterOrEqual(t, last, cm.durable, "crash before %s: durable block %d lost (%v)", op, cm.durable, l.Recovered())
	}
	if !ok {
		return
	}
	var match *history
	for _, h := range cm.allowed {
		if len(h.recs) == 0 || first < h.base || last > h.last() {
			continue
		}
		same := true
		for n := first; n <= last && same; n++ {
			got, err := l.Read(n)
			require.NoError(t, err, "crash before %s: read %d", op, n)
			same = bytes.Equal(got, h.recs[n-h.base].payload)
		}
		if same {
			match = h
			break
		}
	}
	require.NotNil(t, match, "crash before %s: blocks %d..%d are no prefix of what was appended", op, first, last)
	for n := first; n <= last; n++ {
		r := match.recs[n-match.base]
		if len(r.keys) > 0 && n > 0 {
			e := r.keys[0]
			loc, found, err := l.Lookup(e.Key, n-1)
			require.NoError(t, err)
			require.True(t, found)
			require.Equal(t, n, loc.Block, "crash before %s: lookup of block %d's key", op, n)
		}
	}
	// The recovered log appends on.
	require.NoError(t, l.Append(last+1, []byte("next"), []Entry{{Key: 7, Len: 4}}), "crash before %s", op)
	got, err := l.Read(last + 1)
	require.NoError(t, err)
	require.Equal(t, []byte("next"), got)
}

// TestCrash runs a random workload of appends, syncs, truncations, prunes
// and reopens over a crashable MemFS, and before every change to the file
// system takes a crash clone (keeping a random share of unsynced data) and
// checks it reopens to a prefix holding every durable block. Background
// seals are held (holdSeals) until a step runs one or the writer waits for
// it, so that crash points land in a seal while the next file is appended
// to and synced, and the model is never changed under a crash clone.
func TestCrash(t *testing.T) {
	seeds := 64
	if testing.Short() {
		seeds = 12
	}
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { crashRun(t, seed) })
	}
}

func crashRun(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0xc4a5))
	crashRNG := rand.New(rand.NewPCG(seed, 0xc10e))
	bpf := 2 + seed%4
	mem := vfs.NewCrashableMem()
	cm := &crashModel{cur: &history{base: seed % 3}}
	cm.allowed = []*history{cm.cur}
	cm.needFrom = cm.cur.base
	clones := 0
	fs := &hookFS{FS: mem, hook: func(op string) {
		if os.Getenv("SEGMENT_TRACE") != "" {
			t.Logf("op: %s", op)
		}
		if t.Failed() || crashRNG.IntN(3) != 0 { // a third of the points, to keep the test short
			return
		}
		pct := []int{0, 30, 60, 100}[crashRNG.IntN(4)]
		clone := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: pct, RNG: crashRNG})
		clones++
		var nested *rand.Rand
		if crashRNG.IntN(4) == 0 {
			nested = crashRNG
		}
		cm.verify(t, clone, bpf, op, nested)
	}}
	o := Options{FS: fs, Dir: "log", BlocksPerFile: bpf}
	l := holdSeals(mustOpen(t, o))
	defer func() {
		if !t.Failed() { // a failure in a hook may have left a Sync running
			l.Close()
		}
	}()
	g := newGen(seed, 3, 1500)
	next := cm.cur.base
	synced := func() {
		if len(cm.cur.recs) > 0 {
			cm.durable, cm.anyDur = cm.cur.last(), true
		}
	}
	for step := 0; step < 80; step++ {
		first, last, ok := l.Bounds()
		switch r := rng.IntN(100); {
		case r < 55 || !ok:
			r := g.block(next)
			require.NoError(t, l.Append(next, r.payload, r.keys))
			cm.cur.recs = append(cm.cur.recs, r)
			next++
		case r < 70:
			require.NoError(t, l.Sync())
			synced()
		case r < 82:
			// Often across a file boundary; now and then everything.
			b := last - min(uint64(rng.IntN(int(2*bpf+2))), last-first)
			if rng.IntN(10) == 0 && first > 0 {
				b = first - 1
			}
			nh := &history{base: first}
			if b >= first {
				nh.base = cm.cur.base
				nh.recs = append([]rec(nil), cm.cur.recs[:b-cm.cur.base+1]...)
			}
			if cm.anyDur && cm.durable > b {
				cm.durable = b
				cm.anyDur = b >= first
			}
			require.NoError(t, l.TruncateAfter(b))
			cm.cur, cm.allowed = nh, []*history{nh}
			next = b + 1
			if b < first {
				cm.anyDur = false
				nh.base, next = first, first
				cm.needFrom = first
			}
		case r < 88:
			b := first + uint64(rng.IntN(int(last-first+2)))
			cm.needFrom = max(cm.needFrom, b)
			_, err := l.PruneBefore(b)
			require.NoError(t, err)
			nf, _, _ := l.Bounds()
			cm.needFrom = max(cm.needFrom, nf)
		case r < 90:
			require.NoError(t, l.Close())
			synced()
			l = holdSeals(mustOpen(t, o))
			synced()
		case r < 95:
			// The seal of the last full file runs now, the writer waiting:
			// the crash points above land in it, with the next file
			// written (and maybe synced) meanwhile.
			l.waitSeal()
			require.NoError(t, l.Health())
		}
	}
	require.NotZero(t, clones)
}
