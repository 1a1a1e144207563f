package store

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/history/historytest"
)

// diskFault is an errorfs.Injector that, once armed, fails the operations
// match picks with errno, as the kernel would.
type diskFault struct {
	armed atomic.Bool
	match func(errorfs.Op) bool
	errno syscall.Errno
	hits  atomic.Int64
	short bool // a write of half the bytes, then errno (shortWriteFS)
}

func (d *diskFault) String() string { return fmt.Sprintf("disk fault %v", d.errno) }

func (d *diskFault) MaybeError(op errorfs.Op) error {
	if d.short || !d.armed.Load() || !d.match(op) {
		return nil
	}
	d.hits.Add(1)
	return &os.PathError{Op: "disk", Path: op.Path, Err: d.errno}
}

// shortWriteFS makes the writes its fault picks write half their bytes and
// then fail, as a write that fills the disk does.
type shortWriteFS struct {
	vfs.FS
	fault *diskFault
}

func (fs shortWriteFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, c)
	if err != nil {
		return nil, err
	}
	return shortWriteFile{File: f, name: name, fault: fs.fault}, nil
}

type shortWriteFile struct {
	vfs.File
	name  string
	fault *diskFault
}

func (f shortWriteFile) Write(p []byte) (int, error) {
	d := f.fault
	if !d.short || !d.armed.Load() || !d.match(errorfs.Op{Kind: errorfs.OpFileWrite, Path: f.name}) || len(p) < 2 {
		return f.File.Write(p)
	}
	d.hits.Add(1)
	n, _ := f.File.Write(p[:len(p)/2])
	return n, &os.PathError{Op: "write", Path: f.name, Err: d.errno}
}

// file picks the operations of kinds on files whose name has part.
func file(part string, kinds ...errorfs.OpKind) func(errorfs.Op) bool {
	return func(op errorfs.Op) bool {
		if !strings.Contains(op.Path, part) {
			return false
		}
		for _, k := range kinds {
			if op.Kind == k {
				return true
			}
		}
		return false
	}
}

var syncs = []errorfs.OpKind{errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo}

// TestDiskFaultMatrix injects one disk fault per row into a store that is
// ingesting, with Pebble's errorfs over a crashable in-memory FS. Each row
// must end the same way: ingest stops with a critical error naming the cause
// (no panic, no process exit), later writes are refused with it and Health
// reports it, reads of the blocks held keep working where the fault allows,
// and the store reopened on what the disk had synced, as after a power cut,
// holds every block it reported ingested (or more) and each of them answers
// with proofs that verify against its header's root.
func TestDiskFaultMatrix(t *testing.T) {
	const (
		healthy = 12   // blocks ingested before the fault
		most    = 3000 // blocks tried after it
	)
	for _, tc := range []struct {
		name  string
		fault *diskFault
		reads bool // reads of held blocks work while the fault lasts
	}{
		{"disk full on WAL write", &diskFault{match: file(".log", errorfs.OpFileWrite, errorfs.OpFileWriteAt), errno: syscall.ENOSPC}, true},
		{"short WAL write, disk full", &diskFault{match: file(".log", errorfs.OpFileWrite), errno: syscall.ENOSPC, short: true}, true},
		{"disk full on WAL fsync", &diskFault{match: file(".log", syncs...), errno: syscall.ENOSPC}, true},
		{"fsync error on WAL", &diskFault{match: file(".log", syncs...), errno: syscall.EIO}, true},
		{"disk full on flush (new sstable)", &diskFault{match: file(".sst", errorfs.OpCreate, errorfs.OpFileWrite), errno: syscall.ENOSPC}, true},
		{"disk full on flush (MANIFEST write)", &diskFault{match: file("MANIFEST", errorfs.OpFileWrite), errno: syscall.ENOSPC}, true},
		{"fsync error on flush (sstable)", &diskFault{match: file(".sst", syncs...), errno: syscall.EIO}, true},
		{"read errors on sstables", &diskFault{match: file(".sst", errorfs.OpFileRead, errorfs.OpFileReadAt), errno: syscall.EIO}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := vfs.NewCrashableMem()
			var fs vfs.FS = errorfs.Wrap(mem, tc.fault)
			if tc.fault.short {
				fs = shortWriteFS{FS: fs, fault: tc.fault}
			}
			cfg := DefaultConfig()
			cfg.FS = fs
			cfg.NodeCacheEntries = 1 // reads go to Pebble
			s, err := open("db", cfg, nil, openOptions{memTableBytes: 256 << 10})
			require.NoError(t, err)
			reg := prometheus.NewRegistry()
			require.NoError(t, s.RegisterMetrics(reg))
			require.Equal(t, 0.0, gauge(t, reg, "strata_history_write_fault"))
			g := historytest.NewChain(*seedFlag)
			ctx := context.Background()
			for range healthy {
				require.NoError(t, s.Ingest(ctx, g.Next()))
			}
			if !tc.reads {
				require.NoError(t, s.db.Flush()) // the blocks are in sstables the reads then fail on
			}
			reported := uint64(healthy - 1)
			tc.fault.armed.Store(true)
			var ingestErr error
			for range most {
				if ingestErr = s.Ingest(ctx, g.Next()); ingestErr != nil {
					break
				}
				reported++
			}
			t.Logf("stopped after block %d (%d injected): %v", reported, tc.fault.hits.Load(), ingestErr)
			require.Error(t, ingestErr, "ingest stops within %d blocks of the fault (%d injected)", most, tc.fault.hits.Load())
			require.Positive(t, tc.fault.hits.Load(), "the fault was injected")
			require.True(t, history.IsCritical(ingestErr), "classed critical: %v", ingestErr)
			require.ErrorIs(t, ingestErr, tc.fault.errno, "the error names the cause: %v", ingestErr)
			if tc.reads {
				require.ErrorIs(t, s.Health(), tc.fault.errno, "Health reports the fault")
				require.Equal(t, 1.0, gauge(t, reg, "strata_history_write_fault"), "and the metric")
				again := s.Ingest(ctx, g.Next())
				require.ErrorIs(t, again, tc.fault.errno, "a later write is refused with the fault")
				require.True(t, history.IsCritical(again))
				head, err := s.Head()
				require.NoError(t, err)
				require.Equal(t, reported, head.Number, "the head is the last block reported")
				historytest.CheckState(t, s, g, reported)
				historytest.CheckState(t, s, g, reported/2)
			}
			_ = s.Close() // may report the fault again; it must return

			// A power cut now: only what was synced survives. The disk is
			// healthy again.
			after := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})
			cfg.FS = after
			r, err := Open("db", cfg, nil)
			require.NoError(t, err, "reopen on a healthy disk")
			defer r.Close()
			require.NoError(t, r.Health())
			head, err := r.Head()
			require.NoError(t, err)
			require.GreaterOrEqual(t, head.Number, reported, "every reported block is durable")
			require.Less(t, head.Number, uint64(len(g.Headers)), "no block that was never ingested")
			require.Equal(t, g.Headers[head.Number].Hash(), head.Hash)
			_, err = r.HeaderByNumber(head.Number + 1)
			require.Error(t, err, "nothing above the head")
			for n := uint64(0); n <= head.Number; n++ {
				hdr, err := r.HeaderByNumber(n)
				require.NoError(t, err)
				require.Equal(t, g.Headers[n].Hash(), hdr.Hash(), "block %d", n)
				historytest.CheckState(t, r, g, n)
			}
			// And ingest goes on from the head.
			next := historytest.NewChain(*seedFlag)
			for range head.Number + 1 {
				next.Next()
			}
			require.NoError(t, r.Ingest(ctx, next.Next()))
		})
	}
}

// TestOpenOnFullDisk reopens a store whose WAL holds blocks not yet
// flushed on a disk that takes no write. Pebble's own Open would retry the
// WAL's flush forever; Open returns the fault instead, OpenReadOnly opens
// and answers from the WAL, and once the disk has room the open Open gave
// up on finishes and closes its database.
func TestOpenOnFullDisk(t *testing.T) {
	writes := []errorfs.OpKind{errorfs.OpCreate, errorfs.OpFileWrite, errorfs.OpFileWriteAt, errorfs.OpFileSync,
		errorfs.OpFileSyncData, errorfs.OpFileSyncTo, errorfs.OpLink, errorfs.OpRename, errorfs.OpReuseForWrite, errorfs.OpFilePreallocate}
	for _, tc := range []struct {
		name  string
		match func(errorfs.Op) bool
		// The open Open gave up on still holds the directory's lock (in a
		// node, until the process exits), so OpenReadOnly is tried only
		// where Pebble's open itself failed.
		abandons bool
	}{
		{"every write fails", func(op errorfs.Op) bool { return file("", writes...)(op) && !strings.HasSuffix(op.Path, "LOCK") }, false},
		{"only the replayed WAL's flush fails", file(".sst", errorfs.OpCreate, errorfs.OpFileWrite), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := vfs.NewMem()
			fault := &diskFault{match: tc.match, errno: syscall.ENOSPC}
			cfg := DefaultConfig()
			cfg.FS = errorfs.Wrap(mem, fault)
			s, err := Open("db", cfg, nil)
			require.NoError(t, err)
			g := historytest.NewChain(*seedFlag)
			for range 20 {
				require.NoError(t, s.Ingest(context.Background(), g.Next()))
			}
			require.NoError(t, s.Close()) // the blocks stay in the WAL
			fault.armed.Store(true)

			lines := &countingHandler{}
			_, err = Open("db", cfg, slog.New(lines))
			t.Logf("open: %v", err)
			require.Error(t, err, "opening on a full disk fails")
			require.ErrorIs(t, err, syscall.ENOSPC, "naming the cause: %v", err)

			if !tc.abandons {
				ro, err := OpenReadOnly("db", cfg, nil)
				require.NoError(t, err, "read-only opens on a full disk")
				head, err := ro.Head()
				require.NoError(t, err)
				require.Equal(t, uint64(19), head.Number)
				historytest.CheckState(t, ro, g, head.Number)
				err = ro.Ingest(context.Background(), g.Next())
				require.ErrorIs(t, err, errReadOnly)
				require.NoError(t, ro.Close())
			}

			fault.armed.Store(false) // room again
			abandonedOpens.Wait()
			t.Logf("%d lines logged by the failed open, %d faults injected", lines.n.Load(), fault.hits.Load())
			s, err = Open("db", cfg, nil)
			require.NoError(t, err)
			defer s.Close()
			head, err := s.Head()
			require.NoError(t, err)
			require.Equal(t, uint64(19), head.Number)
			historytest.CheckState(t, s, g, head.Number)
		})
	}
}

// TestLogLimiter: one line of a kind per faultLogEvery, the next one
// carrying the count of those suppressed; kinds are limited apart.
func TestLogLimiter(t *testing.T) {
	now := time.Unix(0, 0)
	l := newLogLimiter()
	l.now = func() time.Time { return now }
	type step struct {
		advance    time.Duration
		key        string
		ok         bool
		suppressed int
	}
	for i, st := range []step{
		{0, "background", true, 0},
		{time.Millisecond, "background", false, 0},
		{time.Second, "background", false, 0},
		{0, "fatal", true, 0}, // another kind is not held back
		{faultLogEvery, "background", true, 2},
		{time.Millisecond, "background", false, 0},
		{faultLogEvery, "background", true, 1},
		{0, "fatal", true, 0},
	} {
		now = now.Add(st.advance)
		n, ok := l.allow(st.key)
		require.Equal(t, st.ok, ok, "step %d", i)
		require.Equal(t, st.suppressed, n, "step %d", i)
	}
}

// gauge is the value of the gauge name in reg.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// countingHandler counts the lines logged at Error.
type countingHandler struct{ n atomic.Int64 }

func (h *countingHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }
func (h *countingHandler) Handle(context.Context, slog.Record) error    { h.n.Add(1); return nil }
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler           { return h }
func (h *countingHandler) WithGroup(string) slog.Handler                { return h }
