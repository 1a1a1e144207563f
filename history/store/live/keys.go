package live

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
)

// Sub-prefixes under Options.NodePrefix: the account trie's nodes are keyed
// by path alone, so the 32 zero bytes of its owner are never stored.
const (
	accountTrieSub byte = 0 // NodePrefix ‖ 0 ‖ path
	storageTrieSub byte = 1 // NodePrefix ‖ 1 ‖ owner ‖ path
)

// markerLen is the flushed marker's value: block (8 bytes, big-endian) ‖
// root (32 bytes).
const markerLen = 8 + common.HashLength

// keys builds the Pebble keys of the three tables. Every key the package
// reads or writes, in layers, the index, the clean cache and Pebble, is the
// disk key, so one buffer serves all four.
type keys struct {
	node, account, slot, meta []byte
}

func newKeys(o Options) keys {
	clone := func(b []byte) []byte { return append([]byte(nil), b...) }
	return keys{node: clone(o.NodePrefix), account: clone(o.AccountPrefix), slot: clone(o.SlotPrefix), meta: clone(o.MetaKey)}
}

// check refuses a layout in which two tables could share a key: the three
// prefixes must be non-empty and none a prefix of another, and the marker
// must lie outside all three.
func (k keys) check() error {
	named := []struct {
		name string
		p    []byte
	}{{"NodePrefix", k.node}, {"AccountPrefix", k.account}, {"SlotPrefix", k.slot}}
	if len(k.meta) == 0 {
		return errors.New("live options: MetaKey is empty")
	}
	for i, a := range named {
		if len(a.p) == 0 {
			return fmt.Errorf("live options: %s is empty", a.name)
		}
		if bytes.HasPrefix(k.meta, a.p) {
			return fmt.Errorf("live options: MetaKey %x lies under %s %x", k.meta, a.name, a.p)
		}
		for _, b := range named[i+1:] {
			if bytes.HasPrefix(a.p, b.p) || bytes.HasPrefix(b.p, a.p) {
				return fmt.Errorf("live options: %s %x and %s %x overlap", a.name, a.p, b.name, b.p)
			}
		}
	}
	return nil
}

// nodeKey appends the key of trie node (owner, path) to buf.
func (k keys) nodeKey(buf []byte, owner common.Hash, path []byte) []byte {
	buf = append(buf, k.node...)
	if owner == (common.Hash{}) {
		buf = append(buf, accountTrieSub)
	} else {
		buf = append(buf, storageTrieSub)
		buf = append(buf, owner[:]...)
	}
	return append(buf, path...)
}

// accountKey appends the key of the flat account addrHash to buf.
func (k keys) accountKey(buf []byte, addrHash common.Hash) []byte {
	buf = append(buf, k.account...)
	return append(buf, addrHash[:]...)
}

// slotKey appends the key of the flat slot (addrHash, slotHash) to buf.
func (k keys) slotKey(buf []byte, addrHash, slotHash common.Hash) []byte {
	buf = append(buf, k.slot...)
	buf = append(buf, addrHash[:]...)
	return append(buf, slotHash[:]...)
}

// isNode reports whether key is a trie node's key (its value's hash matters).
func (k keys) isNode(key []byte) bool { return bytes.HasPrefix(key, k.node) }

func encodeMarker(block uint64, root common.Hash) []byte {
	v := binary.BigEndian.AppendUint64(make([]byte, 0, markerLen), block)
	return append(v, root[:]...)
}

func decodeMarker(v []byte) (uint64, common.Hash, error) {
	if len(v) != markerLen {
		return 0, common.Hash{}, fmt.Errorf("flushed marker is %d bytes, want %d", len(v), markerLen)
	}
	return binary.BigEndian.Uint64(v), common.BytesToHash(v[8:]), nil
}
