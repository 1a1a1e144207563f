package live

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/trie/trienode"
)

// TestFlushAggregates pushes 64 layers in which one node is written in 40
// of them, one account in all of them and a slot set then deleted, beside
// 10 nodes of each layer's own, and checks that Flush writes each key once
// with its newest value (b.Count is the distinct keys plus the marker).
func TestFlushAggregates(t *testing.T) {
	const layers = 64
	rng := rand.New(rand.NewPCG(64, 40))
	hot := rng.Perm(layers)[:40] // the layers (0-based) writing the hot node
	writesHot := map[int]bool{}
	for _, i := range hot {
		writesHot[i] = true
	}
	owner := common.Hash{0xee}
	hotPath := []byte{1, 2}
	acct, slot := common.Hash{0xa1}, common.Hash{0x51}
	blobOf := func(block int, tag string) []byte {
		return []byte(fmt.Sprintf("\xc8%s-%04d", tag, block))
	}
	build := func() (*pebble.DB, *DB) {
		pdb, d := openMem(t, 1<<20)
		for i := range layers {
			block := uint64(i + 1)
			set := trienode.NewNodeSet(owner)
			if writesHot[i] {
				b := blobOf(i, "hot")
				set.AddNode(hotPath, trienode.NewNodeWithPrev(crypto.Keccak256Hash(b), b, nil))
			}
			for j := range 10 {
				b := blobOf(i, fmt.Sprint("own", j))
				set.AddNode([]byte{3, byte(j), byte(i >> 4), byte(i & 15)}, trienode.NewNodeWithPrev(crypto.Keccak256Hash(b), b, nil))
			}
			var sv []byte
			if i < layers/2 {
				sv = []byte{byte(i + 1)}
			}
			l := &Layer{Block: block, Root: common.Hash{byte(block)}, Nodes: trienode.NewWithNodeSet(set),
				Accounts: map[common.Hash][]byte{acct: blobOf(i, "acct")},
				Storage:  map[common.Hash]map[common.Hash][]byte{acct: {slot: sv}}}
			if err := d.Push(l); err != nil {
				t.Fatal(err)
			}
		}
		return pdb, d
	}
	cases := []struct {
		upTo int
	}{{64}, {33}, {1}}
	for _, tc := range cases {
		t.Run(fmt.Sprint("up to ", tc.upTo), func(t *testing.T) {
			pdb, d := build()
			newestHot := -1
			for i := range tc.upTo {
				if writesHot[i] {
					newestHot = i
				}
			}
			want := 10*tc.upTo + 2 // own nodes, the account, the slot
			if newestHot >= 0 {
				want++
			}
			b := pdb.NewBatch()
			written, err := d.Flush(b, uint64(tc.upTo))
			if err != nil {
				t.Fatal(err)
			}
			if written != want || int(b.Count()) != want+1 {
				t.Fatalf("wrote %d keys (batch %d entries), want %d (+1 marker)", written, b.Count(), want)
			}
			if err := b.Commit(pebble.NoSync); err != nil {
				t.Fatal(err)
			}
			d.Flushed(uint64(tc.upTo))
			if d.Layers() != layers-tc.upTo {
				t.Fatalf("%d layers held", d.Layers())
			}
			// The disk layer alone (a fresh DB) holds the newest values.
			fresh := New(pdb, testOptions(0))
			if err := fresh.Open(); err != nil {
				t.Fatal(err)
			}
			got, _, _ := fresh.Node(owner, hotPath)
			var wantHot []byte
			if newestHot >= 0 {
				wantHot = blobOf(newestHot, "hot")
			}
			if !bytes.Equal(got, wantHot) {
				t.Fatalf("hot node on disk %q, want %q", got, wantHot)
			}
			if got, _ := fresh.Account(acct); !bytes.Equal(got, blobOf(tc.upTo-1, "acct")) {
				t.Fatalf("account on disk %q", got)
			}
			var wantSlot []byte
			if tc.upTo <= layers/2 {
				wantSlot = []byte{byte(tc.upTo)}
			}
			if got, _ := fresh.Storage(acct, slot); !bytes.Equal(got, wantSlot) {
				t.Fatalf("slot on disk %x, want %x", got, wantSlot)
			}
		})
	}
}
