package segment

// memEntry is one key of the open file, in append order.
type memEntry struct {
	key   uint64
	delta uint32 // block - the file's first
	off   uint32 // into the payload
	len   uint32
	prev  int32 // the entry before with the same key, -1 if none
}

// activeFile is the open (last, unsealed) file: the blocks it holds and an
// in-memory index of their keys, rebuilt by a scan on Open. Its tables
// change under Log.mu (write) and are read under Log.mu (read).
//
// The key index is a map from a key to its last entry and, per entry, a
// link to the one before with the same key: appending and cutting the tail
// (TruncateAfter) touch only the entries concerned, and a key's entries are
// in append order, so the lowest block after a given one is found by walking
// back from the last.
type activeFile struct {
	name     string // base name of the .seg
	first    uint64
	capacity uint32
	seg      *handle // read-write
	end      int64   // where the next record goes; past it only zeros or nothing

	blocks  []blockLoc
	entries []memEntry
	tails   map[uint64]int32 // nil when built for an index only (no lookups)
}

func newActiveFile(name string, first uint64, capacity uint32, seg *handle, withMap bool) *activeFile {
	a := &activeFile{name: name, first: first, capacity: capacity, seg: seg, end: fileHeaderSize}
	if withMap {
		a.tails = make(map[uint64]int32)
	}
	return a
}

// last is the file's last block; the file holds at least one.
func (a *activeFile) last() uint64 { return a.first + uint64(len(a.blocks)) - 1 }

// full reports whether the file holds its capacity.
func (a *activeFile) full() bool { return uint64(len(a.blocks)) >= uint64(a.capacity) }

// addEntries records the next block, at loc, with keys as Append was given
// them (or a scan decoded them).
func (a *activeFile) addEntries(loc blockLoc, keys []Entry) {
	delta := a.next(loc)
	for _, k := range keys {
		a.addEntry(memEntry{key: k.Key, delta: delta, off: k.Off, len: k.Len})
	}
}

// next records the next block's place and returns its delta.
func (a *activeFile) next(loc blockLoc) uint32 {
	delta := uint32(len(a.blocks))
	a.blocks = append(a.blocks, loc)
	a.end = loc.end()
	return delta
}

// addEntry appends a key of the last block, linking it to the key's
// previous entry.
func (a *activeFile) addEntry(e memEntry) {
	e.prev = -1
	if a.tails != nil {
		if t, ok := a.tails[e.key]; ok {
			e.prev = t
		}
		a.tails[e.key] = int32(len(a.entries))
	}
	a.entries = append(a.entries, e)
}

// trim keeps the first n blocks (n < len(blocks)) and drops the rest and
// their keys.
func (a *activeFile) trim(n int) {
	keep := 0
	for _, b := range a.blocks[:n] {
		keep += int(b.nkeys)
	}
	if a.tails != nil {
		for i := len(a.entries) - 1; i >= keep; i-- {
			e := a.entries[i]
			if e.prev >= 0 {
				a.tails[e.key] = e.prev
			} else {
				delete(a.tails, e.key)
			}
		}
	}
	a.entries = a.entries[:keep]
	a.end = a.blocks[n].off
	a.blocks = a.blocks[:n]
}

// lookup is the first entry with key in the lowest block > after.
func (a *activeFile) lookup(key, after uint64) (Loc, bool) {
	if after >= a.last() {
		return Loc{}, false
	}
	i, ok := a.tails[key]
	if !ok {
		return Loc{}, false
	}
	best := int32(-1)
	for i >= 0 && a.first+uint64(a.entries[i].delta) > after {
		best = i
		i = a.entries[i].prev
	}
	if best < 0 {
		return Loc{}, false
	}
	e := a.entries[best]
	return Loc{Block: a.first + uint64(e.delta), Off: e.off, Len: e.len}, true
}
