package segment

import (
	"fmt"
	"math"
	"sort"
)

// Reads (Read, ReadLoc, Lookup, Bounds, Files) may run from any number of
// goroutines, concurrently with the writer. Each finds what to read under
// Log.mu (read), takes a reference on the file, and reads without the lock.
// Two things may change under a read:
//
//   - PruneBefore or TruncateAfter removes the file: the reference keeps it
//     open, and the read returns the bytes the block had when the read
//     began;
//   - TruncateAfter cuts the open file in place (or an Append after it
//     writes where a dropped block was): it bumps Log.epoch first, and a
//     read that sees the epoch move under it starts over, and then finds
//     the block (if it was kept) or not (ErrNotFound).

// recRef is a block's record found in the view, with a reference on its
// file.
type recRef struct {
	h     *handle
	loc   blockLoc
	epoch uint64
}

// find locates block's record and takes a reference on its file.
func (l *Log) find(block uint64) (recRef, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed.Load() {
		return recRef{}, ErrClosed
	}
	r := recRef{epoch: l.epoch.Load()}
	a := l.active
	switch {
	case a == nil:
		return r, ErrNotFound
	case block >= a.first:
		if block > a.last() {
			return r, ErrNotFound
		}
		r.h, r.loc = a.seg, a.blocks[block-a.first]
	case l.closing != nil && block >= l.closing.first:
		c := l.closing
		r.h, r.loc = c.seg, c.blocks[block-c.first]
	default:
		i := sort.Search(len(l.sealed), func(i int) bool { return l.sealed[i].last() >= block })
		if i == len(l.sealed) || block < l.sealed[i].first {
			return r, ErrNotFound
		}
		f := l.sealed[i]
		r.h, r.loc = f.seg, f.blocks[block-f.first]
	}
	r.h.acquire()
	return r, nil
}

// readRecord reads block's record, or the part of its payload [off, off+n)
// when part is set, retrying when TruncateAfter changed the file under the
// read.
func (l *Log) readRecord(block uint64, part bool, off, n uint32) ([]byte, recRef, error) {
	for {
		r, err := l.find(block)
		if err != nil {
			return nil, r, err
		}
		var buf []byte
		at := r.loc.off
		if part {
			if uint64(off)+uint64(n) > uint64(r.loc.plen) {
				r.h.release()
				return nil, r, fmt.Errorf("segment: read block %d: [%d:%d] is outside its %d-byte payload", block, off, uint64(off)+uint64(n), r.loc.plen)
			}
			buf, at = make([]byte, n), at+recHeaderSize+int64(off)
		} else {
			buf = make([]byte, r.loc.size())
		}
		err = r.h.readAt(buf, at)
		r.h.release()
		if l.epoch.Load() != r.epoch {
			continue
		}
		if err != nil {
			return nil, r, fmt.Errorf("segment: read block %d: %w", block, err)
		}
		return buf, r, nil
	}
}

// Read returns block's payload, checked against its record's checksum. It
// returns ErrNotFound if the log does not hold block, and a *CorruptError
// if its record is not what was written.
func (l *Log) Read(block uint64) ([]byte, error) {
	rec, r, err := l.readRecord(block, false, 0, 0)
	if err != nil {
		return nil, err
	}
	if err := checkRecord(rec, block); err != nil {
		return nil, corrupt(r.h.name, r.loc.off, "block %d: %v", block, err)
	}
	end := recHeaderSize + int(r.loc.plen)
	return rec[recHeaderSize:end:end], nil
}

// ReadLoc returns the bytes loc names: payload[loc.Off:loc.Off+loc.Len] of
// loc.Block, in one read of just those bytes (not checked against the
// record's checksum: Read does that).
func (l *Log) ReadLoc(loc Loc) ([]byte, error) {
	b, _, err := l.readRecord(loc.Block, true, loc.Off, loc.Len)
	return b, err
}

// Lookup finds the entry with key in the lowest block after after that has
// one (of several entries of that block with key, the first appended); ok
// is false if no block after after has key. It walks the files from the one
// holding after+1: a sealed file whose bloom filter rules key out costs no
// read, one that may hold it costs one read of a chunk of its sorted keys;
// the open file's keys are in memory (and so are those of a full file until
// its background seal ends).
func (l *Log) Lookup(key uint64, after uint64) (Loc, bool, error) {
	if after == math.MaxUint64 {
		return Loc{}, false, nil
	}
	for {
		loc, ok, epoch, err := l.lookup(key, after)
		// A sealed file's entry is read from its .seg, which TruncateAfter
		// may cut in place (see the top of this file): start over.
		if l.epoch.Load() != epoch {
			continue
		}
		return loc, ok, err
	}
}

func (l *Log) lookup(key uint64, after uint64) (Loc, bool, uint64, error) {
	l.mu.RLock()
	epoch := l.epoch.Load()
	if l.closed.Load() {
		l.mu.RUnlock()
		return Loc{}, false, epoch, ErrClosed
	}
	// The sealed files past after whose bloom filter lets key through
	// (the filters are in memory: a file that rules key out costs no
	// read, nor a reference).
	all := l.sealed
	i := sort.Search(len(all), func(i int) bool { return all[i].last() > after })
	var buf [8]*sealedFile
	sealed := buf[:0]
	for _, f := range all[i:] {
		if f.nentries == 0 || !f.bloom.mayContain(key) {
			continue
		}
		f.idx.acquire()
		f.seg.acquire() // an entry's offset and length are in its record
		sealed = append(sealed, f)
	}
	// The files with keys in memory (the one being sealed, the open one)
	// are searched now, in the same view: their blocks follow every sealed
	// one, so their answer counts only if the sealed files have none.
	var aloc Loc
	var aok bool
	if l.closing != nil {
		aloc, aok = l.closing.lookup(key, after)
	}
	if l.active != nil && !aok {
		aloc, aok = l.active.lookup(key, after)
	}
	l.mu.RUnlock()
	defer func() {
		for _, f := range sealed {
			f.idx.release()
			f.seg.release()
		}
	}()
	for _, f := range sealed {
		loc, ok, err := f.lookup(key, after)
		if err != nil {
			return Loc{}, false, epoch, fmt.Errorf("segment: lookup %#x after block %d: %w", key, after, err)
		}
		if ok {
			return loc, true, epoch, nil
		}
	}
	return aloc, aok, epoch, nil
}
