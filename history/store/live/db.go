package live

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/ethereum/go-ethereum/common"
)

// Options places the live state in a Pebble database shared with other
// data: one prefix per table (non-empty, none a prefix of another) and the
// key of the flushed marker (outside the three).
type Options struct {
	NodePrefix    []byte // trie nodes: NodePrefix ‖ 0 ‖ path, NodePrefix ‖ 1 ‖ owner ‖ path
	AccountPrefix []byte // AccountPrefix ‖ addrHash -> slim account RLP
	SlotPrefix    []byte // SlotPrefix ‖ addrHash ‖ slotHash -> slot value
	MetaKey       []byte // -> the disk layer's block (8 bytes) ‖ root

	// CleanCacheBytes bounds the cache of disk-layer values (nodes with
	// their hashes, accounts, slots); 0 disables it.
	CleanCacheBytes int
}

// ErrUnwindTooDeep is returned (wrapped, with the depth that could be
// reached) by Unwind below the disk layer: the blocks there are flushed and
// the live state cannot go back.
var ErrUnwindTooDeep = errors.New("unwind below the disk layer")

// DB is the head state: a disk layer in Pebble under diff layers in memory.
//
// Reads (Node, Account, Storage, Reader and the Reader's methods, Head,
// Disk, Layers, MemBytes, CacheStats) may run concurrently with each other
// and with everything else. The writer methods are of two roles, each to
// be called by one goroutine at a time:
//   - the head writer: Push, Unwind, Open and the Bulk methods;
//   - the flusher: Flush, then (after the caller's commit) Flushed or
//     FlushAbort, in that goroutine.
//
// The two may run concurrently: Push goes on while a flush is in flight.
// Unwind refuses to drop layers while one is (ErrFlushInFlight) and Open
// refuses while one is; the caller runs them after Flushed or FlushAbort
// returned. See doc.go.
type DB struct {
	db    *pebble.DB
	keys  keys
	cache *cache // nil when disabled
	index *index

	// walkOnly makes reads walk the layers instead of asking the index
	// (benchmarks compare the two).
	walkOnly bool

	view atomic.Pointer[view]

	// gen orders clean-cache fills against disk changes: it is odd from
	// Flush to Flushed (the window in which the caller commits) and moves
	// whenever the disk layer may have changed. A value read from Pebble
	// enters the cache only if gen was even and unchanged from before the
	// read to the insertion (checked under the cache shard's lock).
	gen atomic.Uint64

	// mu guards the fields below and the replacement of view: every new
	// view is built from the current one and stored under it, so a Push
	// racing Flushed never loses its layer. It is held briefly: Flush
	// builds its batch, and Flushed updates the cache and trims the index,
	// without it.
	mu     sync.Mutex
	opened bool
	seq    uint64   // the last seq given to a diff
	flush  *pending // the flush in flight (Flush to the end of Flushed or FlushAbort), nil when none
}

// New returns a DB over db with options o. It does no I/O; call Open.
func New(db *pebble.DB, o Options) *DB {
	d := &DB{db: db, keys: newKeys(o), index: newIndex()}
	if o.CleanCacheBytes > 0 {
		d.cache = newCache(o.CleanCacheBytes)
	}
	d.view.Store(&view{})
	return d
}

// Open reads the flushed marker: the disk layer's block and root. A
// database without it holds nothing flushed. Open may be called again
// while no layers are held (after a bulk load, SetDisk and the commit): it
// re-reads the marker and empties the clean cache.
func (d *DB) Open() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.keys.check(); err != nil {
		return err
	}
	v := d.view.Load()
	if d.flush != nil {
		return fmt.Errorf("live: open: %w", ErrFlushInFlight)
	}
	if len(v.layers) > 0 {
		return fmt.Errorf("live: open with %d layers held", len(v.layers))
	}
	nv := &view{epoch: v.epoch}
	raw, closer, err := d.db.Get(d.keys.meta)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
	case err != nil:
		return fmt.Errorf("live: read flushed marker: %w", err)
	default:
		nv.diskBlock, nv.diskRoot, err = decodeMarker(raw)
		closer.Close()
		if err != nil {
			return fmt.Errorf("live: %w", err)
		}
		nv.diskOK = true
	}
	d.invalidateCache()
	d.view.Store(nv)
	d.opened = true
	return nil
}

// Disk returns the disk layer's block and root; ok is false when nothing
// has been flushed.
func (d *DB) Disk() (block uint64, root common.Hash, ok bool) {
	v := d.view.Load()
	return v.diskBlock, v.diskRoot, v.diskOK
}

// Head returns the newest layer's block and root, else the disk layer's;
// ok is false when the DB holds no state at all.
func (d *DB) Head() (block uint64, root common.Hash, ok bool) {
	return d.view.Load().head()
}

// Layers returns the number of diff layers held in memory.
func (d *DB) Layers() int { return len(d.view.Load().layers) }

// MemBytes approximates the memory the diff layers hold.
func (d *DB) MemBytes() int { return d.view.Load().bytes }

// CacheStats returns the clean cache's hits and misses since New and the
// bytes it holds (all zero when it is disabled).
func (d *DB) CacheStats() (hits, misses uint64, bytes int) {
	if d.cache == nil {
		return 0, 0, 0
	}
	return d.cache.hits.Load(), d.cache.misses.Load(), d.cache.size()
}

// Push makes l the newest layer. l.Block must be one past the head (any
// block when the DB holds no state). The DB keeps l's maps and node sets:
// they must not be modified afterwards. Push may run while a flush is in
// flight (Flush, the commit, Flushed), in another goroutine.
func (d *DB) Push(l *Layer) error {
	if l == nil {
		return errors.New("live: push of a nil layer")
	}
	// Flattening (and hashing) needs no lock; the seq is given below.
	nd := newDiff(d.keys, 0, l)
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.opened {
		return fmt.Errorf("live: push block %d: not open", l.Block)
	}
	v := d.view.Load()
	if head, _, ok := v.head(); ok && l.Block != head+1 {
		return fmt.Errorf("live: push block %d: the head is block %d", l.Block, head)
	}
	d.seq++
	nd.seq = d.seq
	// The index lists the layer before any view holds it (index.go).
	d.index.add(nd)
	layers := make([]*diff, len(v.layers), len(v.layers)+1)
	copy(layers, v.layers)
	nv := v.with(append(layers, nd))
	d.view.Store(nv)
	return nil
}

// Unwind drops the layers above block to. It refuses to go below the disk
// layer (ErrUnwindTooDeep, wrapped with the depth it could reach), and to
// drop any layer while a flush is in flight (ErrFlushInFlight, wrapped: it
// does not wait; run it after Flushed or FlushAbort returned). Unwinding to
// the head or above does nothing, in flight or not.
func (d *DB) Unwind(to uint64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	v := d.view.Load()
	head, _, ok := v.head()
	if !ok || to >= head {
		return nil
	}
	floor := v.diskBlock
	if !v.diskOK {
		floor = v.layers[0].block // nothing flushed: the oldest layer is as far as it goes
	}
	if to < floor {
		return fmt.Errorf("live: unwind to block %d from %d: it can go back to block %d (%d blocks): %w",
			to, head, floor, head-floor, ErrUnwindTooDeep)
	}
	if p := d.flush; p != nil {
		return fmt.Errorf("live: unwind to block %d: the flush up to block %d is not Flushed yet: %w", to, p.upTo, ErrFlushInFlight)
	}
	keep := 0
	for keep < len(v.layers) && v.layers[keep].block <= to {
		keep++
	}
	// The index moves to a new epoch first: a view of the old layer list
	// then walks its own layers (index.go).
	epoch := d.index.dropNewest(v.layers[keep:])
	nv := v.with(v.layers[:keep:keep])
	nv.epoch = epoch
	d.view.Store(nv)
	return nil
}
