package live

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/trie/trienode"
)

// benchBlobs is a pool of ~500-byte node blobs with their hashes.
type benchBlobs struct {
	blobs  [][]byte
	hashes []common.Hash
}

func newBenchBlobs(rng *rand.Rand, n int) benchBlobs {
	p := benchBlobs{blobs: make([][]byte, n), hashes: make([]common.Hash, n)}
	for i := range n {
		b := make([]byte, 450+rng.IntN(100))
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		p.blobs[i], p.hashes[i] = b, crypto.Keccak256Hash(b)
	}
	return p
}

// benchLayer is a block-like layer: nodes of the account trie (a third) and
// of 200 storage tries, on the paths of random keys down to depth 7 (the
// account trie) or 5, so the upper levels repeat from block to block as a
// real chain's do, plus 500 accounts and 1,000 slots.
func benchLayer(rng *rand.Rand, pool benchBlobs, block uint64, nodes int) *Layer {
	merged := trienode.NewMergedNodeSet()
	sets := map[common.Hash]*trienode.NodeSet{}
	add := func(owner common.Hash, path []byte) {
		set := sets[owner]
		if set == nil {
			set = trienode.NewNodeSet(owner)
			sets[owner] = set
		}
		i := rng.IntN(len(pool.blobs))
		set.AddNode(path, trienode.NewNodeWithPrev(pool.hashes[i], pool.blobs[i], nil))
	}
	for n := 0; n < nodes; {
		owner, depth := common.Hash{}, 8
		if rng.IntN(3) > 0 {
			owner, depth = hashOf("bench-owner", rng.IntN(200)), 6
		}
		key := make([]byte, depth)
		for i := range key {
			key[i] = byte(rng.IntN(16))
		}
		for d := 0; d < depth && n < nodes; d++ { // the key's path, root down
			add(owner, key[:d])
			n++
		}
	}
	for _, set := range sets {
		merged.Merge(set)
	}
	l := &Layer{Block: block, Root: common.Hash{byte(block), byte(block >> 8)}, Nodes: merged,
		Accounts: map[common.Hash][]byte{}, Storage: map[common.Hash]map[common.Hash][]byte{}}
	for range 500 {
		l.Accounts[hashOf("bench-acct", rng.IntN(1_000_000))] = pool.blobs[0][:70]
	}
	for range 1000 {
		a := hashOf("bench-owner", rng.IntN(200))
		if l.Storage[a] == nil {
			l.Storage[a] = map[common.Hash][]byte{}
		}
		l.Storage[a][hashOf("bench-slot", rng.IntN(1_000_000))] = pool.blobs[0][:33]
	}
	return l
}

// BenchmarkPushFlush pushes 64 layers of ~3,765 nodes (~500-byte blobs)
// and flushes them in one batch, reporting per layer the time to push, to
// build the flush batch and to commit it, and the bytes the batch writes.
func BenchmarkPushFlush(b *testing.B) {
	const layers, nodes = 64, 3765
	rng := rand.New(rand.NewPCG(1, 2))
	pool := newBenchBlobs(rng, 512)
	src := make([]*Layer, layers)
	for i := range src {
		src[i] = benchLayer(rng, pool, uint64(i+1), nodes)
	}
	pdb, d := openMem(b, 64<<20)
	var push, flush, commit time.Duration
	var bytes, keys int
	block := uint64(0)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		for _, l := range src {
			block++
			if err := d.Push(&Layer{Block: block, Root: l.Root, Nodes: l.Nodes, Accounts: l.Accounts, Storage: l.Storage}); err != nil {
				b.Fatal(err)
			}
		}
		t1 := time.Now()
		batch := pdb.NewBatchWithSize(d.MemBytes()) // MemBytes over-estimates the batch: it never grows
		n, err := d.Flush(batch, block)
		if err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		bytes += batch.Len()
		if err := batch.Commit(pebble.NoSync); err != nil {
			b.Fatal(err)
		}
		d.Flushed(block)
		t3 := time.Now()
		push, flush, commit = push+t1.Sub(t0), flush+t2.Sub(t1), commit+t3.Sub(t2)
		keys += n
		batch.Close()
	}
	per := float64(b.N * layers)
	b.ReportMetric(float64(push.Nanoseconds())/per, "push-ns/layer")
	b.ReportMetric(float64(flush.Nanoseconds())/per, "flush-ns/layer")
	b.ReportMetric(float64(commit.Nanoseconds())/per, "commit-ns/layer")
	b.ReportMetric(float64(bytes)/per, "written-B/layer")
	b.ReportMetric(float64(keys)/per, "keys/layer")
}

// BenchmarkNode reads a node found in the newest of 64 layers, in the
// deepest only, in the clean cache under 64 layers, and on disk under 64
// layers with no cache; each with the lookup index and by walking.
func BenchmarkNode(b *testing.B) {
	const layers, perLayer = 64, 1000
	rng := rand.New(rand.NewPCG(3, 4))
	pool := newBenchBlobs(rng, 64)
	owner := hashOf("bench-owner", 1)
	path := func(tag, i int) []byte {
		return []byte{byte(tag), byte(i >> 8 & 15), byte(i >> 4 & 15), byte(i & 15)}
	}
	setup := func(cacheBytes int) *DB {
		pdb, d := openMem(b, cacheBytes)
		// The disk layer: keys under tag 15, loaded in bulk.
		batch := pdb.NewBatch()
		for i := range perLayer {
			d.BulkNode(batch, owner, path(15, i), pool.blobs[i%len(pool.blobs)])
		}
		d.SetDisk(batch, 0, common.Hash{})
		batch.Commit(pebble.NoSync)
		pdb.Flush()
		if err := d.Open(); err != nil {
			b.Fatal(err)
		}
		for blk := 1; blk <= layers; blk++ {
			set := trienode.NewNodeSet(owner)
			for i := range perLayer {
				j := (blk + i) % len(pool.blobs)
				set.AddNode(path(blk%16, i+blk*perLayer), trienode.NewNodeWithPrev(pool.hashes[j], pool.blobs[j], nil))
			}
			if err := d.Push(&Layer{Block: uint64(blk), Nodes: trienode.NewWithNodeSet(set)}); err != nil {
				b.Fatal(err)
			}
		}
		return d
	}
	withCache, noCache := setup(64<<20), setup(0)
	for i := range perLayer { // warm the cache
		withCache.Node(owner, path(15, i))
	}
	cases := []struct {
		name string
		d    *DB
		path func(i int) []byte
	}{
		{"newest layer", withCache, func(i int) []byte { return path(layers%16, i+layers*perLayer) }},
		{"deepest layer", withCache, func(i int) []byte { return path(1, i+perLayer) }},
		{"clean cache", withCache, func(i int) []byte { return path(15, i) }},
		{"disk", noCache, func(i int) []byte { return path(15, i) }},
	}
	for _, walk := range []bool{false, true} {
		for _, tc := range cases {
			name := tc.name + "/index"
			if walk {
				name = tc.name + "/walk"
			}
			b.Run(name, func(b *testing.B) {
				tc.d.walkOnly = walk
				defer func() { tc.d.walkOnly = false }()
				paths := make([][]byte, perLayer)
				for i := range paths {
					paths[i] = tc.path(i)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := range b.N {
					blob, _, err := tc.d.Node(owner, paths[i%perLayer])
					if err != nil || blob == nil {
						b.Fatalf("node %x: %x %v", paths[i%perLayer], blob, err)
					}
				}
			})
		}
	}
}

// BenchmarkFlush builds, and commits, the flush of 64 block-like layers
// into a batch made by NewBatch (unsized, as the archive makes it), again
// and again (each flush is aborted after its commit, so the next writes
// the same), reporting per flush the time to build the batch and to commit
// it.
func BenchmarkFlush(b *testing.B) {
	const layers, nodes = 64, 3765
	rng := rand.New(rand.NewPCG(1, 2))
	pool := newBenchBlobs(rng, 512)
	pdb, d := openMem(b, 64<<20)
	for i := range layers {
		if err := d.Push(benchLayer(rng, pool, uint64(i+1), nodes)); err != nil {
			b.Fatal(err)
		}
	}
	var build, commit time.Duration
	b.ResetTimer()
	for range b.N {
		batch := pdb.NewBatch()
		t0 := time.Now()
		if _, err := d.Flush(batch, layers); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := batch.Commit(pebble.NoSync); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if err := d.FlushAbort(); err != nil {
			b.Fatal(err)
		}
		batch.Close()
		build, commit = build+t1.Sub(t0), commit+t2.Sub(t1)
	}
	b.ReportMetric(float64(build.Microseconds())/float64(b.N)/1000, "build-ms/flush")
	b.ReportMetric(float64(commit.Microseconds())/float64(b.N)/1000, "commit-ms/flush")
}

// BenchmarkPushDuringFlush measures Push latency while the flush of 64
// block-like layers (build, commit, Flushed) runs in another goroutine, as
// the archive's flusher will run it: each round pushes to 64 held layers
// (those pushes time Push with no flush running), starts the flusher and
// pushes one layer every 2 ms until it is done. It reports the latency
// percentiles of both kinds of Push and the flush's duration, which is
// what an inline flush adds to the block that triggers it.
func BenchmarkPushDuringFlush(b *testing.B) {
	const layers, nodes, pace = 64, 3765, 2 * time.Millisecond
	rng := rand.New(rand.NewPCG(1, 2))
	pool := newBenchBlobs(rng, 512)
	src := make([]*Layer, layers)
	for i := range src {
		src[i] = benchLayer(rng, pool, uint64(i+1), nodes)
	}
	pdb, d := openMem(b, 64<<20)
	block := uint64(0)
	push := func() time.Duration {
		block++
		l := src[block%layers]
		t0 := time.Now()
		if err := d.Push(&Layer{Block: block, Root: l.Root, Nodes: l.Nodes, Accounts: l.Accounts, Storage: l.Storage}); err != nil {
			b.Fatal(err)
		}
		return time.Since(t0)
	}
	var idle, during []time.Duration
	var flushTime time.Duration
	b.ResetTimer()
	for range b.N {
		for d.Layers() < layers {
			idle = append(idle, push())
		}
		upTo := block
		done := make(chan error, 1)
		t0 := time.Now()
		go func() {
			batch := pdb.NewBatch()
			defer batch.Close()
			if _, err := d.Flush(batch, upTo); err != nil {
				done <- err
				return
			}
			if err := batch.Commit(pebble.NoSync); err != nil {
				done <- err
				return
			}
			d.Flushed(upTo)
			done <- nil
		}()
		for running := true; running; {
			select {
			case err := <-done:
				if err != nil {
					b.Fatal(err)
				}
				flushTime += time.Since(t0)
				running = false
			case <-time.After(pace):
				during = append(during, push())
			}
		}
	}
	b.StopTimer()
	pct := func(ds []time.Duration, p float64) float64 {
		if len(ds) == 0 {
			return 0
		}
		s := slices.Clone(ds)
		slices.Sort(s)
		return float64(s[min(len(s)-1, int(p*float64(len(s))))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(flushTime.Microseconds())/float64(b.N)/1000, "flush-ms")
	b.ReportMetric(float64(len(during))/float64(b.N), "pushes-during/flush")
	b.ReportMetric(pct(during, 0.5), "during-p50-ms")
	b.ReportMetric(pct(during, 0.99), "during-p99-ms")
	b.ReportMetric(pct(during, 1), "during-max-ms")
	b.ReportMetric(pct(idle, 0.5), "idle-p50-ms")
	b.ReportMetric(pct(idle, 0.99), "idle-p99-ms")
}
