package segment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"
)

// selfBlock is a block whose bytes say what they should be: the payload
// starts with its block and version, the rest and its keys follow from
// them, so a reader checks what it read without knowing what the writer
// did meanwhile.
func selfBlock(n uint64, v uint32) rec {
	rng := rand.New(rand.NewPCG(n, uint64(v)))
	p := make([]byte, 12+rng.IntN(2000))
	binary.LittleEndian.PutUint64(p, n)
	binary.LittleEndian.PutUint32(p[8:], v)
	for i := 12; i < len(p); i++ {
		p[i] = byte(rng.Uint32())
	}
	keys := make([]Entry, 4)
	for i := range keys {
		keys[i] = Entry{Key: mix64(n<<24 ^ uint64(v)<<4 ^ uint64(i)), Off: uint32(i), Len: uint32(len(p) / 2)}
	}
	return rec{payload: p, keys: keys}
}

// TestConcurrentReads runs readers (Read, Lookup, ReadLoc, Bounds, Files)
// and Sync callers against one writer that appends, truncates and prunes,
// and background seals that take a while:
// a read returns the right bytes of some version of the block, or
// ErrNotFound, never other bytes, an error or a panic. Run it with -race.
func TestConcurrentReads(t *testing.T) {
	for _, tc := range []struct {
		name string
		fs   func(t *testing.T) Options
	}{
		{"mem", func(t *testing.T) Options { return Options{FS: vfs.NewMem(), Dir: "log", BlocksPerFile: 8} }},
		{"os", func(t *testing.T) Options { return Options{Dir: t.TempDir(), BlocksPerFile: 8, NoSync: true} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := mustOpen(t, tc.fs(t))
			defer l.Close()
			// Seals start late, so that reads, Sync, TruncateAfter,
			// PruneBefore and the next roll race a seal under way.
			l.sealStart = func(uint64) { runtime.Gosched() }
			var done atomic.Bool
			var reorgs atomic.Uint64 // bumped before and after each TruncateAfter
			var top atomic.Uint64    // the highest block ever appended
			var wg sync.WaitGroup
			for r := range 3 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(uint64(r), 1))
					for !done.Load() {
						n := rng.Uint64N(top.Load() + 2)
						l.Bounds()
						l.Files()
						got, err := l.Read(n)
						if errors.Is(err, ErrNotFound) {
							continue
						}
						if !assertNoErr(t, err) {
							return
						}
						v := binary.LittleEndian.Uint32(got[8:])
						want := selfBlock(n, v)
						if !bytes.Equal(got, want.payload) {
							t.Errorf("read %d: bytes of no version", n)
							return
						}
						if n == 0 {
							continue
						}
						gen := reorgs.Load()
						loc, ok, err := l.Lookup(want.keys[1].Key, n-1)
						if !assertNoErr(t, err) {
							return
						}
						if !ok {
							continue // dropped meanwhile
						}
						if loc.Block != n {
							t.Errorf("lookup of block %d's key: block %d", n, loc.Block)
							return
						}
						// A Loc is valid until its block is dropped: after a
						// reorg it may name bytes of another version, or none.
						part, err := l.ReadLoc(loc)
						if errors.Is(err, ErrNotFound) || gen%2 == 1 || reorgs.Load() != gen {
							continue
						}
						if !assertNoErr(t, err) {
							return
						}
						if !bytes.Equal(part, want.payload[1:1+len(want.payload)/2]) {
							t.Errorf("readloc %+v: wrong bytes", loc)
							return
						}
					}
				}()
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !done.Load() {
					assertNoErr(t, l.Sync())
				}
			}()

			rng := rand.New(rand.NewPCG(9, 9))
			version := map[uint64]uint32{}
			next := uint64(0)
			for step := 0; step < 1500 && !t.Failed(); step++ {
				first, last, ok := l.Bounds()
				switch x := rng.IntN(100); {
				case x < 85 || !ok:
					version[next]++
					r := selfBlock(next, version[next])
					require.NoError(t, l.Append(next, r.payload, r.keys))
					top.Store(max(top.Load(), next))
					next++
				case x < 93:
					b := last - min(last-first, uint64(rng.IntN(20)))
					reorgs.Add(1)
					require.NoError(t, l.TruncateAfter(b))
					reorgs.Add(1)
					next = b + 1
				default:
					_, err := l.PruneBefore(first + uint64(rng.IntN(int(last-first+1))))
					require.NoError(t, err)
				}
			}
			done.Store(true)
			wg.Wait()
		})
	}
}

func assertNoErr(t *testing.T, err error) bool {
	if err != nil {
		t.Errorf("unexpected error: %v", err)
		return false
	}
	return true
}
