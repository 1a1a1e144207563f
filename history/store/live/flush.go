package live

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// pending is a flush written into a caller's batch and not yet Flushed.
type pending struct {
	upTo    uint64
	layers  []*diff   // the layers it covers, oldest first
	count   int       // keys written
	written []written // what it wrote, for the clean cache (nil without one)
}

// written is one key a flush wrote and its value (nil blob: deleted).
type written struct {
	key string
	v   value
}

// Flush writes into b the layers with Block <= upTo, aggregated: each node,
// account and slot once, with its newest value among them (a delete for a
// deletion), and the flushed marker (upTo and its root). It returns the
// number of items written (the marker not counted).
//
// Flush does not commit b. The caller commits it (with its own keys if it
// likes) and then calls Flushed(upTo), or FlushAbort if b was discarded.
// Until then reads stay correct: the layers are still held and shadow every
// key b writes, and the disk keys change only at the commit, to the same
// newest values. Push may go on meanwhile; Unwind below upTo and another
// Flush are refused.
//
// upTo below the oldest layer writes nothing; upTo above the head is an
// error. MemBytes over-estimates the batch, so a batch made with
// pebble.DB.NewBatchWithSize(MemBytes()) never grows (and copies) on the way.
func (d *DB) Flush(b *pebble.Batch, upTo uint64) (written int, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.pending != nil {
		return 0, fmt.Errorf("live: flush up to block %d: the flush up to block %d is not Flushed yet", upTo, d.pending.upTo)
	}
	v := d.view.Load()
	if len(v.layers) == 0 || upTo < v.layers[0].block {
		return 0, nil
	}
	if head, _, _ := v.head(); upTo > head {
		return 0, fmt.Errorf("live: flush up to block %d: the head is block %d", upTo, head)
	}
	layers := v.layers[:covered(v.layers, upTo)]
	// The window opens before anything reaches b: from here until Flushed
	// no value read from Pebble enters the clean cache (DB.gen).
	d.gen.Add(1)
	p := &pending{upTo: upTo, layers: layers}
	if err := d.writeFlush(b, p); err != nil {
		d.gen.Add(1)
		return 0, fmt.Errorf("live: flush up to block %d: %w", upTo, err)
	}
	d.pending = p
	return p.count, nil
}

// writeFlush writes each key with its newest value among p's layers, by
// one pass over the index (no key is hashed), then the marker.
func (d *DB) writeFlush(b *pebble.Batch, p *pending) error {
	var buf []byte
	for key, list := range d.index.m {
		r, ok := newest(list, p.upTo)
		if !ok {
			continue // only newer layers write it
		}
		v := r.l.vals[r.i]
		buf = append(buf[:0], key...)
		var err error
		if v.blob == nil {
			err = b.Delete(buf, nil)
		} else {
			err = b.Set(buf, v.blob, nil)
		}
		if err != nil {
			return fmt.Errorf("write key %x: %w", buf, err)
		}
		p.count++
		if d.cache != nil {
			p.written = append(p.written, written{key, v})
		}
	}
	last := p.layers[len(p.layers)-1]
	if err := b.Set(d.keys.meta, encodeMarker(last.block, last.root), nil); err != nil {
		return fmt.Errorf("write flushed marker: %w", err)
	}
	return nil
}

// Flushed tells the DB that the batch of Flush(b, upTo) is committed: the
// clean cache takes the new values of the keys it wrote that are cached,
// the disk layer moves to upTo and the layers it covers are dropped.
//
// Called without a matching Flush (another upTo, or layers replaced since),
// it still moves the disk layer to upTo and drops the layers up to it, but
// empties the clean cache, which it can no longer vouch for.
func (d *DB) Flushed(upTo uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p := d.pending
	d.pending = nil
	v := d.view.Load()
	n := covered(v.layers, upTo)
	matched := p != nil && n > 0 && p.upTo == upTo && len(p.layers) == n && p.layers[n-1] == v.layers[n-1]
	switch {
	case matched:
		// Before the next view is published: a read that no longer finds a
		// key in the layers must find its new value (or nothing) here.
		for _, w := range p.written {
			d.cache.update(w.key, w.v)
		}
	case n == 0 && p == nil:
		return // nothing flushed, nothing pending
	default:
		d.invalidateCache()
	}
	if n > 0 {
		nv := v.with(v.layers[n:])
		nv.diskBlock, nv.diskRoot, nv.diskOK = v.layers[n-1].block, v.layers[n-1].root, true
		d.view.Store(nv)
		d.index.dropOldest(v.layers[n-1].seq)
	}
	if d.gen.Load()&1 == 1 {
		d.gen.Add(1) // the window closes after the view moved (Reader)
	}
}

// FlushAbort forgets the pending flush: its batch was discarded, never
// committed. It returns an error if no flush is pending.
func (d *DB) FlushAbort() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.pending == nil {
		return errors.New("live: flush abort: no flush is pending")
	}
	d.pending = nil
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
