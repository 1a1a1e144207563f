package segment

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Report is what Open repaired. It is empty after a clean shutdown, and
// after a crash lists what the crash left behind; nothing in it was ever
// reported durable by Sync (that would be corruption, an error).
type Report struct {
	Cuts    []Cut    // torn tails cut from the last file
	Rebuilt []string // sealed files' indexes rebuilt from the .seg, with why
	Removed []string // files removed: temporary and orphaned indexes, the last file's index, a last file with no valid record
}

// Cut is a torn tail cut from the last file.
type Cut struct {
	File   string
	Offset int64  // where the valid records end
	Bytes  int64  // bytes dropped
	Block  uint64 // the block the first dropped record should have been
	Reason string // why the scan stopped there
}

// Empty reports whether Open repaired nothing.
func (r Report) Empty() bool { return len(r.Cuts)+len(r.Rebuilt)+len(r.Removed) == 0 }

func (r Report) String() string {
	if r.Empty() {
		return "nothing to recover"
	}
	var parts []string
	for _, c := range r.Cuts {
		parts = append(parts, fmt.Sprintf("cut %s at %d (%d bytes from block %d: %s)", c.File, c.Offset, c.Bytes, c.Block, c.Reason))
	}
	for _, s := range r.Rebuilt {
		parts = append(parts, "rebuilt "+s)
	}
	if len(r.Removed) > 0 {
		parts = append(parts, "removed "+strings.Join(r.Removed, ", "))
	}
	return strings.Join(parts, "; ")
}

// Open opens the log in o.Dir, creating the directory if missing, and
// recovers it:
//
//   - temporary indexes (a seal interrupted) and indexes without their .seg
//     (a prune interrupted) are removed;
//   - every record of the last file is read and checked; the first that is
//     not the next valid one (a short header or record, a bad checksum, a
//     block that does not follow) and everything after it is cut away (see
//     handle.cut), and a last file left with no block (or with a torn
//     header) is removed, its predecessor becoming the last; the last
//     file's index, if any, is removed: the last file is always the open
//     one, its keys in memory;
//   - every other file must be sealed and whole: its header valid, exactly
//     its capacity of blocks, its index valid (checked by checksum; a
//     missing or corrupt index is rebuilt from the .seg, every record
//     checked), its blocks following the previous file's. Anything else is
//     a *CorruptError naming the file and offset: nothing that was sealed
//     is dropped silently;
//   - the last file and the directory are fsynced, so what Open shows is
//     durable.
//
// What was repaired is in Recovered.
func Open(o Options) (*Log, error) {
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if o.Dir == "" {
		return nil, errors.New("segment: open: no directory")
	}
	switch {
	case o.BlocksPerFile == 0:
		o.BlocksPerFile = defaultBlocksPerFile
	case o.BlocksPerFile > maxBlocksPerFile:
		return nil, fmt.Errorf("segment: open: %d blocks per file, at most %d", o.BlocksPerFile, maxBlocksPerFile)
	}
	switch {
	case o.BloomBitsPerKey == 0:
		o.BloomBitsPerKey = defaultBloomBits
	case o.BloomBitsPerKey < 1 || o.BloomBitsPerKey > 64:
		return nil, fmt.Errorf("segment: open: %d bloom bits per key, want 1..64", o.BloomBitsPerKey)
	}
	l := &Log{opts: o, fs: o.FS}
	l.syncer.cond = sync.NewCond(&l.syncer.mu)
	if err := l.open(); err != nil {
		l.mu.Lock()
		for _, f := range l.sealed {
			f.release()
		}
		if l.active != nil {
			l.active.seg.release()
		}
		l.sealed, l.active = nil, nil
		l.mu.Unlock()
		l.closeDir()
		return nil, fmt.Errorf("segment: open %s: %w", o.Dir, err)
	}
	return l, nil
}

// open locks the directory and recovers the files into the view.
func (l *Log) open() error {
	dir := l.opts.Dir
	if err := l.fs.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// The directory's own entry is durable only once its parent is synced
	// (it may just have been created).
	if !l.opts.NoSync {
		parent := l.fs.PathDir(dir)
		pf, err := l.fs.OpenDir(parent)
		if err != nil {
			return err
		}
		err = pf.Sync()
		_ = pf.Close()
		if err != nil {
			return fmt.Errorf("sync directory %s: %w", parent, err)
		}
	}
	lock, err := l.fs.Lock(l.path("LOCK"))
	if err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	l.lockFile = lock
	if l.dirFile, err = l.fs.OpenDir(dir); err != nil {
		return err
	}
	names, err := l.fs.List(dir)
	if err != nil {
		return err
	}
	var segs []uint64
	idxs := map[uint64]bool{}
	for _, name := range names {
		switch first, kind := parseName(name); kind {
		case ".seg":
			segs = append(segs, first)
		case ".idx":
			idxs[first] = true
		case ".idx.tmp":
			if err := l.remove(name); err != nil {
				return err
			}
		}
	}
	slices.Sort(segs)
	for first := range idxs {
		if _, found := slices.BinarySearch(segs, first); !found {
			if err := l.remove(idxName(first)); err != nil {
				return err
			}
			delete(idxs, first)
		}
	}

	// The last file: checked record by record, its torn tail cut.
	for len(segs) > 0 && l.active == nil {
		first := segs[len(segs)-1]
		segs = segs[:len(segs)-1]
		a, err := l.recoverLast(first)
		if err != nil {
			return err
		}
		l.active = a
		if idxs[first] {
			if err := l.remove(idxName(first)); err != nil {
				return err
			}
		}
	}
	// The sealed files.
	for _, first := range segs {
		sf, err := l.loadSealed(first, idxs[first])
		if err != nil {
			return err
		}
		if n := len(l.sealed); n > 0 && sf.first != l.sealed[n-1].last()+1 {
			sf.release()
			return corrupt(sf.name, 8, "starts at block %d, the file before ends at %d", sf.first, l.sealed[n-1].last())
		}
		l.sealed = append(l.sealed, sf)
	}
	if n := len(l.sealed); n > 0 && l.active.first != l.sealed[n-1].last()+1 {
		return corrupt(l.active.name, 8, "starts at block %d, the file before ends at %d", l.active.first, l.sealed[n-1].last())
	}

	if !l.opts.NoSync {
		if l.active != nil {
			if err := l.active.seg.sync(); err != nil {
				return err
			}
		}
		if err := l.syncDir(); err != nil {
			return err
		}
	}
	return nil
}

// parseName is the first block and kind (".seg", ".idx", ".idx.tmp") of a
// file of the log; kind is "" for any other name.
func parseName(name string) (uint64, string) {
	if len(name) < 24 || name[20] != '.' {
		return 0, ""
	}
	first, err := strconv.ParseUint(name[:20], 10, 64)
	if err != nil || fmt.Sprintf("%020d", first) != name[:20] {
		return 0, ""
	}
	switch kind := name[20:]; kind {
	case ".seg", ".idx", ".idx.tmp":
		return first, kind
	}
	return 0, ""
}

// remove removes a file of the log during Open and reports it; the
// directory is synced at the end of Open.
func (l *Log) remove(name string) error {
	if err := l.fs.Remove(l.path(name)); err != nil && !errors.Is(err, iofs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	l.report.Removed = append(l.report.Removed, name)
	return nil
}

// recoverLast opens the last file for appending, checks every record and
// cuts its torn tail. It returns nil (and removes the file) when the file
// holds no valid block.
func (l *Log) recoverLast(first uint64) (*activeFile, error) {
	name := segName(first)
	file, err := l.fs.OpenReadWrite(l.path(name), vfs.WriteCategoryUnspecified)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	h := newHandle(file, name)
	a, err := l.recoverTail(h, first)
	if err != nil || a == nil {
		h.release()
	}
	if err == nil && a == nil {
		err = l.remove(name)
	}
	return a, err
}

func (l *Log) recoverTail(h *handle, first uint64) (*activeFile, error) {
	size, err := h.size()
	if err != nil {
		return nil, err
	}
	hdr := make([]byte, fileHeaderSize)
	if size >= fileHeaderSize {
		if err := h.readAt(hdr, 0); err != nil {
			return nil, err
		}
	}
	hfirst, capacity, ok := decodeFileHeader(hdr)
	if v := otherVersion(hdr); v != 0 {
		return nil, versionError(h.name, v)
	}
	if !ok {
		// A torn header: the file was created and nothing of it synced
		// (a sync covers the header with the records).
		if zero, err := h.allZero(0, size); err != nil {
			return nil, err
		} else if !zero {
			l.report.Cuts = append(l.report.Cuts, Cut{File: h.name, Bytes: size, Block: first, Reason: "torn file header"})
		}
		return nil, nil
	}
	if hfirst != first {
		return nil, corrupt(h.name, 8, "the header says the file starts at block %d", hfirst)
	}
	a := newActiveFile(h.name, first, capacity, h, true)
	end, stop, err := scanRecords(h, size, first, capacity, func(_ uint64, loc blockLoc, ents []Entry) bool {
		a.addEntries(loc, ents)
		return true
	})
	if err != nil {
		return nil, err
	}
	if end < size {
		zero, err := h.allZero(end, size)
		if err != nil {
			return nil, err
		}
		if !zero {
			l.report.Cuts = append(l.report.Cuts, Cut{File: h.name, Offset: end, Bytes: size - end,
				Block: first + uint64(len(a.blocks)), Reason: stop.reason})
		}
		_, truncates := h.f.(truncater)
		if !zero || truncates {
			if err := l.cutFile(h, end, size); err != nil {
				return nil, err
			}
		}
	}
	if len(a.blocks) == 0 {
		return nil, nil
	}
	return a, nil
}

// loadSealed opens a sealed file and its index; a missing or corrupt index
// is rebuilt from the .seg.
func (l *Log) loadSealed(first uint64, hasIdx bool) (*sealedFile, error) {
	name := segName(first)
	file, err := l.fs.Open(l.path(name))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	seg := newHandle(file, name)
	sf, err := l.loadSealedFrom(seg, first, hasIdx)
	if err != nil {
		seg.release()
		return nil, err
	}
	return sf, nil
}

func (l *Log) loadSealedFrom(seg *handle, first uint64, hasIdx bool) (*sealedFile, error) {
	size, err := seg.size()
	if err != nil {
		return nil, err
	}
	hdr := make([]byte, fileHeaderSize)
	if size < fileHeaderSize {
		return nil, corrupt(seg.name, 0, "%d bytes is too short for a file header", size)
	}
	if err := seg.readAt(hdr, 0); err != nil {
		return nil, err
	}
	hfirst, capacity, ok := decodeFileHeader(hdr)
	switch {
	case otherVersion(hdr) != 0:
		return nil, versionError(seg.name, otherVersion(hdr))
	case !ok:
		return nil, corrupt(seg.name, 0, "bad file header")
	case hfirst != first:
		return nil, corrupt(seg.name, 8, "the header says the file starts at block %d", hfirst)
	}
	sf := &sealedFile{name: seg.name, idxName: idxName(first), first: first, capacity: capacity, seg: seg}

	why := "missing"
	if hasIdx {
		file, err := l.fs.Open(l.path(sf.idxName))
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", sf.idxName, err)
		}
		idx := newHandle(file, sf.idxName)
		err = loadIndex(sf, idx, size)
		if err == nil {
			return sf, nil
		}
		idx.release()
		var ce *CorruptError
		if !errors.As(err, &ce) {
			return nil, err
		}
		why = ce.Error()
	}

	// Rebuild the index: every record read and checked.
	a := newActiveFile(seg.name, first, capacity, seg, false)
	end, stop, err := scanRecords(seg, size, first, capacity, func(_ uint64, loc blockLoc, ents []Entry) bool {
		a.addEntries(loc, ents)
		return true
	})
	if err != nil {
		return nil, err
	}
	if !a.full() {
		reason := "the file ends"
		if stop != nil {
			reason = stop.reason
		}
		return nil, corrupt(seg.name, end, "sealed file holds %d of its %d blocks: %s", len(a.blocks), capacity, reason)
	}
	if end < size {
		if zero, err := seg.allZero(end, size); err != nil {
			return nil, err
		} else if !zero {
			return nil, corrupt(seg.name, end, "bytes after the last block: %s", stop.reason)
		}
	}
	data, built := buildIndex(seg.name, first, capacity, a.blocks, a.entries, end, l.opts.BloomBitsPerKey)
	idx, err := l.writeIndex(first, data)
	if err != nil {
		return nil, err
	}
	built.seg, built.idx = seg, idx
	l.report.Rebuilt = append(l.report.Rebuilt, fmt.Sprintf("%s (%s)", sf.idxName, why))
	return built, nil
}
