package live

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/ethereum/go-ethereum/common"
)

// Reader reads the state at one head, the DB's head when it was taken,
// however the DB moves on: it holds that view's layers and a Pebble
// snapshot consistent with its disk layer. Its methods may be called
// concurrently; Close releases the snapshot (and the layers). A Reader
// pins what it holds, so it should live for a block's reads, not longer.
type Reader struct {
	d      *DB
	v      *view
	snap   *pebble.Snapshot
	gen    uint64 // the disk generation the snapshot belongs to
	closed bool
}

// Reader returns a Reader at the current head.
//
// The view and the snapshot must describe one disk layer. They do if no
// flush window opened or closed between them (gen unchanged): with gen even
// nothing was committed; with gen odd the view holds every layer the
// pending flush covers, so the commit (before or after the snapshot)
// changes only keys the view shadows. Otherwise it tries again.
func (d *DB) Reader() *Reader {
	for {
		g := d.gen.Load()
		v := d.view.Load()
		snap := d.db.NewSnapshot()
		if d.gen.Load() == g {
			return &Reader{d: d, v: v, snap: snap, gen: g}
		}
		snap.Close()
	}
}

// Head returns the block and root the Reader reads at; ok is false when
// the DB held no state.
func (r *Reader) Head() (block uint64, root common.Hash, ok bool) { return r.v.head() }

// Node is DB.Node at the Reader's head.
func (r *Reader) Node(owner common.Hash, path []byte) ([]byte, common.Hash, error) {
	var buf [keyBufLen]byte
	v, err := r.d.get(r.v, r.d.keys.nodeKey(buf[:0], owner, path), r.snap, r.gen, true)
	if err != nil {
		return nil, common.Hash{}, fmt.Errorf("live: read node %x of owner %x: %w", path, owner, err)
	}
	return v.blob, v.hash, nil
}

// Account is DB.Account at the Reader's head.
func (r *Reader) Account(addrHash common.Hash) ([]byte, error) {
	var buf [keyBufLen]byte
	v, err := r.d.get(r.v, r.d.keys.accountKey(buf[:0], addrHash), r.snap, r.gen, true)
	if err != nil {
		return nil, fmt.Errorf("live: read account %x: %w", addrHash, err)
	}
	return v.blob, nil
}

// Storage is DB.Storage at the Reader's head.
func (r *Reader) Storage(addrHash, slotHash common.Hash) ([]byte, error) {
	var buf [keyBufLen]byte
	v, err := r.d.get(r.v, r.d.keys.slotKey(buf[:0], addrHash, slotHash), r.snap, r.gen, true)
	if err != nil {
		return nil, fmt.Errorf("live: read slot %x of account %x: %w", slotHash, addrHash, err)
	}
	return v.blob, nil
}

// Close releases the snapshot. It is idempotent; no read may follow it.
func (r *Reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if err := r.snap.Close(); err != nil {
		return fmt.Errorf("live: close reader: %w", err)
	}
	return nil
}
