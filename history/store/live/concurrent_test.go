package live

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
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

// TestConcurrentFlush runs the flusher in its own goroutine (Flush, the
// commit, Flushed, or an abort, some with a Flush refused while one is in
// flight) while the test goroutine pushes and now and then unwinds (refused
// with ErrFlushInFlight when a flush is in flight, with ErrUnwindTooDeep
// when the flusher moved the disk layer past it), and readers check every
// key of their Reader against the model state of its root and race DB
// reads that fill the clean cache. At the end the DB, a fresh Reader and a
// fresh DB over the disk layer alone must read the model exactly.
func TestConcurrentFlush(t *testing.T) {
	cases := []struct {
		name       string
		seed       uint64
		cacheBytes int
		pushes     int
	}{
		{"cache", 17, 1 << 20, 1200},
		{"tiny cache", 18, 1 << 10, 1200},
		{"no cache", 19, 0, 800},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(tc.seed, 5))
			u := newUniverse(rng)[:60]
			pdb, d := openMem(t, tc.cacheBytes)
			var states sync.Map // root -> state
			states.Store(common.Hash{}, make(state, len(u)))
			chain := sync.Map{} // block -> state of the current chain, for the disk check
			chain.Store(uint64(0), make(state, len(u)))

			var done, pushing atomic.Bool
			pushing.Store(true)
			var wg sync.WaitGroup
			var checked, flushes, aborts, refusedUnwinds atomic.Int64
			errs := make(chan string, 8)
			fail := func(s string) {
				select {
				case errs <- s:
				default:
				}
			}
			for w := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for !done.Load() {
						if w == 0 {
							for j := range u {
								if _, err := u.tryRead(d, j); err != nil {
									fail(err.Error())
									return
								}
							}
							continue
						}
						r := d.Reader()
						_, root, _ := r.Head()
						want, ok := states.Load(root)
						if !ok {
							fail(fmt.Sprintf("reader head root %x unknown", root))
							r.Close()
							return
						}
						for j := range u {
							got, err := u.tryRead(r, j)
							if err != nil || !bytes.Equal(got, want.(state)[j]) {
								fail(fmt.Sprintf("reader at root %x, item %d: read %x (%v), want %x", root, j, got, err, want.(state)[j]))
								r.Close()
								return
							}
						}
						r.Close()
						checked.Add(1)
					}
				}()
			}

			// The flusher: flushes while the pusher pushes, then once more
			// to the head when it stops.
			wg.Add(1)
			go func() {
				defer wg.Done()
				frng := rand.New(rand.NewPCG(tc.seed, 6))
				for {
					last := !pushing.Load()
					runtime.Gosched()
					head, _, ok := d.Head()
					disk, _, _ := d.Disk()
					if !ok || head <= disk {
						if last {
							return
						}
						continue
					}
					upTo := disk + 1 + uint64(frng.IntN(int(head-disk)))
					if last {
						upTo = head
					}
					b := pdb.NewBatch()
					n, err := d.Flush(b, upTo)
					if err != nil {
						b.Close()
						if last || !strings.Contains(err.Error(), "the head is block") {
							fail(fmt.Sprintf("flush to %d: %v", upTo, err)) // only an unwind racing the choice of upTo may refuse it
							return
						}
						continue
					}
					if n == 0 {
						b.Close()
						continue // an unwind left nothing up to upTo
					}
					if frng.IntN(8) == 0 {
						if _, err := d.Flush(pdb.NewBatch(), upTo); !errors.Is(err, ErrFlushInFlight) {
							fail(fmt.Sprintf("second flush in flight: %v", err))
							return
						}
					}
					runtime.Gosched() // pushes land between Flush and the commit
					if !last && frng.IntN(6) == 0 {
						b.Close()
						if err := d.FlushAbort(); err != nil {
							fail(err.Error())
							return
						}
						aborts.Add(1)
						continue
					}
					if err := b.Commit(pebble.NoSync); err != nil {
						fail(err.Error())
						return
					}
					b.Close()
					runtime.Gosched() // and between the commit and Flushed
					d.Flushed(upTo)
					flushes.Add(1)
					if last {
						return
					}
				}
			}()

			head := make(state, len(u))
			var block uint64
			for step := range tc.pushes {
				runtime.Gosched()
				if rng.IntN(12) == 0 && block > 0 {
					disk, _, _ := d.Disk()
					to := disk + uint64(rng.IntN(int(block-disk)+1))
					switch err := d.Unwind(to); {
					case err == nil:
						if to < block {
							v, _ := chain.Load(to)
							block, head = to, v.(state)
						}
					case errors.Is(err, ErrFlushInFlight), errors.Is(err, ErrUnwindTooDeep):
						refusedUnwinds.Add(1)
					default:
						t.Fatalf("unwind to %d: %v", to, err)
					}
					if b, _, _ := d.Head(); b != block {
						t.Fatalf("head %d after unwind to %d, want %d", b, to, block)
					}
					continue
				}
				block++
				c := randomChange(rng, u, 8)
				head = head.apply(c)
				root := rootOf(tc.seed, block, step)
				states.Store(root, head)
				chain.Store(block, head)
				if err := d.Push(u.layer(block, root, c, false)); err != nil {
					t.Fatal(err)
				}
			}
			pushing.Store(false)
			// Wait for the flusher's last flush (it returns), then stop readers.
			for {
				if b, _, _ := d.Disk(); b == block || len(errs) > 0 {
					break
				}
				runtime.Gosched()
			}
			done.Store(true)
			wg.Wait()
			select {
			case e := <-errs:
				t.Fatal(e)
			default:
			}
			if checked.Load() < 10 || flushes.Load() < 5 {
				t.Fatalf("%d readers finished, %d flushes", checked.Load(), flushes.Load())
			}
			t.Logf("%d readers checked, %d flushes, %d aborts, %d unwinds refused", checked.Load(), flushes.Load(), aborts.Load(), refusedUnwinds.Load())
			if d.Layers() != 0 {
				t.Fatalf("%d layers left after flushing to the head", d.Layers())
			}
			fresh := New(pdb, testOptions(0))
			if err := fresh.Open(); err != nil {
				t.Fatal(err)
			}
			r := d.Reader()
			defer r.Close()
			for j := range u {
				for name, src := range map[string]nodeSource{"DB": d, "reader": r, "disk layer": fresh} {
					if got := u.read(t, src, j); !bytes.Equal(got, head[j]) {
						t.Fatalf("item %d: %s reads %x, want %x", j, name, got, head[j])
					}
				}
			}
		})
	}
}
