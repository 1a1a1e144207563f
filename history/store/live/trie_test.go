package live

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/ethereum/go-ethereum/trie/trienode"
	"github.com/ethereum/go-ethereum/triedb"
	"github.com/ethereum/go-ethereum/triedb/database"
)

// TestTrieIntegration drives go-ethereum's trie over the DB: per block it
// opens the account trie and three storage tries on the head (through
// NodeReader, which checks every node's hash), updates random keys,
// commits, and pushes the merged node sets as the block's layer, flushing
// now and then. Every root must equal that of reference tries built in
// memory over a hash-scheme triedb. Readers taken along the way must still
// open their tries and read their values after the DB has moved on.
func TestTrieIntegration(t *testing.T) {
	cases := []struct {
		name       string
		seed       uint64
		cacheBytes int
		blocks     int
	}{
		{"cache", 21, 1 << 20, 150},
		{"no cache", 22, 0, 150},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			runTrie(t, tc.seed, tc.cacheBytes, tc.blocks)
		})
	}
}

// refTries are the reference tries: never committed, hashed in memory.
type refTries struct {
	db      *triedb.Database
	account *trie.Trie
	storage map[common.Hash]*trie.Trie
}

// readerCheck is a Reader with values it must read through a trie.
type readerCheck struct {
	r      *Reader
	root   common.Hash
	values map[string][]byte // account trie key -> value (nil = absent)
}

func runTrie(t *testing.T, seed uint64, cacheBytes, blocks int) {
	rng := rand.New(rand.NewPCG(seed, 9))
	pdb, d := openMem(t, cacheBytes)
	refDB := triedb.NewDatabase(rawdb.NewMemoryDatabase(), nil)
	ref := refTries{db: refDB, account: trie.NewEmpty(refDB), storage: map[common.Hash]*trie.Trie{}}
	owners := []common.Hash{hashOf("owner", 1), hashOf("owner", 2), hashOf("owner", 3)}
	storageRoots := map[common.Hash]common.Hash{}
	for _, o := range owners {
		ref.storage[o] = trie.NewEmpty(refDB)
		storageRoots[o] = types.EmptyRootHash
	}
	accountKeys := make([][]byte, 300)
	for i := range accountKeys {
		accountKeys[i] = hashOf("key", i).Bytes()
	}
	slotKeys := make([][]byte, 80)
	for i := range slotKeys {
		slotKeys[i] = hashOf("slot", i).Bytes()
	}
	randValue := func() []byte {
		if rng.IntN(5) == 0 {
			return nil // delete
		}
		v := make([]byte, 1+rng.IntN(40))
		for i := range v {
			v[i] = byte(rng.Uint32())
		}
		return v
	}
	update := func(tr, rt *trie.Trie, key, val []byte) {
		if err := tr.Update(key, val); err != nil {
			t.Fatal(err)
		}
		if err := rt.Update(key, val); err != nil {
			t.Fatal(err)
		}
	}
	var readers []readerCheck
	root := types.EmptyRootHash
	for block := uint64(1); block <= uint64(blocks); block++ {
		nodes := trienode.NewMergedNodeSet()
		accTrie, err := trie.New(trie.StateTrieID(root), d)
		if err != nil {
			t.Fatalf("block %d: open account trie: %v", block, err)
		}
		for _, o := range owners {
			if rng.IntN(3) == 0 {
				continue
			}
			st, err := trie.New(trie.StorageTrieID(root, o, storageRoots[o]), d)
			if err != nil {
				t.Fatalf("block %d: open storage trie %x: %v", block, o, err)
			}
			for range 1 + rng.IntN(12) {
				update(st, ref.storage[o], slotKeys[rng.IntN(len(slotKeys))], randValue())
			}
			sroot, set := st.Commit(false)
			if want := ref.storage[o].Hash(); sroot != want {
				t.Fatalf("block %d: storage trie %x root %x, reference %x", block, o, sroot, want)
			}
			storageRoots[o] = sroot
			if set != nil {
				if err := nodes.Merge(set); err != nil {
					t.Fatal(err)
				}
			}
			update(accTrie, ref.account, o.Bytes(), sroot.Bytes())
		}
		for range 5 + rng.IntN(30) {
			update(accTrie, ref.account, accountKeys[rng.IntN(len(accountKeys))], randValue())
		}
		newRoot, set := accTrie.Commit(false)
		if want := ref.account.Hash(); newRoot != want {
			t.Fatalf("block %d: account root %x, reference %x", block, newRoot, want)
		}
		if set != nil {
			if err := nodes.Merge(set); err != nil {
				t.Fatal(err)
			}
		}
		if err := d.Push(&Layer{Block: block, Root: newRoot, Nodes: nodes}); err != nil {
			t.Fatalf("block %d: push: %v", block, err)
		}
		root = newRoot

		if disk, _, ok := d.Disk(); rng.IntN(6) == 0 && (!ok || disk < block) {
			lo := uint64(1)
			if ok {
				lo = disk + 1
			}
			upTo := lo + uint64(rng.IntN(int(block-lo)+1))
			b := pdb.NewBatch()
			if _, err := d.Flush(b, upTo); err != nil {
				t.Fatal(err)
			}
			if err := b.Commit(pebble.NoSync); err != nil {
				t.Fatal(err)
			}
			d.Flushed(upTo)
		}
		if rng.IntN(8) == 0 {
			rc := readerCheck{r: d.Reader(), root: root, values: map[string][]byte{}}
			for _, k := range accountKeys[:40] {
				v, err := ref.account.Get(k)
				if err != nil {
					t.Fatal(err)
				}
				rc.values[string(k)] = v
			}
			readers = append(readers, rc)
		}
	}
	if d.Layers() == 0 {
		t.Fatal("every layer flushed: the test reads nothing from layers")
	}
	for i, rc := range readers {
		checkTrieValues(t, i, rc.r, rc.root, rc.values)
		rc.r.Close()
	}
	if disk, _, ok := d.Disk(); !ok || disk == 0 {
		t.Fatal("nothing flushed: the test reads nothing from the disk layer")
	}
	// The head through a Reader, then through a fresh DB once everything is
	// flushed (the disk layer alone): every leaf the reference has.
	it := ref.account.MustNodeIterator(nil)
	want := map[string][]byte{}
	for it.Next(true) {
		if it.Leaf() {
			want[string(it.LeafKey())] = it.LeafBlob()
		}
	}
	r := d.Reader()
	checkTrieValues(t, -1, r, root, want)
	r.Close()
	flushTo(t, pdb, d, uint64(blocks))
	fresh := New(pdb, testOptions(cacheBytes))
	if err := fresh.Open(); err != nil {
		t.Fatal(err)
	}
	checkTrieValues(t, -2, fresh, root, want)
}

// checkTrieValues opens the account trie at root over db and reads values.
func checkTrieValues(t *testing.T, id int, db database.NodeDatabase, root common.Hash, values map[string][]byte) {
	t.Helper()
	tr, err := trie.New(trie.StateTrieID(root), db)
	if err != nil {
		t.Fatalf("reader %d: open trie at %x: %v", id, root, err)
	}
	for k, v := range values {
		got, err := tr.Get([]byte(k))
		if err != nil {
			t.Fatalf("reader %d: get %x: %v", id, k, err)
		}
		if !bytes.Equal(got, v) {
			t.Fatalf("reader %d: key %x is %x, want %x", id, k, got, v)
		}
	}
}
