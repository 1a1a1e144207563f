package segment

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"slices"
	"sort"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TruncateAfter drops every block after block (a reorg); a block at or past
// the last is a no-op, a block before the first empties the log. It is
// crash-safe: it removes whole files from the last one down, each removal
// made durable (directory fsync) before the next, then cuts the file that
// holds block (truncated, or overwritten with zeros where the file system
// cannot truncate) and fsyncs it, so a crash midway reopens to a prefix of
// the log as it was, and never to a hole or to a dropped block after a kept
// one. The cut is durable before TruncateAfter returns, so an Append after
// it never leaves a dropped block behind to be found after a crash.
//
// A sealed file that becomes the last is opened again: its index is
// removed and its keys are read back by a scan (a sealed file is the same
// bytes as the open file it was). A cut before the open file first waits
// for a background seal under way (see seal.go).
func (l *Log) TruncateAfter(block uint64) error {
	what := fmt.Sprintf("truncate after block %d", block)
	if err := l.writeErr(what); err != nil {
		return err
	}
	l.mu.RLock()
	first, last, ok := l.boundsLocked()
	a, sealed := l.active, l.sealed
	l.mu.RUnlock()
	if !ok || block >= last {
		return nil
	}

	if block >= a.first {
		n := int(block - a.first + 1)
		off, end := a.blocks[n].off, a.end
		l.mu.Lock()
		l.epoch.Add(1)
		a.trim(n)
		l.mu.Unlock()
		if err := l.cutFile(a.seg, off, end); err != nil {
			return l.fail(what, err)
		}
		return nil
	}

	// block is before the open file: a seal under way is waited for (its
	// file is cut or removed below, as a sealed one), then the view read
	// again. A reorg deeper than the open file is rare, and one right
	// after a roll rarer still.
	if l.sealDone != nil {
		l.waitSeal()
		if err := l.writeErr(what); err != nil {
			return err
		}
		l.mu.RLock()
		first, _, _ = l.boundsLocked()
		a, sealed = l.active, l.sealed
		l.mu.RUnlock()
	}

	// sealed[i] is the file holding block,
	// which becomes the open file again (the last file is always the open
	// one), or the first file when block is before it.
	i := sort.Search(len(sealed), func(i int) bool { return sealed[i].last() >= block })
	var na *activeFile
	if block >= first {
		var err error
		if na, err = l.reopenSealed(sealed[i], block); err != nil {
			return fmt.Errorf("segment: %s: %w", what, err)
		}
	}
	l.mu.Lock()
	l.epoch.Add(1)
	l.sealed = slices.Clone(sealed[:i])
	l.active = na
	l.mu.Unlock()
	defer func() {
		a.seg.release()
		for _, f := range sealed[i:] {
			f.release()
		}
	}()

	// Remove from the last file down, each removal durable before the next.
	if err := l.removeFile(a.name, ""); err != nil {
		return l.fail(what, err)
	}
	for j := len(sealed) - 1; j >= i; j-- {
		f := sealed[j]
		if f.first <= block {
			break
		}
		if err := l.removeFile(f.name, f.idxName); err != nil {
			return l.fail(what, err)
		}
	}
	if na == nil {
		return nil
	}
	// The file holding block is the open one again: no index, and the
	// blocks after block cut away.
	f := sealed[i]
	if err := l.removeFile("", f.idxName); err != nil {
		return l.fail(what, err)
	}
	if err := l.cutFile(na.seg, na.end, f.segBytes); err != nil {
		return l.fail(what, err)
	}
	return nil
}

// cutFile removes the bytes [off, end) of a file (see handle.cut) and syncs
// it.
func (l *Log) cutFile(h *handle, off, end int64) error {
	if err := h.cut(off, end); err != nil {
		return err
	}
	if l.opts.NoSync {
		return nil
	}
	return h.sync()
}

// removeFile removes the files named (either may be "", and either may be
// absent) and syncs the directory.
func (l *Log) removeFile(names ...string) error {
	for _, name := range names {
		if name == "" {
			continue
		}
		if err := l.fs.Remove(l.path(name)); err != nil && !errors.Is(err, iofs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", name, err)
		}
	}
	return l.syncDir()
}

// reopenSealed is the sealed file f as the open file holding its blocks up
// to block (f.first <= block <= f.last()): opened for writing, its records
// scanned (and so checked) up to block to rebuild the keys in memory.
func (l *Log) reopenSealed(f *sealedFile, block uint64) (*activeFile, error) {
	file, err := l.fs.OpenReadWrite(l.path(f.name), vfs.WriteCategoryUnspecified)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", f.name, err)
	}
	h := newHandle(file, f.name)
	a := newActiveFile(f.name, f.first, f.capacity, h, true)
	end, stop, err := scanRecords(h, f.segBytes, f.first, f.capacity, func(b uint64, loc blockLoc, ents []Entry) bool {
		if b > block {
			return false
		}
		a.addEntries(loc, ents)
		return true
	})
	if err == nil && stop != nil {
		err = corrupt(f.name, stop.off, "%s", stop.reason)
	}
	if err == nil && (len(a.blocks) == 0 || a.last() != block) {
		err = corrupt(f.name, end, "the records end before block %d", block)
	}
	if err != nil {
		h.release()
		return nil, err
	}
	return a, nil
}
