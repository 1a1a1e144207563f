package live

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestCrashFlush flushes in batches committed without sync (and some
// synced) on a crashable in-memory filesystem, takes crash clones at random
// points keeping a random share of the unsynced data, and reopens each: the
// marker's block B and the disk keys must agree, the disk layer holding
// exactly the aggregated state of the layers up to B (no key more or less),
// or nothing at all when there is no marker.
func TestCrashFlush(t *testing.T) {
	cases := []struct {
		name     string
		seed     uint64
		syncPerc int // share of flush batches committed with sync
	}{
		{"nosync", 31, 0},
		{"some sync", 32, 30},
		{"nosync 2", 33, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(tc.seed, 77))
			u := newUniverse(rng)
			fs := vfs.NewCrashableMem()
			pdb, err := pebble.Open("db", &pebble.Options{FS: fs, Logger: quietLogger{}})
			if err != nil {
				t.Fatal(err)
			}
			defer pdb.Close()
			d := New(pdb, testOptions(1<<16))
			if err := d.Open(); err != nil {
				t.Fatal(err)
			}
			head := make(state, len(u))
			chain := map[uint64]state{}
			flushed := map[uint64]state{} // marker block -> the state it stands for
			var block, disk uint64
			crashes, marked, behind := 0, 0, 0
			for step := range 400 {
				switch p := rng.IntN(100); {
				case p < 60 || block == disk:
					block++
					c := randomChange(rng, u, 15)
					head = head.apply(c)
					chain[block] = head
					if err := d.Push(u.layer(block, rootOf(tc.seed, block, step), c, false)); err != nil {
						t.Fatal(err)
					}
				case p < 85:
					upTo := disk + 1 + uint64(rng.IntN(int(block-disk)))
					b := pdb.NewBatch()
					if _, err := d.Flush(b, upTo); err != nil {
						t.Fatal(err)
					}
					flushed[upTo] = chain[upTo]
					opt := pebble.NoSync
					if rng.IntN(100) < tc.syncPerc {
						opt = pebble.Sync
					}
					if err := b.Commit(opt); err != nil {
						t.Fatal(err)
					}
					d.Flushed(upTo)
					disk = upTo
				default:
					crashes++
					clone := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: rng.IntN(101), RNG: rng})
					b, ok := checkCrashClone(t, fmt.Sprintf("step %d", step), clone, u, flushed)
					if ok {
						marked++
					}
					if disk > 0 && (!ok || b < disk) {
						behind++ // the crash lost flushes: unsynced data dropped
					}
				}
			}
			if marked == 0 || behind == 0 {
				t.Fatalf("%d crash clones, %d with a marker, %d behind the flushed block: both kinds must be seen", crashes, marked, behind)
			}
			t.Logf("%d crash clones, %d with a marker, %d behind the flushed block", crashes, marked, behind)
		})
	}
}

// checkCrashClone reopens a crash clone and checks that its disk layer is
// exactly the state its marker names.
func checkCrashClone(t *testing.T, at string, fs *vfs.MemFS, u universe, flushed map[uint64]state) (block uint64, marked bool) {
	t.Helper()
	pdb, err := pebble.Open("db", &pebble.Options{FS: fs, Logger: quietLogger{}})
	if err != nil {
		t.Fatalf("%s: reopen crash clone: %v", at, err)
	}
	defer pdb.Close()
	d := New(pdb, testOptions(0))
	if err := d.Open(); err != nil {
		t.Fatalf("%s: open: %v", at, err)
	}
	want := make(state, len(u))
	b, _, marked := d.Disk()
	if marked {
		s, known := flushed[b]
		if !known {
			t.Fatalf("%s: marker at block %d, which no flush wrote", at, b)
		}
		want = s
	}
	present := 0
	for i := range u {
		got := u.read(t, d, i)
		if !bytes.Equal(got, want[i]) {
			t.Fatalf("%s: item %d reads %x, want %x", at, i, got, want[i])
		}
		if want[i] != nil {
			present++
		}
	}
	// No key beyond the state: count every key under the three prefixes.
	keys := 0
	for _, p := range [][]byte{{'L'}, {'A'}, {'S'}} {
		it, err := pdb.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: []byte{p[0] + 1}})
		if err != nil {
			t.Fatal(err)
		}
		for it.First(); it.Valid(); it.Next() {
			keys++
		}
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if keys != present {
		t.Fatalf("%s: %d keys on disk, the state has %d", at, keys, present)
	}
	return b, marked
}
