package live

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/trie/trienode"
)

// testOptions is the layout the tests use.
func testOptions(cacheBytes int) Options {
	return Options{
		NodePrefix:      []byte{'L'},
		AccountPrefix:   []byte{'A'},
		SlotPrefix:      []byte{'S'},
		MetaKey:         []byte("mflushed"),
		CleanCacheBytes: cacheBytes,
	}
}

// openMem opens an in-memory Pebble and an opened DB over it.
func openMem(tb testing.TB, cacheBytes int) (*pebble.DB, *DB) {
	tb.Helper()
	pdb, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem(), Logger: quietLogger{}})
	if err != nil {
		tb.Fatalf("open pebble: %v", err)
	}
	tb.Cleanup(func() { pdb.Close() })
	d := New(pdb, testOptions(cacheBytes))
	if err := d.Open(); err != nil {
		tb.Fatalf("open: %v", err)
	}
	return pdb, d
}

// quietLogger keeps Pebble's informational logs out of test output.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)         {}
func (quietLogger) Errorf(string, ...any)        {}
func (quietLogger) Fatalf(f string, args ...any) { panic(fmt.Sprintf(f, args...)) }

// item is one key of the test universe: a trie node, an account or a slot.
type item struct {
	kind byte // 'n', 'a', 's'
	a, b common.Hash
	path []byte
}

// universe is a fixed set of keys the random tests write and read.
type universe []item

func hashOf(tag string, i int) common.Hash {
	return crypto.Keccak256Hash([]byte(tag), binary.BigEndian.AppendUint64(nil, uint64(i)))
}

// newUniverse builds nodes of the account trie and two storage tries
// (including each root path), accounts and slots.
func newUniverse(rng *rand.Rand) universe {
	var u universe
	owners := []common.Hash{{}, hashOf("owner", 1), hashOf("owner", 2)}
	for _, o := range owners {
		seen := map[string]bool{}
		u = append(u, item{kind: 'n', a: o, path: []byte{}})
		seen[""] = true
		for len(seen) < 15 {
			p := make([]byte, 1+rng.IntN(6))
			for i := range p {
				p[i] = byte(rng.IntN(16))
			}
			if !seen[string(p)] {
				seen[string(p)] = true
				u = append(u, item{kind: 'n', a: o, path: p})
			}
		}
	}
	for i := range 30 {
		u = append(u, item{kind: 'a', a: hashOf("acct", i)})
	}
	for i := range 3 {
		for j := range 15 {
			u = append(u, item{kind: 's', a: hashOf("acct", i), b: hashOf("slot", j)})
		}
	}
	return u
}

// state is a model head state: the value of every universe item, nil if
// absent. States are never modified once built.
type state [][]byte

// change is one random layer: item index -> new value (nil deletes).
type change map[int][]byte

func randomChange(rng *rand.Rand, u universe, maxItems int) change {
	c := change{}
	for range 1 + rng.IntN(maxItems) {
		i := rng.IntN(len(u))
		if rng.IntN(10) < 3 {
			c[i] = nil
			continue
		}
		v := make([]byte, 1+rng.IntN(60))
		for j := range v {
			v[j] = byte(rng.Uint32())
		}
		c[i] = v
	}
	return c
}

func (s state) apply(c change) state {
	n := append(state(nil), s...)
	for i, v := range c {
		n[i] = v
	}
	return n
}

// layer turns a change into a Layer; zeroHash leaves node hashes for Push
// to compute.
func (u universe) layer(block uint64, root common.Hash, c change, zeroHash bool) *Layer {
	l := &Layer{Block: block, Root: root, Nodes: trienode.NewMergedNodeSet(),
		Accounts: map[common.Hash][]byte{}, Storage: map[common.Hash]map[common.Hash][]byte{}}
	sets := map[common.Hash]*trienode.NodeSet{}
	for i, v := range c {
		it := u[i]
		switch it.kind {
		case 'n':
			set := sets[it.a]
			if set == nil {
				set = trienode.NewNodeSet(it.a)
				sets[it.a] = set
			}
			if v == nil {
				set.AddNode(it.path, trienode.NewDeletedWithPrev(nil))
				continue
			}
			h := crypto.Keccak256Hash(v)
			if zeroHash {
				h = common.Hash{}
			}
			set.AddNode(it.path, trienode.NewNodeWithPrev(h, v, nil))
		case 'a':
			l.Accounts[it.a] = v
		case 's':
			if l.Storage[it.a] == nil {
				l.Storage[it.a] = map[common.Hash][]byte{}
			}
			l.Storage[it.a][it.b] = v
		}
	}
	for _, set := range sets {
		if err := l.Nodes.Merge(set); err != nil {
			panic(err)
		}
	}
	return l
}

// nodeSource is what both DB and Reader offer.
type nodeSource interface {
	Node(owner common.Hash, path []byte) ([]byte, common.Hash, error)
	Account(addrHash common.Hash) ([]byte, error)
	Storage(addrHash, slotHash common.Hash) ([]byte, error)
}

// read reads item i from src, checking a node's hash against its blob.
func (u universe) read(tb testing.TB, src nodeSource, i int) []byte {
	tb.Helper()
	v, err := u.tryRead(src, i)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// tryRead is read for goroutines other than the test's.
func (u universe) tryRead(src nodeSource, i int) ([]byte, error) {
	it := u[i]
	switch it.kind {
	case 'n':
		blob, h, err := src.Node(it.a, it.path)
		if err != nil {
			return nil, fmt.Errorf("node %d: %w", i, err)
		}
		want := common.Hash{}
		if blob != nil {
			want = crypto.Keccak256Hash(blob)
		}
		if h != want {
			return nil, fmt.Errorf("node %d: hash %x, blob hashes to %x", i, h, want)
		}
		return blob, nil
	case 'a':
		return src.Account(it.a)
	default:
		return src.Storage(it.a, it.b)
	}
}

// rootOf names a model state: a unique root per (tag, block, serial).
func rootOf(tag uint64, block uint64, serial int) common.Hash {
	return crypto.Keccak256Hash(binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, tag), block), uint64(serial)))
}
