package live

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/ethereum/go-ethereum/common"
)

// The Bulk methods write a large state (a genesis) straight into the disk
// layer, bypassing the layers: the caller writes every node, account and
// slot into batches it commits as it likes, SetDisk into the last one, and
// after that commit calls Open, which reads the new disk layer and empties
// the clean cache. They are refused while layers are held, and reads must
// not run while a load is under way (the disk layer is then half written).

// BulkNode writes trie node (owner, path) with blob (non-empty) into b.
func (d *DB) BulkNode(b *pebble.Batch, owner common.Hash, path, blob []byte) error {
	var buf [keyBufLen]byte
	return d.bulkSet(b, d.keys.nodeKey(buf[:0], owner, path), blob)
}

// BulkAccount writes the slim RLP of account addrHash into b.
func (d *DB) BulkAccount(b *pebble.Batch, addrHash common.Hash, account []byte) error {
	var buf [keyBufLen]byte
	return d.bulkSet(b, d.keys.accountKey(buf[:0], addrHash), account)
}

// BulkSlot writes slot slotHash of account addrHash, as stored, into b.
func (d *DB) BulkSlot(b *pebble.Batch, addrHash, slotHash common.Hash, value []byte) error {
	var buf [keyBufLen]byte
	return d.bulkSet(b, d.keys.slotKey(buf[:0], addrHash, slotHash), value)
}

// SetDisk writes the flushed marker (block, root) into b: once b is
// committed and Open called, the disk layer is that block.
func (d *DB) SetDisk(b *pebble.Batch, block uint64, root common.Hash) error {
	if err := d.bulkAllowed(); err != nil {
		return err
	}
	if err := b.Set(d.keys.meta, encodeMarker(block, root), nil); err != nil {
		return fmt.Errorf("live: set disk layer to block %d: %w", block, err)
	}
	return nil
}

func (d *DB) bulkSet(b *pebble.Batch, key, val []byte) error {
	if len(val) == 0 {
		return fmt.Errorf("live: bulk write of key %x: empty value", key)
	}
	if err := d.bulkAllowed(); err != nil {
		return err
	}
	if err := b.Set(key, val, nil); err != nil {
		return fmt.Errorf("live: bulk write of key %x: %w", key, err)
	}
	return nil
}

func (d *DB) bulkAllowed() error {
	if n := d.Layers(); n > 0 {
		return fmt.Errorf("live: bulk write with %d layers held", n)
	}
	d.mu.Lock()
	inFlight := d.flush != nil
	d.mu.Unlock()
	if inFlight || d.gen.Load()&1 == 1 {
		return errors.New("live: bulk write while a flush is pending")
	}
	return nil
}
