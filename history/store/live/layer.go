package live

import (
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/trie/trienode"
)

// Layer is one block's change to the head state, as Push takes it.
//
// Nodes is what go-ethereum's trie commit yields, merged over the account
// trie (owner = zero hash) and the storage tries: per owner, path -> node,
// an empty blob meaning the node was deleted. Node.Hash is trusted as the
// trie computed it; a zero Hash beside a blob is computed at Push. Origins
// are not read.
//
// Accounts maps an address hash to the account in the slim RLP format
// (types.SlimAccountRLP); Storage maps an address hash and a slot hash to
// the slot as go-ethereum's snapshot stores it (the RLP of the trimmed
// value). An empty value, nil or not, deletes. Deletions are listed one by
// one: a destructed account's slots are each listed with nil.
type Layer struct {
	Block    uint64
	Root     common.Hash
	Nodes    *trienode.MergedNodeSet
	Accounts map[common.Hash][]byte
	Storage  map[common.Hash]map[common.Hash][]byte
}

// value is one item of a diff: the bytes (nil = deleted) and, for a trie
// node, their keccak hash (zero for flat state and for deletions).
type value struct {
	blob []byte
	hash common.Hash
}

// entryOverhead approximates the memory of one diff entry beyond its key
// and blob bytes: the map slot, the value and the index's share.
const entryOverhead = 96

// diff is a pushed layer, immutable once published. Its items are keyed by
// their disk key, so one map serves nodes, accounts and slots, and a walk
// costs one map access per layer. The values sit in one slice the index
// points into, so neither a lookup through the index nor a flush hashes
// the key a second time.
type diff struct {
	seq   uint64 // unique per DB, increasing in push order; never reused
	block uint64
	root  common.Hash
	items map[string]int32 // disk key -> position in vals
	vals  []value
	bytes int // approximate memory held
}

// get returns the layer's value of key, if it writes key.
func (l *diff) get(key []byte) (value, bool) {
	i, ok := l.items[string(key)]
	if !ok {
		return value{}, false
	}
	return l.vals[i], true
}

// newDiff flattens l into a diff keyed by disk key.
func newDiff(k keys, seq uint64, l *Layer) *diff {
	n := len(l.Accounts)
	for _, slots := range l.Storage {
		n += len(slots)
	}
	if l.Nodes != nil {
		for _, set := range l.Nodes.Sets {
			n += len(set.Nodes)
		}
	}
	d := &diff{seq: seq, block: l.Block, root: l.Root, items: make(map[string]int32, n), vals: make([]value, 0, n)}
	var buf [keyBufLen]byte
	// Keys are unique: the maps key each table once and Open refused
	// overlapping prefixes.
	add := func(key []byte, v value) {
		d.items[string(key)] = int32(len(d.vals))
		d.vals = append(d.vals, v)
		d.bytes += len(key) + len(v.blob) + entryOverhead
	}
	if l.Nodes != nil {
		for owner, set := range l.Nodes.Sets {
			for path, node := range set.Nodes {
				v := value{}
				if len(node.Blob) > 0 {
					v.blob, v.hash = node.Blob, node.Hash
					if v.hash == (common.Hash{}) {
						v.hash = crypto.Keccak256Hash(node.Blob)
					}
				}
				add(k.nodeKey(buf[:0], owner, []byte(path)), v)
			}
		}
	}
	for addr, acc := range l.Accounts {
		add(k.accountKey(buf[:0], addr), value{blob: nonEmpty(acc)})
	}
	for addr, slots := range l.Storage {
		for slot, val := range slots {
			add(k.slotKey(buf[:0], addr, slot), value{blob: nonEmpty(val)})
		}
	}
	return d
}

// nonEmpty maps an empty value to nil, the one form of a deletion.
func nonEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// keyBufLen holds any key of the usual layouts (a one-byte prefix, a sub-prefix,
// an owner and a 64-nibble path) without growing.
const keyBufLen = 128
