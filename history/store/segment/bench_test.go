package segment

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// fullBlock is a block the size of a full base-like block's history record:
// 300 KB of payload, 3,765 keys (one per node version it changed).
func fullBlock(rng *rand.Rand) ([]byte, []Entry) {
	p := make([]byte, 300<<10)
	for i := 0; i < len(p); i += 8 {
		p[i] = byte(rng.Uint32())
	}
	keys := make([]Entry, 3765)
	per := uint32(len(p) / len(keys))
	for i := range keys {
		keys[i] = Entry{Key: rng.Uint64(), Off: uint32(i) * per, Len: per}
	}
	return p, keys
}

// BenchmarkAppendSync appends and fsyncs full blocks on the OS file system
// (the temporary directory's disk); "seal" files hold 16 blocks, so that
// every 16th Append seals a file of 60,240 keys. max-ms/append is the
// slowest Append, a roll's included.
func BenchmarkAppendSync(b *testing.B) {
	for _, bpf := range []uint64{512, 16} {
		name := "open"
		if bpf == 16 {
			name = "seal"
		}
		b.Run(name, func(b *testing.B) {
			l := mustOpen(b, Options{Dir: b.TempDir(), BlocksPerFile: bpf})
			defer l.Close()
			p, keys := fullBlock(rand.New(rand.NewPCG(1, 1)))
			b.SetBytes(int64(len(p)))
			var worst time.Duration // of one Append, a roll's included
			b.ResetTimer()
			for i := range b.N {
				keys[0].Key = uint64(i)
				t0 := time.Now()
				if err := l.Append(uint64(i), p, keys); err != nil {
					b.Fatal(err)
				}
				worst = max(worst, time.Since(t0))
				if err := l.Sync(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(worst.Microseconds())/1000, "max-ms/append")
		})
	}
}

// BenchmarkSealIndex builds the index of a full file of full blocks: 512
// blocks of 3,765 keys (1.93 M keys), the work an Append does when it seals
// a file, besides the fsyncs and the write.
func BenchmarkSealIndex(b *testing.B) {
	rng := rand.New(rand.NewPCG(2, 2))
	a := newActiveFile("x", 0, 512, nil, false)
	keys := make([]Entry, 3765)
	p := make([]byte, 300<<10)
	for range 512 {
		off := uint32(0)
		for i := range keys {
			keys[i] = Entry{Key: rng.Uint64(), Off: off, Len: 80}
			off += 80
		}
		_, loc := appendRecord(nil, 0, p, keys)
		loc.off = a.end
		a.addEntries(loc, keys)
	}
	b.ResetTimer()
	for range b.N {
		data, _ := buildIndex("x", 0, 512, a.blocks, a.entries, a.end, defaultBloomBits)
		b.SetBytes(int64(len(data)))
	}
}

// BenchmarkLookup looks keys up in a log of 36 sealed files of 512 blocks
// (and an open one), 16 keys per block (fewer than a full block's 3,765, to
// keep the setup small; a lookup reads one chunk of the sorted keys per
// file its bloom filter lets through, whatever the file's size), on the OS
// file system (page cache warm).
func BenchmarkLookup(b *testing.B) {
	const files, bpf, perBlock = 36, 512, 16
	l := mustOpen(b, Options{Dir: b.TempDir(), BlocksPerFile: bpf, NoSync: true})
	defer l.Close()
	rng := rand.New(rand.NewPCG(3, 3))
	type kb struct{ key, block uint64 }
	var all []kb
	p := make([]byte, 256)
	keys := make([]Entry, perBlock)
	for n := uint64(0); n < files*bpf+bpf/2; n++ {
		for i := range keys {
			keys[i] = Entry{Key: rng.Uint64(), Off: uint32(i) * 8, Len: 8} // contiguous
			all = append(all, kb{keys[i].Key, n})
		}
		if err := l.Append(n, p, keys); err != nil {
			b.Fatal(err)
		}
	}
	total := uint64(files*bpf + bpf/2)
	for _, tc := range []struct {
		name string
		span uint64 // how far before the key's block the lookup starts
	}{
		{"near", 1},       // after = the block before: the key's own file
		{"far", total},    // after a random earlier block: half the files on average
		{"absent", total}, // a key no block has: every file's bloom filter
	} {
		b.Run(tc.name, func(b *testing.B) {
			r := rand.New(rand.NewPCG(4, 4))
			for range b.N {
				k := all[r.IntN(len(all))]
				key, after := k.key, k.block-min(k.block, 1+r.Uint64N(tc.span))
				if tc.name == "absent" {
					key, after = r.Uint64(), 0
				}
				loc, ok, err := l.Lookup(key, after)
				if err != nil {
					b.Fatal(err)
				}
				if tc.name != "absent" && (!ok || loc.Block != k.block) && after < k.block {
					b.Fatal(fmt.Sprintf("lookup %#x after %d: %v %v, want block %d", key, after, loc, ok, k.block))
				}
			}
		})
	}
}

// BenchmarkRoll measures the Append that starts a new file (the roll), on
// the OS file system with fsyncs, for files of 512 full-size key sets
// (3,765 keys per block, 1.93 M per file, as a full base-like file; the
// payloads are small to keep the setup short). Each iteration appends a
// whole file and times only the Append of the next file's first block:
// ns/op is the roll's cost on the append path.
func BenchmarkRoll(b *testing.B) {
	const bpf, perBlock = 512, 3765
	l := mustOpen(b, Options{Dir: b.TempDir(), BlocksPerFile: bpf})
	defer l.Close()
	rng := rand.New(rand.NewPCG(5, 5))
	p := make([]byte, 4096)
	keys := make([]Entry, perBlock)
	next := uint64(0)
	appendOne := func() {
		for i := range keys {
			keys[i] = Entry{Key: rng.Uint64(), Off: uint32(i), Len: 8}
		}
		if err := l.Append(next, p, keys); err != nil {
			b.Fatal(err)
		}
		next++
	}
	var worst time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		for next == 0 || next%bpf != 0 { // up to the file's last block
			appendOne()
		}
		if err := l.Sync(); err != nil {
			b.Fatal(err)
		}
		for i := range keys {
			keys[i] = Entry{Key: rng.Uint64(), Off: uint32(i), Len: 8}
		}
		b.StartTimer()
		t0 := time.Now()
		if err := l.Append(next, p, keys); err != nil { // the roll
			b.Fatal(err)
		}
		worst = max(worst, time.Since(t0))
		next++
	}
	b.StopTimer()
	b.ReportMetric(float64(worst.Microseconds())/1000, "max-ms/roll")
}

// BenchmarkLookupFull looks up keys of full blocks (3,765 contiguous
// entries of 60-90 bytes, as a history record's) in 4 sealed files of 32
// blocks, after the block before the key's: the key's own file, where a
// hit reads a chunk of the index and then, from the .seg, the entry
// lengths of the key's group in its block's record.
func BenchmarkLookupFull(b *testing.B) {
	const files, bpf, perBlock = 4, 32, 3765
	l := mustOpen(b, Options{Dir: b.TempDir(), BlocksPerFile: bpf, NoSync: true})
	defer l.Close()
	rng := rand.New(rand.NewPCG(6, 6))
	var all []Loc
	var keys []uint64
	for n := uint64(0); n <= files*bpf; n++ {
		ents := make([]Entry, perBlock)
		off := uint32(0)
		for i := range ents {
			ln := 60 + rng.Uint32N(31)
			ents[i] = Entry{Key: rng.Uint64(), Off: off, Len: ln}
			off += ln
			if n > 0 && n < files*bpf {
				all = append(all, Loc{Block: n, Off: ents[i].Off, Len: ln})
				keys = append(keys, ents[i].Key)
			}
		}
		if err := l.Append(n, make([]byte, off), ents); err != nil {
			b.Fatal(err)
		}
	}
	l.waitSeal()
	r := rand.New(rand.NewPCG(7, 7))
	b.ResetTimer()
	for range b.N {
		i := r.IntN(len(all))
		loc, ok, err := l.Lookup(keys[i], all[i].Block-1)
		if err != nil || !ok || loc != all[i] {
			b.Fatalf("lookup %#x: %v %v %v, want %v", keys[i], loc, ok, err, all[i])
		}
	}
}
