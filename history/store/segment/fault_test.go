package segment

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/stretchr/testify/require"
)

// inject is an errorfs.Injector that, once armed, fails the operations of
// kind on paths containing part (equal to it, after a leading "="), after
// letting skip of them through.
type inject struct {
	armed atomic.Bool
	kind  errorfs.OpKind
	part  string
	skip  int32
	seen  atomic.Int32
	hits  atomic.Int32
}

func (i *inject) String() string { return fmt.Sprintf("fail op %d on %q", i.kind, i.part) }

func (i *inject) MaybeError(op errorfs.Op) error {
	match := strings.Contains(op.Path, i.part)
	if exact, ok := strings.CutPrefix(i.part, "="); ok {
		match = op.Path == exact
	}
	if !i.armed.Load() || op.Kind != i.kind || !match {
		return nil
	}
	if i.seen.Add(1) <= i.skip {
		return nil
	}
	i.hits.Add(1)
	return errorfs.ErrInjected
}

// partialFS makes a write to a .seg, once armed, write half its bytes and
// fail, as a write that fills the disk does.
type partialFS struct {
	vfs.FS
	armed *atomic.Bool
}

func (fs partialFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, c)
	if err != nil {
		return nil, err
	}
	return partialFile{File: f, name: name, armed: fs.armed}, nil
}

func (fs partialFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := fs.FS.OpenReadWrite(name, c, opts...)
	if err != nil {
		return nil, err
	}
	return partialFile{File: f, name: name, armed: fs.armed}, nil
}

type partialFile struct {
	vfs.File
	name  string
	armed *atomic.Bool
}

func (f partialFile) WriteAt(p []byte, off int64) (int, error) {
	if !f.armed.Load() || !strings.HasSuffix(f.name, ".seg") || len(p) < 2 {
		return f.File.WriteAt(p, off)
	}
	n, _ := f.File.WriteAt(p[:len(p)/2], off)
	return n, fmt.Errorf("write %s: %w", f.name, errorfs.ErrInjected)
}

// TestFaults fails one write, sync, rename, create or removal and checks the
// fault is returned naming what failed, latched (every later write refused
// with it), that reads go on, and that a reopen on a healthy file system
// gives a consistent log.
func TestFaults(t *testing.T) {
	const bpf = 4
	var before *model
	for _, tc := range []struct {
		name    string
		kind    errorfs.OpKind
		part    string
		skip    int32
		partial bool
		// act is what fails, after blocks 0..9 were appended and synced
		// (file 8 is open with blocks 8, 9).
		act    func(l *Log, m *model, g *gen) error
		errHas string
		// reopen checks the reopened log's Recovered; it may return the
		// model the reopened log holds, when it is not m.
		reopen func(t *testing.T, l *Log, m *model) *model
	}{
		{
			name: "write", kind: errorfs.OpFileWriteAt, part: ".seg",
			act:    func(l *Log, m *model, g *gen) error { r := g.block(10); return l.Append(10, r.payload, r.keys) },
			errHas: "append block 10: write 00000000000000000008.seg at",
		},
		{
			name: "partial write", partial: true,
			act:    func(l *Log, m *model, g *gen) error { r := g.block(10); return l.Append(10, r.payload, r.keys) },
			errHas: "append block 10: write 00000000000000000008.seg",
			reopen: func(t *testing.T, l *Log, m *model) *model {
				rep := l.Recovered()
				require.Len(t, rep.Cuts, 1, "%v", rep)
				require.Equal(t, "00000000000000000008.seg", rep.Cuts[0].File)
				require.Equal(t, uint64(10), rep.Cuts[0].Block)
				return nil
			},
		},
		{
			name: "sync", kind: errorfs.OpFileSync, part: ".seg",
			act: func(l *Log, m *model, g *gen) error {
				r := g.block(10)
				if err := l.Append(10, r.payload, r.keys); err != nil {
					return err
				}
				m.append(10, r)
				return l.Sync()
			},
			errHas: "sync: sync 00000000000000000008.seg",
		},
		{
			name: "seal sync", kind: errorfs.OpFileSync, part: ".seg",
			act:    sealAct,
			errHas: "append block 12: sync 00000000000000000008.seg",
		},
		{
			name: "index write", kind: errorfs.OpFileWriteAt, part: ".idx",
			act:    sealThen(true, func(l *Log) error { return l.Sync() }),
			errHas: "sync: the log stopped writing after a fault: seal 00000000000000000008.seg: write 00000000000000000008.idx at 0",
		},
		{
			name: "index sync", kind: errorfs.OpFileSync, part: ".idx",
			act: sealThen(true, func(l *Log) error {
				r := newGen(9, 1, 50).block(13)
				return l.Append(13, r.payload, r.keys)
			}),
			errHas: "append block 13: the log stopped writing after a fault: seal 00000000000000000008.seg: sync 00000000000000000008.idx",
		},
		{
			name: "index rename", kind: errorfs.OpRename, part: ".idx.tmp",
			act:    sealThen(true, nil),
			errHas: "seal 00000000000000000008.seg: rename 00000000000000000008.idx.tmp",
			reopen: func(t *testing.T, l *Log, m *model) *model {
				require.Contains(t, l.Recovered().Removed, "00000000000000000008.idx.tmp")
				require.Contains(t, l.Recovered().Rebuilt[0], "00000000000000000008.idx (missing)")
				return nil
			},
		},
		{
			name: "directory sync", kind: errorfs.OpFileSync, part: "=log",
			act:    sealThen(true, nil),
			errHas: "seal 00000000000000000008.seg: sync directory log",
		},
		{
			// TruncateAfter into the file being sealed waits for the seal,
			// which fails: the truncation is refused with the fault.
			name: "truncate waits for a failing seal", kind: errorfs.OpFileWriteAt, part: ".idx",
			act:    sealThen(false, func(l *Log) error { return l.TruncateAfter(9) }),
			errHas: "truncate after block 9: the log stopped writing after a fault: seal 00000000000000000008.seg: write 00000000000000000008.idx",
		},
		{
			// PruneBefore past the file being sealed waits for the seal.
			name: "prune waits for a failing seal", kind: errorfs.OpCreate, part: ".idx",
			act: sealThen(false, func(l *Log) error {
				_, err := l.PruneBefore(100)
				return err
			}),
			errHas: "prune before block 100: the log stopped writing after a fault: seal 00000000000000000008.seg: create 00000000000000000008.idx.tmp",
		},
		{
			name: "create next file", kind: errorfs.OpCreate, part: ".seg",
			act:    sealAct,
			errHas: "append block 12: create 00000000000000000012.seg",
			reopen: func(t *testing.T, l *Log, m *model) *model {
				// File 8 was not handed to a seal: it is still the last.
				require.True(t, l.Recovered().Empty(), "%v", l.Recovered())
				return nil
			},
		},
		{
			name: "truncate remove", kind: errorfs.OpRemove, part: ".seg",
			act: func(l *Log, m *model, g *gen) error {
				appendN(t, l, m, g, 10, 13)
				before = &model{blocks: maps.Clone(m.blocks), first: m.first, last: m.last, ok: m.ok}
				m.truncateAfter(5) // the view is cut before the files are removed
				return l.TruncateAfter(5)
			},
			errHas: "truncate after block 5: remove 00000000000000000012.seg",
			// Nothing was removed: the log as it was before, as after a
			// crash before the truncation.
			reopen: func(t *testing.T, l *Log, m *model) *model { return before },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := vfs.NewMem()
			inj := &inject{kind: tc.kind, part: tc.part, skip: tc.skip}
			var fs vfs.FS = errorfs.Wrap(mem, inj)
			var partial atomic.Bool
			if tc.partial {
				fs = partialFS{FS: mem, armed: &partial}
			}
			o := Options{FS: fs, Dir: "log", BlocksPerFile: bpf}
			l := mustOpen(t, o)
			m := newModel()
			g := newGen(3, 6, 2000)
			appendN(t, l, m, g, 0, 9)
			require.NoError(t, l.Sync())
			l.waitSeal() // file 4's, started by block 8's Append
			inj.armed.Store(true)
			partial.Store(true)

			err := tc.act(l, m, g)
			require.Error(t, err)
			require.ErrorIs(t, err, errorfs.ErrInjected)
			require.Contains(t, err.Error(), tc.errHas)
			require.ErrorIs(t, l.Health(), errorfs.ErrInjected)

			// Latched: every write refused, naming what was refused.
			_, last, _ := l.Bounds()
			require.Equal(t, m.last, last, "a failed append is not visible")
			r := g.block(last + 1)
			err = l.Append(last+1, r.payload, r.keys)
			require.ErrorIs(t, err, errorfs.ErrInjected)
			require.Contains(t, err.Error(), fmt.Sprintf("append block %d: the log stopped writing", last+1))
			require.ErrorIs(t, l.Sync(), errorfs.ErrInjected)
			require.ErrorIs(t, l.TruncateAfter(2), errorfs.ErrInjected)
			_, err = l.PruneBefore(8)
			require.ErrorIs(t, err, errorfs.ErrInjected)
			// Reads go on.
			check(t, l, m)
			require.NoError(t, l.Close())

			// Reopen on a healthy file system.
			inj.armed.Store(false)
			partial.Store(false)
			l = mustOpen(t, Options{FS: mem, Dir: "log", BlocksPerFile: bpf})
			if tc.reopen != nil {
				if m2 := tc.reopen(t, l, m); m2 != nil {
					m = m2
				}
			}
			check(t, l, m)
			appendN(t, l, m, g, m.last+1, m.last+bpf+1)
			require.NoError(t, l.Sync())
			check(t, l, m)
			require.NoError(t, l.Close())
		})
	}
}

// sealAct appends blocks 10 and 11 (file 8 is then full) and 12, whose
// Append fsyncs file 8 (blocks 10 and 11 were not synced) and hands it to
// the background seal.
func sealAct(l *Log, m *model, g *gen) error {
	for n := uint64(10); n <= 12; n++ {
		r := g.block(n)
		if err := l.Append(n, r.payload, r.keys); err != nil {
			return err
		}
		m.append(n, r)
	}
	return nil
}

// sealThen runs sealAct with the background seal of file 8 held, checks
// that the Append of block 12 returned at once and that reads are served
// (file 8 from its keys in memory), then waits for the seal if wait is
// set (else next is what lets it run), and returns next's error, or (nil)
// the fault the seal latched.
func sealThen(wait bool, next func(l *Log) error) func(l *Log, m *model, g *gen) error {
	return func(l *Log, m *model, g *gen) error {
		holdSeals(l)
		if err := sealAct(l, m, g); err != nil {
			return fmt.Errorf("the seal's Append failed: %w", err)
		}
		if l.Health() != nil {
			return fmt.Errorf("a fault before the seal ran: %w", l.Health())
		}
		if err := checkErr(l, m); err != nil {
			return fmt.Errorf("reads during the seal: %w", err)
		}
		if wait {
			l.waitSeal()
		}
		if next != nil {
			return next(l)
		}
		return l.Health()
	}
}

// checkErr is a short check of the log against m, as an error: every
// block read, every key looked up after the block before.
func checkErr(l *Log, m *model) error {
	for n := m.first; n <= m.last; n++ {
		got, err := l.Read(n)
		if err != nil || !bytes.Equal(got, m.blocks[n].payload) {
			return fmt.Errorf("read %d: %v", n, err)
		}
		for _, e := range m.blocks[n].keys {
			if n == 0 {
				break
			}
			want, _ := m.lookup(e.Key, n-1)
			loc, ok, err := l.Lookup(e.Key, n-1)
			if err != nil || !ok || loc != want {
				return fmt.Errorf("lookup %#x after %d: %v %v %v, want %v", e.Key, n-1, loc, ok, err, want)
			}
		}
	}
	return nil
}

// TestFaultOnOpen: Open on a failing file system returns the error and
// leaves nothing locked.
func TestFaultOnOpen(t *testing.T) {
	mem := vfs.NewMem()
	l := mustOpen(t, Options{FS: mem, Dir: "log", BlocksPerFile: 4})
	m := newModel()
	appendN(t, l, m, newGen(1, 2, 100), 0, 5)
	require.NoError(t, l.Close())
	inj := &inject{kind: errorfs.OpFileReadAt, part: ".seg"}
	inj.armed.Store(true)
	_, err := Open(Options{FS: errorfs.Wrap(mem, inj), Dir: "log", BlocksPerFile: 4})
	require.ErrorIs(t, err, errorfs.ErrInjected)
	l = mustOpen(t, Options{FS: mem, Dir: "log", BlocksPerFile: 4})
	check(t, l, m)
	require.NoError(t, l.Close())
	require.False(t, errors.Is(err, ErrNotFound))
}
