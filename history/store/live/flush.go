package live

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cockroachdb/pebble/v2"
)

// ErrFlushInFlight is returned (wrapped) by Unwind, and by Flush, while a
// flush is in flight: from Flush until Flushed or FlushAbort has returned.
var ErrFlushInFlight = errors.New("a flush is in flight")

// pending is the flush in flight: written into a caller's batch (or being
// written), not yet Flushed. Its fields other than the phase are written
// by the flushing goroutine alone; the phase moves under DB.mu.
type pending struct {
	upTo    uint64
	layers  []*diff   // the layers it covers, oldest first
	count   int       // keys written
	written []written // what it wrote, sorted by key, for the clean cache (nil without one)
	phase   flushPhase
}

type flushPhase uint8

const (
	phaseWriting  flushPhase = iota // Flush is building the batch
	phaseWritten                    // Flush returned; the caller commits
	phaseFlushing                   // Flushed is publishing and trimming the index
)

// written is one key a flush wrote and the write it took the value from
// (nil blob: deleted); pre is the key's first 8 bytes, big-endian, so most
// comparisons of the sort touch nothing else. 40 bytes, so the sort moves
// little.
type written struct {
	pre uint64
	key string
	r   ref
}

func (w *written) value() value { return w.r.l.vals[w.r.i] }

// keyPrefix is the first 8 bytes of key, big-endian, zero-padded.
func keyPrefix(key string) uint64 {
	var b [8]byte
	copy(b[:], key)
	return binary.BigEndian.Uint64(b[:])
}

func compareWritten(a, b written) int {
	if a.pre != b.pre {
		return cmp.Compare(a.pre, b.pre)
	}
	return strings.Compare(a.key, b.key)
}

// Flush writes into b the layers with Block <= upTo, aggregated: each node,
// account and slot once, with its newest value among them (a delete for a
// deletion), in key order, and the flushed marker (upTo and its root). It
// returns the number of items written (the marker not counted).
//
// Flush does not commit b. The caller commits it (with its own keys if it
// likes) and then calls Flushed(upTo), or FlushAbort if b was discarded,
// from the goroutine that called Flush. From Flush until Flushed or
// FlushAbort returns, the flush is in flight: Push and reads may run in
// other goroutines all along (Flush reads only the layers up to upTo,
// which nothing changes), another Flush and any Unwind that would drop a
// layer fail with ErrFlushInFlight, and Open fails. Reads stay correct
// meanwhile: the layers are still held and shadow every key b writes, and
// the disk keys change only at the commit, to the same newest values.
//
// upTo below the oldest layer writes nothing and leaves nothing in flight;
// upTo above the head is an error. Flush makes room in a non-indexed b for
// everything it writes before writing, so b grows (and is copied) once at
// most.
func (d *DB) Flush(b *pebble.Batch, upTo uint64) (written int, err error) {
	d.mu.Lock()
	if p := d.flush; p != nil {
		d.mu.Unlock()
		return 0, fmt.Errorf("live: flush up to block %d: the flush up to block %d is not Flushed yet: %w", upTo, p.upTo, ErrFlushInFlight)
	}
	v := d.view.Load()
	if len(v.layers) == 0 || upTo < v.layers[0].block {
		d.mu.Unlock()
		return 0, nil
	}
	if head, _, _ := v.head(); upTo > head {
		d.mu.Unlock()
		return 0, fmt.Errorf("live: flush up to block %d: the head is block %d", upTo, head)
	}
	p := &pending{upTo: upTo, layers: v.layers[:covered(v.layers, upTo)]}
	d.flush = p
	// The window opens before anything reaches b: from here until Flushed
	// no value read from Pebble enters the clean cache (DB.gen).
	d.gen.Add(1)
	d.mu.Unlock()

	// Without the lock: Push goes on above upTo meanwhile.
	err = d.writeFlush(b, p)

	d.mu.Lock()
	defer d.mu.Unlock()
	if err != nil {
		d.flush = nil
		d.gen.Add(1)
		return 0, fmt.Errorf("live: flush up to block %d: %w", upTo, err)
	}
	p.phase = phaseWritten
	return p.count, nil
}

// writeFlush writes each key with its newest value among p's layers, found
// by one pass over the index (no key is hashed), in key order, then the
// marker. Sorted, the batch goes into the memtable (or is taken as a
// flushable batch) without the disorder costing at the commit.
func (d *DB) writeFlush(b *pebble.Batch, p *pending) error {
	hint := 0
	for _, l := range p.layers {
		hint += len(l.items)
	}
	ws, size := d.index.collect(p.upTo, hint)
	slices.SortFunc(ws, compareWritten)
	last := p.layers[len(p.layers)-1]
	marker := encodeMarker(last.block, last.root)
	size += setBound(len(d.keys.meta), len(marker))
	if err := reserve(b, size); err != nil {
		return fmt.Errorf("size the batch: %w", err)
	}
	for i := range ws {
		w := &ws[i]
		var op *pebble.DeferredBatchOp
		if v := w.value(); v.blob == nil {
			op = b.DeleteDeferred(len(w.key))
		} else {
			op = b.SetDeferred(len(w.key), len(v.blob))
			copy(op.Value, v.blob)
		}
		copy(op.Key, w.key)
		if err := op.Finish(); err != nil {
			return fmt.Errorf("write key %x: %w", w.key, err)
		}
	}
	if err := b.Set(d.keys.meta, marker, nil); err != nil {
		return fmt.Errorf("write flushed marker: %w", err)
	}
	p.count = len(ws)
	if d.cache != nil {
		p.written = ws
	}
	return nil
}

// setBound and deleteBound are the most a Set or Delete record takes in a
// batch while it is written (Pebble grows by these before writing).
func setBound(k, v int) int { return 1 + 2*5 + k + v }
func deleteBound(k int) int { return 1 + 5 + k }

// reserve makes b's buffer hold n more bytes, so the records written next
// never grow it: a batch that grows copies everything so far each time it
// doubles. An indexed batch is left alone.
func reserve(b *pebble.Batch, n int) error {
	if b.Indexed() {
		return nil
	}
	repr := b.Repr()
	if cap(repr)-len(repr) >= n {
		return nil
	}
	grown := make([]byte, len(repr), len(repr)+n)
	copy(grown, repr)
	return b.SetRepr(grown)
}

// Flushed tells the DB that the batch of Flush(b, upTo) is committed: the
// clean cache takes the new values of the keys it wrote that are cached,
// the disk layer moves to upTo and the layers it covers are dropped. Push
// and reads may run meanwhile; a Push racing it keeps its layer.
//
// Called without a matching Flush (another upTo, or no flush in flight),
// it still moves the disk layer to upTo and drops the layers up to it, but
// empties the clean cache, which it can no longer vouch for. It panics if
// the flush in flight is still being written (Flushed called from another
// goroutine than Flush's, before Flush returned): that is a caller bug no
// answer would make safe.
func (d *DB) Flushed(upTo uint64) {
	d.mu.Lock()
	p := d.flush
	if p != nil && p.phase != phaseWritten {
		d.mu.Unlock()
		panic(fmt.Sprintf("live: Flushed(%d) while the flush up to block %d is still being written or Flushed", upTo, p.upTo))
	}
	if p == nil {
		if covered(d.view.Load().layers, upTo) == 0 {
			d.mu.Unlock()
			return // nothing flushed, nothing in flight
		}
		p = &pending{upTo: upTo} // in flight from here; no layers: matches nothing
		d.flush = p
	}
	p.phase = phaseFlushing
	// The layers up to upTo cannot change while the flush is in flight
	// (only Unwind and Open replace layers, and both refuse), so the view
	// of now and of the publication agree on them.
	matched := p.upTo == upTo && len(p.layers) > 0 && covered(d.view.Load().layers, upTo) == len(p.layers)
	d.mu.Unlock()

	if matched {
		// Before the next view is published: a read that no longer finds a
		// key in the layers must find its new value (or nothing) here. No
		// reader can see these entries yet: every view holds the layers
		// that shadow them, and no fill happens while gen is odd.
		for i := range p.written {
			d.cache.update(p.written[i].key, p.written[i].value())
		}
	}

	d.mu.Lock()
	if !matched {
		d.invalidateCache()
	}
	v := d.view.Load() // Push may have added layers since Flush
	n := covered(v.layers, upTo)
	var trimTo uint64
	if n > 0 {
		nv := v.with(v.layers[n:])
		nv.diskBlock, nv.diskRoot, nv.diskOK = v.layers[n-1].block, v.layers[n-1].root, true
		d.view.Store(nv)
		trimTo = v.layers[n-1].seq
	}
	if d.gen.Load()&1 == 1 {
		d.gen.Add(1) // the window closes after the view moved (Reader)
	}
	d.mu.Unlock()

	// The index forgets the flushed layers without the lock, Push going on
	// (index.go): the flush stays in flight until it is done.
	if n > 0 {
		d.index.dropOldest(trimTo)
	}
	d.mu.Lock()
	d.flush = nil
	d.mu.Unlock()
}

// FlushAbort forgets the flush written and not yet Flushed: its batch was
// discarded, never committed. It returns an error if there is none (or it
// is still being written: call it after Flush returned).
func (d *DB) FlushAbort() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	p := d.flush
	if p == nil {
		return errors.New("live: flush abort: no flush is pending")
	}
	if p.phase != phaseWritten {
		return fmt.Errorf("live: flush abort: the flush up to block %d is still being written or Flushed", p.upTo)
	}
	d.flush = nil
	d.gen.Add(1)
	return nil
}

// invalidateCache moves the disk generation to the next even value, so no
// read begun before can fill the cache, and empties the cache.
func (d *DB) invalidateCache() {
	g := d.gen.Load()
	d.gen.Store(g + 2 - g&1)
	if d.cache != nil {
		d.cache.purge()
	}
}

// covered is the number of layers with block <= upTo (they come first).
func covered(layers []*diff, upTo uint64) int {
	n := 0
	for n < len(layers) && layers[n].block <= upTo {
		n++
	}
	return n
}
