package live

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// Node returns the trie node (owner, path) at the head (the zero owner is
// the account trie): its blob and keccak hash, or a nil blob and the zero
// hash if there is none. The blob must not be modified.
//
// The newest layer writing the key answers; else the clean cache; else one
// Pebble Get of the exact key. A key no layer of the view writes is read
// from the disk layer as it is at the moment of the read, so a call that
// races a Flushed may answer with the value of a head newer than the one
// it started at; a Reader answers every read at one head.
func (d *DB) Node(owner common.Hash, path []byte) ([]byte, common.Hash, error) {
	var buf [keyBufLen]byte
	v, err := d.get(d.view.Load(), d.keys.nodeKey(buf[:0], owner, path), d.db, 0, false)
	if err != nil {
		return nil, common.Hash{}, fmt.Errorf("live: read node %x of owner %x: %w", path, owner, err)
	}
	return v.blob, v.hash, nil
}

// Account returns the slim RLP of account addrHash at the head, nil if
// there is none (see Node on races). It must not be modified.
func (d *DB) Account(addrHash common.Hash) ([]byte, error) {
	var buf [keyBufLen]byte
	v, err := d.get(d.view.Load(), d.keys.accountKey(buf[:0], addrHash), d.db, 0, false)
	if err != nil {
		return nil, fmt.Errorf("live: read account %x: %w", addrHash, err)
	}
	return v.blob, nil
}

// Storage returns slot slotHash of account addrHash at the head as stored
// (the RLP of the trimmed value), nil if there is none (see Node on
// races). It must not be modified.
func (d *DB) Storage(addrHash, slotHash common.Hash) ([]byte, error) {
	var buf [keyBufLen]byte
	v, err := d.get(d.view.Load(), d.keys.slotKey(buf[:0], addrHash, slotHash), d.db, 0, false)
	if err != nil {
		return nil, fmt.Errorf("live: read slot %x of account %x: %w", slotHash, addrHash, err)
	}
	return v.blob, nil
}

// get reads key in view v: the newest layer of v writing it, else the
// clean cache, else src. fixed says src is a snapshot taken at disk
// generation gen (a Reader's): the cache serves it only while the
// generation is still gen, when the cache and the snapshot agree on every
// key v does not shadow. Otherwise src is Pebble itself and gen is loaded
// here, before the cache and Pebble are read.
func (d *DB) get(v *view, key []byte, src pebble.Reader, gen uint64, fixed bool) (value, error) {
	var (
		val   value
		found bool
	)
	if d.walkOnly {
		val, found = v.walk(key, len(v.layers))
	} else {
		val, found = d.index.find(v, key)
	}
	if found {
		return val, nil
	}
	if !fixed {
		gen = d.gen.Load()
	}
	useCache := d.cache != nil && (!fixed || d.gen.Load() == gen)
	if useCache {
		if cv, ok := d.cache.get(key); ok {
			// A snapshot's reader must not take a value cached after its
			// generation ended: gen only grows, so equal means unchanged.
			if !fixed || d.gen.Load() == gen {
				return cv, nil
			}
			useCache = false
		}
	}
	// Pebble keeps the key (it escapes), so only this path copies it off
	// the caller's stack buffer.
	raw, closer, err := src.Get(bytes.Clone(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return value{}, nil
	}
	if err != nil {
		return value{}, err
	}
	out := value{blob: nonEmpty(bytes.Clone(raw))}
	if err := closer.Close(); err != nil {
		return value{}, err
	}
	if out.blob != nil && d.keys.isNode(key) {
		out.hash = crypto.Keccak256Hash(out.blob)
	}
	if useCache {
		d.cache.fill(key, out, gen, &d.gen)
	}
	return out, nil
}
