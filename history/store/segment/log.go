package segment

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Options configures a Log.
type Options struct {
	// FS is the file system; nil is vfs.Default.
	FS vfs.FS
	// Dir holds the log's files, and nothing else; Open creates it.
	Dir string
	// BlocksPerFile is how many blocks a new file holds (default 512, at
	// most 1<<24). A file keeps the capacity it was created with, so the
	// option may change between runs.
	BlocksPerFile uint64
	// NoSync skips every fsync (files and directory): for tests and bulk
	// loads that redo their work after a crash. A crash may then lose or
	// tear anything, and Open still recovers a consistent prefix of what
	// reached the disk, but not necessarily what Sync reported.
	NoSync bool
	// BloomBitsPerKey sizes a sealed file's bloom filter (default 10, about
	// 1% false positives; at most 64).
	BloomBitsPerKey int
}

const (
	defaultBlocksPerFile = 512
	defaultBloomBits     = 10
)

// Entry is an index key of a record: the bytes payload[Off:Off+Len] are
// found by Key.
type Entry struct {
	Key      uint64
	Off, Len uint32
}

// Loc is where an entry's bytes are: payload[Off:Off+Len] of Block's record.
// A Loc stays valid until TruncateAfter drops its block or PruneBefore its
// file.
type Loc struct {
	Block    uint64
	Off, Len uint32
}

// FileInfo describes one file of the log.
type FileInfo struct {
	First, Last uint64
	Bytes       int64 // the .seg's header and records
	IndexBytes  int64 // the .idx, 0 for the open file
	Sealed      bool
	Name        string // the .seg's base name
}

// Log is an append-only log of per-block records. See the package doc for
// its invariants and which methods may run concurrently.
type Log struct {
	opts     Options
	fs       vfs.FS
	dirFile  vfs.File // Dir, for fsyncs of its entries
	dirMu    sync.Mutex
	lockFile io.Closer
	report   Report

	// mu guards the view: the sealed files, the active file and its tables.
	// Readers hold it (read) to find what to read and take a reference on
	// the file; they read without it. The writer holds it (write) only to
	// publish a change: the bytes are written before, and removed files are
	// deleted after.
	mu     sync.RWMutex
	sealed []*sealedFile // ascending; copy-on-write but for appending a sealed file
	// closing is the full file being sealed in the background (seal.go),
	// between the sealed files and the active one; nil when none. It is
	// served from its in-memory keys until its index is in place.
	closing *activeFile
	active  *activeFile // the last file; nil iff the log is empty

	// epoch is bumped (under mu, write) before TruncateAfter changes bytes
	// of a file in place: a reader that read such bytes sees a new epoch
	// after its read and reads again.
	epoch atomic.Uint64

	closed atomic.Bool
	fault  fault

	// Group commit (sync.go).
	appended atomic.Uint64 // Appends published so far
	dirDirty atomic.Bool   // a file was created since the directory's last fsync
	syncer   syncer

	buf []byte // the writer's record buffer

	// The background seal (seal.go): sealDone is closed when the seal of
	// closing ends (nil if none was started since the last wait). The
	// writer alone reads and writes it.
	sealDone chan struct{}
	// Test knobs, set before the first Append: sealStart runs in the
	// sealer before it touches the file; sealWait runs in the writer
	// before it waits for the sealer.
	sealStart func(first uint64)
	sealWait  func()
}

func segName(first uint64) string      { return fmt.Sprintf("%020d.seg", first) }
func idxName(first uint64) string      { return fmt.Sprintf("%020d.idx", first) }
func idxTmpName(first uint64) string   { return fmt.Sprintf("%020d.idx.tmp", first) }
func (l *Log) path(name string) string { return l.fs.PathJoin(l.opts.Dir, name) }

// syncDir fsyncs the directory, making its entries (files created, renamed,
// removed) durable.
func (l *Log) syncDir() error {
	if l.opts.NoSync {
		return nil
	}
	l.dirMu.Lock()
	defer l.dirMu.Unlock()
	if err := l.dirFile.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", l.opts.Dir, err)
	}
	return nil
}

// Bounds is the first and last block the log holds; ok is false when it
// holds none.
func (l *Log) Bounds() (first, last uint64, ok bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.boundsLocked()
}

func (l *Log) boundsLocked() (first, last uint64, ok bool) {
	if l.active == nil {
		return 0, 0, false
	}
	first = l.active.first
	if l.closing != nil {
		first = l.closing.first
	}
	if len(l.sealed) > 0 {
		first = l.sealed[0].first
	}
	return first, l.active.last(), true
}

// Files describes the log's files, in block order; the last is the open
// one. A full file whose seal is under way (see seal.go) is not Sealed yet
// and has no IndexBytes.
func (l *Log) Files() []FileInfo {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]FileInfo, 0, len(l.sealed)+2)
	for _, f := range l.sealed {
		out = append(out, FileInfo{First: f.first, Last: f.last(), Bytes: f.segBytes, IndexBytes: f.idxBytes, Sealed: true, Name: f.name})
	}
	if c := l.closing; c != nil {
		out = append(out, FileInfo{First: c.first, Last: c.last(), Bytes: c.end, Name: c.name})
	}
	if a := l.active; a != nil {
		out = append(out, FileInfo{First: a.first, Last: a.last(), Bytes: a.end, Name: a.name})
	}
	return out
}

// Recovered is what Open found to repair: tails cut, indexes rebuilt, files
// removed. It is empty after a clean shutdown.
func (l *Log) Recovered() Report { return l.report }

// Append writes block's record: payload and the keys by which parts of it
// are found. block must follow the last block (any block when the log is
// empty). The record is written to the file (to the OS) but not synced:
// Sync makes it durable. It is visible to Read and Lookup when Append
// returns; a block whose Append fails is not.
//
// The Append of the first block past the open file's capacity creates the
// next file and hands the full one to a background seal (see seal.go): it
// does not wait for the index to be built and written. It fsyncs the full
// file first unless a Sync already covered its last block, and waits only
// if the seal of the file before is still under way (at most one file is
// closed but unsealed at a time, so memory stays bounded); with files of
// hundreds of blocks that seal ended long before.
func (l *Log) Append(block uint64, payload []byte, keys []Entry) error {
	what := fmt.Sprintf("append block %d", block)
	if err := l.writeErr(what); err != nil {
		return err
	}
	if err := checkAppend(payload, keys); err != nil {
		return fmt.Errorf("segment: %s: %w", what, err)
	}
	l.mu.RLock()
	a := l.active
	l.mu.RUnlock()
	if a != nil && block != a.last()+1 {
		return fmt.Errorf("segment: %s: the log ends at block %d", what, a.last())
	}
	if a != nil && len(a.entries)+len(keys) > maxFileKeys {
		return fmt.Errorf("segment: %s: a file holds at most %d keys", what, maxFileKeys)
	}

	var loc blockLoc
	l.buf, loc = appendRecord(l.buf[:0], block, payload, keys)
	rec := l.buf
	if a != nil && !a.full() {
		if err := a.seg.writeAt(rec, a.end); err != nil {
			return l.fail(what, err)
		}
		l.mu.Lock()
		loc.off = a.end
		a.addEntries(loc, keys)
		l.mu.Unlock()
		l.appended.Add(1)
		return nil
	}

	// A new file: the first block of the log, or the open file is full.
	if a != nil {
		// At most one file is being sealed: wait for the one before.
		l.waitSeal()
		if err := l.writeErr(what); err != nil {
			return err
		}
		// a must be whole on disk before the next file exists: a crash may
		// keep the next file's directory entry and lose a's unsynced tail,
		// and a file that is not the last must be whole (Open refuses a
		// short one). A Sync that covered a's last block did it already
		// (the usual case: the caller syncs every block); else a is
		// fsynced here.
		if !l.opts.NoSync && !l.synced(l.appended.Load()) {
			if err := a.seg.sync(); err != nil {
				return l.fail(what, err)
			}
		}
	}
	na, err := l.createFile(block, rec)
	if err != nil {
		return l.fail(what, err)
	}
	loc.off = fileHeaderSize
	na.addEntries(loc, keys)
	l.mu.Lock()
	if a != nil {
		l.closing = a // served from its keys in memory until sealed
	}
	l.active = na
	l.mu.Unlock()
	l.appended.Add(1)
	if a != nil {
		l.startSeal(a)
	}
	return nil
}

// maxFileKeys bounds the keys of one file: the open file's key links are
// int32.
const maxFileKeys = 1<<31 - 1

// checkAppend checks what a caller may get wrong in an Append.
func checkAppend(payload []byte, keys []Entry) error {
	if len(payload) > maxPayload {
		return fmt.Errorf("payload of %d bytes, at most %d", len(payload), maxPayload)
	}
	if len(keys) > maxKeys {
		return fmt.Errorf("%d keys, at most %d", len(keys), maxKeys)
	}
	for i, k := range keys {
		if uint64(k.Off)+uint64(k.Len) > uint64(len(payload)) {
			return fmt.Errorf("key %d (%#x) at [%d:%d] is outside the %d-byte payload", i, k.Key, k.Off, uint64(k.Off)+uint64(k.Len), len(payload))
		}
	}
	return nil
}

// createFile creates the file starting at first, with its header and first
// record rec. The directory entry is made durable by the next Sync (or
// seal).
func (l *Log) createFile(first uint64, rec []byte) (*activeFile, error) {
	name := segName(first)
	f, err := l.fs.Create(l.path(name), vfs.WriteCategoryUnspecified)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	l.dirDirty.Store(true)
	capacity := uint32(l.opts.BlocksPerFile)
	h := newHandle(f, name)
	buf := append(encodeFileHeader(first, capacity), rec...)
	if err := h.writeAt(buf, 0); err != nil {
		h.release()
		return nil, err
	}
	return newActiveFile(name, first, capacity, h, true), nil
}

// Close closes the log: it waits for a seal under way, syncs what was
// appended (unless NoSync or a fault), then closes the files (a read under
// way finishes first). Every later call returns ErrClosed. Close must not
// run concurrently with other writes or Sync.
func (l *Log) Close() error {
	if l.closed.Load() {
		return nil
	}
	l.waitSeal()
	var err error
	if l.fault.get() == nil {
		err = l.Sync()
	}
	l.closed.Store(true)
	l.mu.Lock()
	sealed, closing, active := l.sealed, l.closing, l.active
	l.sealed, l.closing, l.active = nil, nil, nil
	l.mu.Unlock()
	for _, f := range sealed {
		f.release()
	}
	if closing != nil { // its seal failed
		closing.seg.release()
	}
	if active != nil {
		active.seg.release()
	}
	l.closeDir()
	return err
}

// closeDir closes the directory and releases the lock.
func (l *Log) closeDir() {
	if l.dirFile != nil {
		_ = l.dirFile.Close()
		l.dirFile = nil
	}
	if l.lockFile != nil {
		_ = l.lockFile.Close()
		l.lockFile = nil
	}
}
