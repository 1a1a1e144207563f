package segment

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"slices"
)

// PruneBefore deletes the whole files whose last block is before block,
// oldest first, and returns the bytes they held (.seg records and .idx). It
// never deletes part of a file, nor the open file: the log keeps its last
// block (nor a full file whose background seal is under way, unless block
// is past it: then the seal is waited for). Each .seg removal is made durable (directory fsync) before the next,
// so a crash midway leaves the newer files, consecutive; an .idx left
// without its .seg is removed by Open. A reader still reading a deleted file
// finishes on its open descriptor.
func (l *Log) PruneBefore(block uint64) (removed int64, err error) {
	what := fmt.Sprintf("prune before block %d", block)
	if err := l.writeErr(what); err != nil {
		return 0, err
	}
	l.mu.RLock()
	sealed, closing := l.sealed, l.closing
	l.mu.RUnlock()
	if closing != nil && closing.last() < block && l.sealDone != nil {
		// The file being sealed goes too: wait for its seal (seal.go).
		// Else a seal under way goes on: it only appends to sealed.
		l.waitSeal()
		if err := l.writeErr(what); err != nil {
			return 0, err
		}
		l.mu.RLock()
		sealed = l.sealed
		l.mu.RUnlock()
	}
	for len(sealed) > 0 && sealed[0].last() < block {
		f := sealed[0]
		if err := l.fs.Remove(l.path(f.name)); err != nil && !errors.Is(err, iofs.ErrNotExist) {
			return removed, fmt.Errorf("segment: %s: remove %s: %w", what, f.name, err)
		}
		if err := l.syncDir(); err != nil {
			return removed, l.fail(what, err)
		}
		l.mu.Lock()
		l.sealed = slices.Clone(l.sealed[1:])
		l.mu.Unlock()
		sealed = sealed[1:]
		f.release()
		removed += f.segBytes + f.idxBytes
		if err := l.fs.Remove(l.path(f.idxName)); err != nil && !errors.Is(err, iofs.ErrNotExist) {
			return removed, fmt.Errorf("segment: %s: remove %s: %w", what, f.idxName, err)
		}
	}
	if removed > 0 {
		if err := l.syncDir(); err != nil {
			return removed, l.fail(what, err)
		}
	}
	return removed, nil
}
