package live

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/ethereum/go-ethereum/common"
)

// TestConcurrentReaders runs one writer (pushes, flushes with reads racing
// the commit, unwinds) against goroutines that take Readers and check every
// key against the model state of the Reader's root, and against DB reads
// that fill the clean cache. At the end the DB and a fresh Reader must read
// the final state exactly: a stale cache fill would show there.
func TestConcurrentReaders(t *testing.T) {
	cases := []struct {
		name       string
		seed       uint64
		cacheBytes int
	}{
		{"cache", 7, 1 << 20},
		{"tiny cache", 8, 1 << 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(tc.seed, 3))
			u := newUniverse(rng)[:60]
			pdb, d := openMem(t, tc.cacheBytes)
			var states sync.Map // root -> state
			states.Store(common.Hash{}, make(state, len(u)))

			var done atomic.Bool
			var wg sync.WaitGroup
			var checked atomic.Int64
			errs := make(chan string, 4)
			for w := range 3 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; !done.Load(); i++ {
						if w == 0 {
							// DB reads race the writer and fill the cache.
							for j := range u {
								if _, err := u.tryRead(d, j); err != nil {
									errs <- err.Error()
									return
								}
							}
							continue
						}
						r := d.Reader()
						_, root, _ := r.Head()
						want, ok := states.Load(root)
						if !ok {
							errs <- "reader head root unknown"
							r.Close()
							return
						}
						for j := range u {
							got, err := u.tryRead(r, j)
							if err != nil || !bytes.Equal(got, want.(state)[j]) {
								errs <- fmt.Sprintf("reader at root %x, item %d: read %x (%v), want %x", root, j, got, err, want.(state)[j])
								r.Close()
								return
							}
						}
						r.Close()
						checked.Add(1)
					}
				}()
			}

			var head state = make(state, len(u))
			chain := map[uint64]state{}
			var block, disk uint64
			for step := range 1500 {
				runtime.Gosched() // let the readers interleave with every step
				switch p := rng.IntN(10); {
				case p < 6 || block == disk:
					block++
					c := randomChange(rng, u, 8)
					head = head.apply(c)
					root := rootOf(tc.seed, block, step)
					states.Store(root, head)
					chain[block] = head
					if err := d.Push(u.layer(block, root, c, false)); err != nil {
						t.Fatal(err)
					}
				case p < 9:
					b := pdb.NewBatch()
					if _, err := d.Flush(b, block); err != nil {
						t.Fatal(err)
					}
					if err := b.Commit(pebble.NoSync); err != nil {
						t.Fatal(err)
					}
					d.Flushed(block)
					disk = block
				default:
					to := disk + uint64(rng.IntN(int(block-disk)+1))
					if err := d.Unwind(to); err != nil {
						t.Fatal(err)
					}
					block, head = to, chain[to]
				}
			}
			done.Store(true)
			wg.Wait()
			select {
			case e := <-errs:
				t.Fatal(e)
			default:
			}
			if checked.Load() < 10 {
				t.Fatalf("%d readers finished", checked.Load())
			}
			t.Logf("%d readers checked", checked.Load())
			r := d.Reader()
			defer r.Close()
			for j := range u {
				if got := u.read(t, d, j); !bytes.Equal(got, head[j]) {
					t.Fatalf("item %d: DB reads %x, want %x", j, got, head[j])
				}
				if got := u.read(t, r, j); !bytes.Equal(got, head[j]) {
					t.Fatalf("item %d: reader reads %x, want %x", j, got, head[j])
				}
			}
		})
	}
}
