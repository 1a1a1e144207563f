package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/cockroachdb/pebble/v2"
	"github.com/strata-chain/strata/history"

	"github.com/ethereum/go-ethereum/common"
)

// SchemaVersion is the on-disk layout version this build writes. Bump it
// whenever a key or value layout changes, and say here what changed:
//
//  1. The first layout. A changeset (d + block) lists the items the block
//     wrote: uvarint(len(item)) and the item, nothing else.
//  2. Changesets start with the format byte 0x00 and record the length of
//     every value written, so migration counts freed bytes without reads.
//  3. Changesets in format 0x01 also carry the values of accounts and
//     slots, so a block's update reads back with one Get.
//
// Versions 1 and 2 differ from 3 in the changesets, and each changeset says
// which layout it is in (changeset.go; the golden changesets keep every one
// decoding), so this build reads them as they are. (The first version-1
// stores also predate the tiers' meta names and size keys z; absent, those
// read as zero: no block moved down a tier, no bytes counted yet.) Opening
// such a store migrates it by raising its marker to SchemaVersion, after
// which an older build refuses it, as it could not read the changesets this
// build writes. A store of any other version is refused.
const SchemaVersion uint64 = 3

// SchemaError refuses a store whose layout version this build does not
// read (Have); its message names both versions and the remedy.
type SchemaError struct {
	Have uint64
	msg  string
}

func (e *SchemaError) Error() string { return e.msg }

// oldestSchemaVersion is the oldest layout this build opens and migrates.
const oldestSchemaVersion uint64 = 1

// Key prefixes. Every versioned key ends in ^block (8 bytes, big endian), so
// the newest version at or below block n is the first key at or after
// prefix|^n, and every versioned prefix is prefix-free (fixed length, or
// length-prefixed paths) so a seek never lands on another item's versions.
var (
	metaPrefix    = []byte("m") // m + name -> meta value
	nodePrefix    = []byte("n") // n + owner(32) + len(path)(1) + path nibbles + ^block(8) -> node blob, empty = deleted
	accountPrefix = []byte("a") // a + keccak(address)(32) + ^block(8) -> slim account RLP, empty = deleted
	slotPrefix    = []byte("s") // s + keccak(address)(32) + keccak(slot)(32) + ^block(8) -> trimmed value, empty = deleted
	codePrefix    = []byte("c") // c + code hash(32) -> code
	headerPrefix  = []byte("b") // b + block(8) -> header RLP
	hashPrefix    = []byte("H") // H + block hash(32) -> block(8)
	bodyPrefix    = []byte("t") // t + block(8) -> RLP list of transactions (absent if the producer gave none)
	receiptPrefix = []byte("r") // r + block(8) -> RLP list of receipts for storage (absent if none)
	txPrefix      = []byte("x") // x + tx hash(32) -> block(8) + index(8)
	changePrefix  = []byte("d") // d + block(8) -> changeset: the versioned prefixes the block wrote
)

// Meta names.
var (
	metaSchema = []byte("schema") // uint64: the store's SchemaVersion
	metaHead   = []byte("head")   // block(8) + hash(32) + root(32)
	metaOldest = []byte("oldest") // block(8): oldest block whose state is held
)

func metaKey(name []byte) []byte { return append(append([]byte{}, metaPrefix...), name...) }

func encodeBlock(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

func blockKey(prefix []byte, n uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte{}, prefix...), n)
}

func hashKey(prefix []byte, h common.Hash) []byte {
	return append(append([]byte{}, prefix...), h[:]...)
}

// nodeItem is the unversioned key of the trie node at (owner, path).
func nodeItem(owner common.Hash, path []byte) []byte {
	k := make([]byte, 0, 1+32+1+len(path)+8)
	k = append(k, nodePrefix...)
	k = append(k, owner[:]...)
	k = append(k, byte(len(path)))
	return append(k, path...)
}

// accountItem is the unversioned key of an account.
func accountItem(addrHash common.Hash) []byte {
	k := make([]byte, 0, 1+32+8)
	k = append(k, accountPrefix...)
	return append(k, addrHash[:]...)
}

// slotItem is the unversioned key of a storage slot.
func slotItem(addrHash, slotHash common.Hash) []byte {
	k := make([]byte, 0, 1+64+8)
	k = append(k, slotPrefix...)
	k = append(k, addrHash[:]...)
	return append(k, slotHash[:]...)
}

// versioned appends ^n to an item key; it does not modify item's contents.
func versioned(item []byte, n uint64) []byte {
	k := make([]byte, len(item), len(item)+8)
	copy(k, item)
	return binary.BigEndian.AppendUint64(k, ^n)
}

func encodeHead(h history.Head) []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 72), h.Number)
	b = append(b, h.Hash[:]...)
	return append(b, h.Root[:]...)
}

func decodeHead(b []byte) (*history.Head, error) {
	if len(b) != 72 {
		return nil, fmt.Errorf("corrupt head marker (%d bytes)", len(b))
	}
	return &history.Head{
		Number: binary.BigEndian.Uint64(b),
		Hash:   common.BytesToHash(b[8:40]),
		Root:   common.BytesToHash(b[40:72]),
	}, nil
}

// checkSchema decides what to do with the store's layout version (see
// SchemaVersion): a new store is claimed at SchemaVersion; a store of an
// older version this build reads (oldestSchemaVersion and up) is migrated
// by raising its marker; any other version is refused, naming both.
func (s *Store) checkSchema() error {
	v, err := s.get(metaKey(metaSchema))
	switch {
	case errors.Is(err, history.ErrNotFound) && s.readOnly:
		return nil // an empty store, or one that never committed a block
	case errors.Is(err, history.ErrNotFound):
		// A new store, or one that never committed a block: claim it.
		if err := s.db.Set(metaKey(metaSchema), encodeBlock(SchemaVersion), pebble.Sync); err != nil {
			return fmt.Errorf("write schema version: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("read schema version: %w", err)
	case len(v) != 8:
		return fmt.Errorf("corrupt schema version %x", v)
	}
	switch have := binary.BigEndian.Uint64(v); {
	case have == SchemaVersion:
		return nil
	case have > SchemaVersion:
		return &SchemaError{Have: have, msg: fmt.Sprintf("store has schema version %d, this build reads version %d: use a matching strata build or a new datadir", have, SchemaVersion)}
	case have < oldestSchemaVersion:
		return &SchemaError{Have: have, msg: fmt.Sprintf("store has schema version %d, this build reads versions %d to %d: use a new datadir", have, oldestSchemaVersion, SchemaVersion)}
	case s.readOnly:
		return nil // read as it is; the marker goes up at the next writable open
	default:
		// Only the changesets changed since, and each says its layout: the
		// data reads as it is. The marker goes up so that an older build,
		// which could not read the changesets this build writes, refuses
		// the store from now on.
		if err := s.db.Set(metaKey(metaSchema), encodeBlock(SchemaVersion), pebble.Sync); err != nil {
			return fmt.Errorf("migrate schema version %d to %d: %w", have, SchemaVersion, err)
		}
		s.log.Info("Migrated the store's schema version", "from", have, "to", SchemaVersion)
		return nil
	}
}
