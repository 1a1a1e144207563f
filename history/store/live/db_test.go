package live

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/trie/trienode"
)

func TestOptionsCheck(t *testing.T) {
	base := testOptions(0)
	cases := []struct {
		name string
		edit func(o *Options)
		want string // "" = accepted
	}{
		{"distinct", func(o *Options) {}, ""},
		{"multi-byte prefixes", func(o *Options) { o.NodePrefix = []byte("ln"); o.AccountPrefix = []byte("la") }, ""},
		{"empty node prefix", func(o *Options) { o.NodePrefix = nil }, "NodePrefix is empty"},
		{"empty meta", func(o *Options) { o.MetaKey = nil }, "MetaKey is empty"},
		{"same prefix", func(o *Options) { o.SlotPrefix = []byte{'A'} }, "overlap"},
		{"prefix of another", func(o *Options) { o.NodePrefix = []byte("AB") }, "overlap"},
		{"meta under a table", func(o *Options) { o.MetaKey = []byte("Lx") }, "lies under NodePrefix"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			tc.edit(&o)
			err := newKeys(o).check()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("check: %v, want %q", err, tc.want)
			}
		})
	}
}

func TestKeys(t *testing.T) {
	k := newKeys(testOptions(0))
	owner := common.HexToHash("0x01")
	cases := []struct {
		name string
		got  []byte
		want []byte
	}{
		{"account trie root", k.nodeKey(nil, common.Hash{}, nil), []byte{'L', 0}},
		{"account trie path", k.nodeKey(nil, common.Hash{}, []byte{1, 15}), []byte{'L', 0, 1, 15}},
		{"storage trie path", k.nodeKey(nil, owner, []byte{3}), append(append([]byte{'L', 1}, owner[:]...), 3)},
		{"account", k.accountKey(nil, owner), append([]byte{'A'}, owner[:]...)},
		{"slot", k.slotKey(nil, owner, common.Hash{2}), append(append([]byte{'S'}, owner[:]...), common.Hash{2}.Bytes()...)},
		{"marker", encodeMarker(7, common.Hash{9}), append([]byte{0, 0, 0, 0, 0, 0, 0, 7}, common.Hash{9}.Bytes()...)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !bytes.Equal(tc.got, tc.want) {
				t.Fatalf("key %x, want %x", tc.got, tc.want)
			}
		})
	}
	if b, r, err := decodeMarker(encodeMarker(7, common.Hash{9})); err != nil || b != 7 || r != (common.Hash{9}) {
		t.Fatalf("decode marker: %d %x %v", b, r, err)
	}
	if _, _, err := decodeMarker([]byte{1}); err == nil {
		t.Fatal("short marker decoded")
	}
}

// emptyLayer is a layer that changes nothing.
func emptyLayer(block uint64) *Layer {
	return &Layer{Block: block, Root: common.Hash{byte(block), byte(block >> 8), 1}}
}

// accountLayer sets account 1 to v at block.
func accountLayer(block uint64, v []byte) *Layer {
	l := emptyLayer(block)
	l.Accounts = map[common.Hash][]byte{{1}: v}
	return l
}

// flushTo flushes and commits up to upTo.
func flushTo(t *testing.T, pdb *pebble.DB, d *DB, upTo uint64) int {
	t.Helper()
	b := pdb.NewBatch()
	n, err := d.Flush(b, upTo)
	if err != nil {
		t.Fatalf("flush to %d: %v", upTo, err)
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		t.Fatal(err)
	}
	d.Flushed(upTo)
	return n
}

func TestWriterRules(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *testing.T, pdb *pebble.DB, d *DB) error
		want string // "" = no error
	}{
		{"first block any", func(t *testing.T, _ *pebble.DB, d *DB) error { return d.Push(emptyLayer(42)) }, ""},
		{"gap", func(t *testing.T, _ *pebble.DB, d *DB) error {
			d.Push(emptyLayer(1))
			return d.Push(emptyLayer(3))
		}, "the head is block 1"},
		{"repeat", func(t *testing.T, _ *pebble.DB, d *DB) error {
			d.Push(emptyLayer(1))
			return d.Push(emptyLayer(1))
		}, "the head is block 1"},
		{"after flush all", func(t *testing.T, pdb *pebble.DB, d *DB) error {
			d.Push(emptyLayer(1))
			flushTo(t, pdb, d, 1)
			return d.Push(emptyLayer(5))
		}, "the head is block 1"},
		{"nil layer", func(t *testing.T, _ *pebble.DB, d *DB) error { return d.Push(nil) }, "nil layer"},
		{"not open", func(t *testing.T, pdb *pebble.DB, _ *DB) error {
			return New(pdb, testOptions(0)).Push(emptyLayer(1))
		}, "not open"},
		{"flush above head", func(t *testing.T, pdb *pebble.DB, d *DB) error {
			d.Push(emptyLayer(1))
			_, err := d.Flush(pdb.NewBatch(), 2)
			return err
		}, "the head is block 1"},
		{"flush twice", func(t *testing.T, pdb *pebble.DB, d *DB) error {
			d.Push(emptyLayer(1))
			d.Push(emptyLayer(2))
			d.Flush(pdb.NewBatch(), 1)
			_, err := d.Flush(pdb.NewBatch(), 2)
			return err
		}, "is not Flushed yet"},
		{"flush below oldest", func(t *testing.T, pdb *pebble.DB, d *DB) error {
			d.Push(emptyLayer(5))
			b := pdb.NewBatch()
			n, err := d.Flush(b, 4)
			if n != 0 || b.Count() != 0 {
				t.Fatalf("wrote %d (%d in batch)", n, b.Count())
			}
			return err
		}, ""},
		{"unwind while a flush is in flight", func(t *testing.T, pdb *pebble.DB, d *DB) error {
			d.Push(emptyLayer(1))
			d.Push(emptyLayer(2))
			d.Push(emptyLayer(3))
			d.Flush(pdb.NewBatch(), 2)
			if err := d.Unwind(3); err != nil {
				t.Fatalf("unwind to the head: %v", err)
			}
			err := d.Unwind(2)
			if !errors.Is(err, ErrFlushInFlight) {
				t.Fatalf("unwind above the flush: %v", err)
			}
			if d.Layers() != 3 {
				t.Fatalf("%d layers after a refused unwind", d.Layers())
			}
			return err
		}, "the flush up to block 2 is not Flushed yet"},
		{"unwind after abort", func(t *testing.T, pdb *pebble.DB, d *DB) error {
			d.Push(emptyLayer(1))
			d.Push(emptyLayer(2))
			d.Flush(pdb.NewBatch(), 1)
			if err := d.FlushAbort(); err != nil {
				t.Fatal(err)
			}
			return d.Unwind(1)
		}, ""},
		{"open while a flush is in flight", func(t *testing.T, pdb *pebble.DB, d *DB) error {
			d.Push(emptyLayer(1))
			b := pdb.NewBatch()
			d.Flush(b, 1)
			b.Commit(pebble.NoSync)
			if err := d.Open(); !errors.Is(err, ErrFlushInFlight) {
				t.Fatalf("open: %v", err)
			}
			d.Flushed(1)
			return d.Open()
		}, ""},
		{"unwind below disk", func(t *testing.T, pdb *pebble.DB, d *DB) error {
			for b := uint64(1); b <= 4; b++ {
				d.Push(emptyLayer(b))
			}
			flushTo(t, pdb, d, 2)
			if err := d.Unwind(2); err != nil {
				t.Fatalf("unwind to disk: %v", err)
			}
			err := d.Unwind(1)
			if !errors.Is(err, ErrUnwindTooDeep) {
				t.Fatalf("unwind below disk: %v", err)
			}
			return err
		}, "it can go back to block 2"},
		{"unwind below first layer, nothing flushed", func(t *testing.T, _ *pebble.DB, d *DB) error {
			d.Push(emptyLayer(10))
			d.Push(emptyLayer(11))
			return d.Unwind(9)
		}, "it can go back to block 10"},
		{"unwind above head", func(t *testing.T, _ *pebble.DB, d *DB) error {
			d.Push(emptyLayer(10))
			return d.Unwind(12)
		}, ""},
		{"abort without flush", func(t *testing.T, _ *pebble.DB, d *DB) error { return d.FlushAbort() }, "no flush is pending"},
		{"open with layers", func(t *testing.T, _ *pebble.DB, d *DB) error {
			d.Push(emptyLayer(1))
			return d.Open()
		}, "open with 1 layers held"},
		{"bulk with layers", func(t *testing.T, pdb *pebble.DB, d *DB) error {
			d.Push(emptyLayer(1))
			return d.BulkAccount(pdb.NewBatch(), common.Hash{1}, []byte{1})
		}, "bulk write with 1 layers held"},
		{"bulk empty value", func(t *testing.T, pdb *pebble.DB, d *DB) error {
			return d.BulkNode(pdb.NewBatch(), common.Hash{}, nil, nil)
		}, "empty value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pdb, d := openMem(t, 0)
			err := tc.run(t, pdb, d)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// TestCleanCache checks that disk reads fill the cache, that a flush window
// stops fills and Flushed resumes them, that Flushed gives a cached key its
// new value or drops it, and that a mismatched Flushed empties the cache.
func TestCleanCache(t *testing.T) {
	pdb, d := openMem(t, 1<<20)
	acct := common.Hash{1}
	read := func(want []byte) {
		t.Helper()
		if v, err := d.Account(acct); err != nil || !bytes.Equal(v, want) {
			t.Fatalf("account %x %v, want %x", v, err, want)
		}
	}
	stats := func(wantHits, wantMisses uint64) {
		t.Helper()
		if h, m, _ := d.CacheStats(); h != wantHits || m != wantMisses {
			t.Fatalf("cache hits %d misses %d, want %d %d", h, m, wantHits, wantMisses)
		}
	}
	d.Push(accountLayer(1, []byte{1}))
	flushTo(t, pdb, d, 1)
	read([]byte{1}) // miss, fill
	read([]byte{1}) // hit
	stats(1, 1)

	d.Push(accountLayer(2, []byte{2}))
	b := pdb.NewBatch()
	if _, err := d.Flush(b, 2); err != nil {
		t.Fatal(err)
	}
	read([]byte{2}) // the layer answers
	stats(1, 1)
	if err := b.Commit(pebble.NoSync); err != nil {
		t.Fatal(err)
	}
	d.Flushed(2)
	read([]byte{2}) // the cached entry took the new value
	stats(2, 1)

	// A key first read inside a flush window is not cached; after Flushed it is.
	other := common.Hash{2}
	d.Push(&Layer{Block: 3, Accounts: map[common.Hash][]byte{other: {7}}})
	flushTo(t, pdb, d, 3)
	d.Push(emptyLayer(4))
	b = pdb.NewBatch()
	d.Flush(b, 4)
	d.Account(other) // miss, not filled
	b.Commit(pebble.NoSync)
	d.Flushed(4)
	d.Account(other) // miss, filled
	d.Account(other) // hit
	stats(3, 3)

	// A deletion drops the cached entry.
	d.Push(accountLayer(5, nil))
	flushTo(t, pdb, d, 5)
	read(nil)
	stats(3, 4)

	// An aborted flush reopens fills.
	d.Push(accountLayer(6, []byte{6}))
	b = pdb.NewBatch()
	d.Flush(b, 6)
	b.Close()
	if err := d.FlushAbort(); err != nil {
		t.Fatal(err)
	}
	d.Account(other) // hit
	stats(4, 4)

	// Flushed without a matching Flush: the disk layer moves, the cache is emptied.
	b = pdb.NewBatch()
	d.Flush(b, 6)
	b.Commit(pebble.NoSync)
	d.Flushed(5)
	if _, _, n := d.CacheStats(); n != 0 {
		t.Fatalf("cache holds %d bytes after a mismatched Flushed", n)
	}
	read([]byte{6})
}

// TestBulk loads a state straight into the disk layer and reads it back.
func TestBulk(t *testing.T) {
	pdb, d := openMem(t, 1<<20)
	b := pdb.NewBatch()
	owner := common.Hash{5}
	blob := []byte{0xc1, 0x80}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(d.BulkNode(b, common.Hash{}, []byte{}, blob))
	must(d.BulkNode(b, owner, []byte{1, 2}, blob))
	must(d.BulkAccount(b, owner, []byte{9}))
	must(d.BulkSlot(b, owner, common.Hash{3}, []byte{4}))
	must(d.SetDisk(b, 0, common.Hash{0xaa}))
	must(b.Commit(pebble.Sync))
	must(d.Open())
	if blk, root, ok := d.Head(); !ok || blk != 0 || root != (common.Hash{0xaa}) {
		t.Fatalf("head %d %x %v", blk, root, ok)
	}
	for _, p := range []struct {
		owner common.Hash
		path  []byte
	}{{common.Hash{}, nil}, {owner, []byte{1, 2}}} {
		got, h, err := d.Node(p.owner, p.path)
		if err != nil || !bytes.Equal(got, blob) || h != crypto.Keccak256Hash(blob) {
			t.Fatalf("node %x/%x: %x %x %v", p.owner, p.path, got, h, err)
		}
	}
	if v, _ := d.Account(owner); !bytes.Equal(v, []byte{9}) {
		t.Fatalf("account %x", v)
	}
	if v, _ := d.Storage(owner, common.Hash{3}); !bytes.Equal(v, []byte{4}) {
		t.Fatalf("slot %x", v)
	}
	must(d.Push(emptyLayer(1)))
}

// TestNodeReader checks the database.NodeDatabase adapters: the head root
// only, and a node that does not hash to the asked hash is an error.
func TestNodeReader(t *testing.T) {
	_, d := openMem(t, 0)
	blob := []byte{0xc2, 0x80, 0x80}
	set := trienode.NewNodeSet(common.Hash{})
	set.AddNode(nil, trienode.NewNodeWithPrev(crypto.Keccak256Hash(blob), blob, nil))
	root := crypto.Keccak256Hash(blob)
	if err := d.Push(&Layer{Block: 1, Root: root, Nodes: trienode.NewWithNodeSet(set)}); err != nil {
		t.Fatal(err)
	}
	r := d.Reader()
	defer r.Close()
	cases := []struct {
		name    string
		open    func(common.Hash) (func(common.Hash, []byte, common.Hash) ([]byte, error), error)
		root    common.Hash
		hash    common.Hash
		path    []byte
		wantErr string
		want    []byte
	}{
		{"db match", dbOpener(d), root, root, nil, "", blob},
		{"reader match", readerOpener(r), root, root, nil, "", blob},
		{"db mismatch", dbOpener(d), root, common.Hash{1}, nil, "hash mismatch", nil},
		{"reader absent", readerOpener(r), root, common.Hash{1}, []byte{1}, "", nil},
		{"db other root", dbOpener(d), common.Hash{7}, root, nil, "is not the head", nil},
		{"reader other root", readerOpener(r), common.Hash{7}, root, nil, "is not the reader's head", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			node, err := tc.open(tc.root)
			if err == nil {
				var got []byte
				got, err = node(common.Hash{}, tc.path, tc.hash)
				if err == nil && !bytes.Equal(got, tc.want) {
					t.Fatalf("node %x, want %x", got, tc.want)
				}
			}
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func dbOpener(d *DB) func(common.Hash) (func(common.Hash, []byte, common.Hash) ([]byte, error), error) {
	return func(root common.Hash) (func(common.Hash, []byte, common.Hash) ([]byte, error), error) {
		nr, err := d.NodeReader(root)
		if err != nil {
			return nil, err
		}
		return nr.Node, nil
	}
}

func readerOpener(r *Reader) func(common.Hash) (func(common.Hash, []byte, common.Hash) ([]byte, error), error) {
	return func(root common.Hash) (func(common.Hash, []byte, common.Hash) ([]byte, error), error) {
		nr, err := r.NodeReader(root)
		if err != nil {
			return nil, err
		}
		return nr.Node, nil
	}
}
