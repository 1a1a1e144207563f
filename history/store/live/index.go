package live

import "sync"

// index maps each disk key some held layer writes to those layers, oldest
// first, so a read finds the newest layer holding a key with one map access
// instead of one per layer (pathdb's lookup plays the same part), and a
// flush finds each key's newest value by iterating it once.
//
// It is shared by every view, old ones included, and kept correct for them
// by two numbers:
//   - epoch counts the Unwinds that dropped layers. A view taken in another
//     epoch may hold layers the index has forgotten (or lack ones it lists
//     under reused block numbers), so it walks its own layers instead.
//   - floor is one past the seq of the newest layer Flushed removed. A view
//     may still hold layers below it; after the index misses, it walks just
//     those (they are older than anything the index could have answered).
//
// Push adds a layer's keys before the view holding it is published, so a
// view never holds a layer the index (in its epoch) does not list; floor
// and epoch move before the first entry is removed. Push (add), Flushed
// (dropOldest) and Unwind (dropNewest) mutate it under the write lock, and
// Push may run while Flushed trims: add only appends refs newer than any
// listed, dropOldest only removes refs from the front, each under the lock.
// Readers and Flush (collect) read under the read lock, copying refs out.
// Both long passes, collect and dropOldest, let go of the lock every so
// many keys, so a Push waits for a chunk, not for the pass; a key Push adds
// meanwhile may or may not be visited, and neither pass cares (its refs
// are newer than the flush).
type index struct {
	mu    sync.RWMutex
	epoch uint64
	floor uint64
	m     map[string][]ref
}

// ref is one layer's write of a key: the layer and the value's position.
type ref struct {
	l *diff
	i int32
}

// trimChunk is how many keys a removal handles before letting readers and
// Push in; collectChunk is the same for Flush's pass, which runs beside
// Push and so holds the lock for less.
const (
	trimChunk    = 4096
	collectChunk = 1024
)

func newIndex() *index { return &index{m: make(map[string][]ref)} }

// add lists l under each of its keys; l is newer than every listed layer.
// A key no layer wrote yet gets a one-ref list cut from a slab allocated
// once per layer.
func (x *index) add(l *diff) {
	slab := make([]ref, 0, len(l.items))
	x.mu.Lock()
	defer x.mu.Unlock()
	for key, i := range l.items {
		if list, ok := x.m[key]; ok {
			x.m[key] = append(list, ref{l, i})
			continue
		}
		slab = append(slab, ref{l, i})
		n := len(slab)
		x.m[key] = slab[n-1 : n : n]
	}
}

// dropOldest removes every layer with seq <= maxSeq (the oldest held) and
// raises floor past them. It visits the whole index, releasing the lock
// every trimChunk keys so reads are not held up for the length of a flush.
func (x *index) dropOldest(maxSeq uint64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.floor = max(x.floor, maxSeq+1)
	n := 0
	for key, list := range x.m {
		i := 0
		for i < len(list) && list[i].l.seq <= maxSeq {
			i++
		}
		switch {
		case i == len(list):
			delete(x.m, key)
		case i > 0:
			// In place: readers copy refs out under the read lock only.
			k := copy(list, list[i:])
			clear(list[k:]) // let the flushed layers be collected
			x.m[key] = list[:k]
		}
		if n++; n%trimChunk == 0 {
			x.mu.Unlock()
			x.mu.Lock()
		}
	}
}

// collect returns, for each key some layer with block <= upTo writes, its
// newest value among those layers, unordered, and the bytes a batch takes
// to write them all (an upper bound); hint sizes the result. It holds the
// read lock collectChunk keys at a time.
func (x *index) collect(upTo uint64, hint int) ([]written, int) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := make([]written, 0, min(hint, len(x.m)))
	size, n := 0, 0
	for key, list := range x.m {
		if r, ok := newest(list, upTo); ok {
			v := r.l.vals[r.i]
			out = append(out, written{pre: keyPrefix(key), key: key, r: r})
			if v.blob == nil {
				size += deleteBound(len(key))
			} else {
				size += setBound(len(key), len(v.blob))
			}
		}
		if n++; n%collectChunk == 0 {
			x.mu.RUnlock()
			x.mu.RLock()
		}
	}
	return out, size
}

// dropNewest removes layers (the newest held, in push order) from every
// list, starts a new epoch and returns it.
func (x *index) dropNewest(layers []*diff) uint64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	if len(layers) == 0 {
		return x.epoch
	}
	minSeq := layers[0].seq
	x.epoch++
	for _, l := range layers {
		for key := range l.items {
			list := x.m[key]
			i := len(list)
			for i > 0 && list[i-1].l.seq >= minSeq {
				i--
			}
			clear(list[i:]) // let the dropped layers be collected
			if i == 0 {
				delete(x.m, key)
			} else {
				x.m[key] = list[:i]
			}
		}
	}
	return x.epoch
}

// newest returns the newest write with block <= upTo in list.
func newest(list []ref, upTo uint64) (ref, bool) {
	for i := len(list) - 1; i >= 0; i-- {
		if list[i].l.block <= upTo {
			return list[i], true
		}
	}
	return ref{}, false
}

// find returns the value of key in the newest layer of v writing it.
func (x *index) find(v *view, key []byte) (value, bool) {
	if len(v.layers) == 0 {
		return value{}, false
	}
	minSeq, maxSeq := v.layers[0].seq, v.layers[len(v.layers)-1].seq
	x.mu.RLock()
	if x.epoch != v.epoch {
		x.mu.RUnlock()
		return v.walk(key, len(v.layers))
	}
	list := x.m[string(key)]
	for i := len(list) - 1; i >= 0; i-- {
		r := list[i]
		if r.l.seq > maxSeq {
			continue // pushed after v was taken
		}
		if r.l.seq >= minSeq {
			x.mu.RUnlock()
			return r.l.vals[r.i], true
		}
		break // flushed before v was taken
	}
	floor := x.floor
	x.mu.RUnlock()
	if minSeq >= floor {
		return value{}, false
	}
	// Layers of v that Flushed has since removed from the index.
	n := 0
	for n < len(v.layers) && v.layers[n].seq < floor {
		n++
	}
	return v.walk(key, n)
}
