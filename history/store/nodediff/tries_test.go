package nodediff

import (
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/ethereum/go-ethereum/trie/trienode"
	"github.com/ethereum/go-ethereum/triedb"
	"github.com/holiman/uint256"
	"github.com/stretchr/testify/require"
)

// A trieShape says how a test trie's keys and values are drawn and how its
// second commit changes it.
type trieShape struct {
	name   string
	seed   uint64
	keys   int // keys in the first commit
	key    func(r *rand.Rand) []byte
	value  func(r *rand.Rand) []byte
	update int // keys given a new value in the second commit
	remove int // keys deleted in the second commit
	insert int // keys added in the second commit
}

// nodePair is one node the second commit changed, at path: its value before
// (empty for a node the commit created) and after (empty for one it
// deleted), and the hash the first commit wrote pre under.
type nodePair struct {
	path      string
	pre, post []byte
	preHash   common.Hash
}

// accountValue is a state account as the account trie holds it (the
// consensus RLP, root and code hash in full), a third of them contracts.
func accountValue(r *rand.Rand) []byte {
	acc := types.StateAccount{
		Nonce:    r.Uint64N(1 << 20),
		Balance:  uint256.NewInt(r.Uint64()),
		Root:     types.EmptyRootHash,
		CodeHash: types.EmptyCodeHash.Bytes(),
	}
	if r.IntN(3) == 0 {
		acc.Root = randHash(r)
		acc.CodeHash = randHash(r).Bytes()
	}
	blob, err := rlp.EncodeToBytes(&acc)
	if err != nil {
		panic(err)
	}
	return blob
}

// slotValue is a storage slot as a storage trie holds it: the RLP of the
// 32-byte word with its leading zeros trimmed, mostly small numbers.
func slotValue(r *rand.Rand) []byte {
	word := randHash(r)
	if r.IntN(4) != 0 {
		word = common.BigToHash(new(uint256.Int).SetUint64(r.Uint64N(1 << 24)).ToBig())
	}
	blob, err := rlp.EncodeToBytes(common.TrimLeftZeroes(word[:]))
	if err != nil {
		panic(err)
	}
	return blob
}

func randHash(r *rand.Rand) (h common.Hash) {
	for i := range h {
		h[i] = byte(r.Uint32())
	}
	return h
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// trieShapes are the tries the round trip is checked over.
var trieShapes = []trieShape{{
	name: "accounts", seed: 1, keys: 4000, update: 300, remove: 40, insert: 60,
	key:   func(r *rand.Rand) []byte { return crypto.Keccak256(randBytes(r, 20)) },
	value: accountValue,
}, {
	// A block-sized change to a bigger trie: the top three levels are full
	// branches, most of which see one child change.
	name: "accounts, few changes", seed: 7, keys: 30000, update: 150, remove: 5, insert: 5,
	key:   func(r *rand.Rand) []byte { return crypto.Keccak256(randBytes(r, 20)) },
	value: accountValue,
}, {
	name: "storage", seed: 2, keys: 3000, update: 200, remove: 60, insert: 60,
	key:   func(r *rand.Rand) []byte { return crypto.Keccak256(randBytes(r, 32)) },
	value: slotValue,
}, {
	// 2-byte keys, 1-byte values: leaves with one nibble left are 3 bytes,
	// embedded in their branches.
	name: "embedded", seed: 3, keys: 3000, update: 300, remove: 100, insert: 100,
	key:   func(r *rand.Rand) []byte { return randBytes(r, 2) },
	value: func(r *rand.Rand) []byte { return []byte{byte(1 + r.IntN(127))} },
}, {
	// Keys under 8 shared 6-byte prefixes: extension nodes above branches.
	name: "extensions", seed: 4, keys: 2000, update: 150, remove: 50, insert: 50,
	key: func(r *rand.Rand) []byte {
		prefix := crypto.Keccak256([]byte{byte(r.IntN(8))})[:6]
		return append(prefix, randBytes(r, 8)...)
	},
	value: func(r *rand.Rand) []byte { return randBytes(r, 20+r.IntN(20)) },
}, {
	// Keys of 1 to 3 bytes over a small alphabet: many keys are prefixes of
	// others, so branches carry values and the second commit changes them.
	name: "value slots", seed: 5, keys: 1500, update: 400, remove: 100, insert: 100,
	key: func(r *rand.Rand) []byte {
		k := make([]byte, 1+r.IntN(3))
		for i := range k {
			k[i] = byte(r.IntN(16))<<4 | byte(r.IntN(4))
		}
		return k
	},
	value: func(r *rand.Rand) []byte { return randBytes(r, 1+r.IntN(40)) },
}, {
	// Most keys deleted: branches collapse into short nodes and disappear.
	name: "shrink", seed: 6, keys: 1000, update: 20, remove: 950, insert: 0,
	key:   func(r *rand.Rand) []byte { return crypto.Keccak256(randBytes(r, 8)) },
	value: func(r *rand.Rand) []byte { return randBytes(r, 8+r.IntN(60)) },
}}

// changedNodes builds the trie s describes, commits it, changes it as s
// says, commits again, and returns every node of the second commit's node
// set with its origin, in path order. The second commit is required to
// change something.
func changedNodes(tb testing.TB, s trieShape) []nodePair {
	tb.Helper()
	r := rand.New(rand.NewPCG(s.seed, 0))
	tdb := triedb.NewDatabase(rawdb.NewMemoryDatabase(), nil)
	tr := trie.NewEmpty(tdb)
	var keys [][]byte
	seen := map[string]bool{}
	for len(keys) < s.keys {
		k := s.key(r)
		if seen[string(k)] {
			continue
		}
		seen[string(k)] = true
		keys = append(keys, k)
		require.NoError(tb, tr.Update(k, s.value(r)))
	}
	root, first := tr.Commit(false)
	require.NotNil(tb, first)
	require.NoError(tb, tdb.Update(root, types.EmptyRootHash, 1, trienode.NewWithNodeSet(first), nil))

	tr, err := trie.New(trie.TrieID(root), tdb)
	require.NoError(tb, err)
	r.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	require.LessOrEqual(tb, s.update+s.remove, len(keys))
	for _, k := range keys[:s.update] {
		require.NoError(tb, tr.Update(k, s.value(r)))
	}
	for _, k := range keys[s.update : s.update+s.remove] {
		require.NoError(tb, tr.Delete(k))
	}
	for added := 0; added < s.insert; {
		k := s.key(r)
		if seen[string(k)] {
			continue
		}
		seen[string(k)] = true
		added++
		require.NoError(tb, tr.Update(k, s.value(r)))
	}
	_, second := tr.Commit(false)
	require.NotNil(tb, second)

	pairs := make([]nodePair, 0, len(second.Nodes))
	for path, n := range second.Nodes {
		pre, ok := second.Origins[path]
		require.True(tb, ok, "node %x has no origin", path)
		p := nodePair{path: path, pre: pre, post: n.Blob}
		if len(pre) > 0 {
			was, ok := first.Nodes[path]
			require.True(tb, ok, "origin of node %x was not written by the first commit", path)
			require.Equal(tb, was.Blob, pre, "origin of node %x", path)
			p.preHash = was.Hash
		}
		pairs = append(pairs, p)
	}
	sort.Slice(pairs, func(i, j int) bool { return pairs[i].path < pairs[j].path })
	return pairs
}

// nodeItems returns a node blob's raw items, nil if it is not one RLP list.
func nodeItems(tb testing.TB, blob []byte) [][]byte {
	if len(blob) == 0 {
		return nil
	}
	items, err := rlp.SplitListValues(blob)
	require.NoError(tb, err)
	return items
}
