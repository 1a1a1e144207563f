package archive

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/history/historytest"
)

// TestCrashAtAnyMoment ingests a chain on a crashable in-memory file
// system while another goroutine takes crash clones at random moments
// (keeping a random share of what was written but not synced). Every clone
// reopens at or after the last block reported before the clone was taken,
// with every block up to its head proving against the model: the record
// synced before the head moves, the Pebble head, and the forward updates
// replayed into layers agree whatever the crash cut.
func TestCrashAtAnyMoment(t *testing.T) {
	for _, seed := range []uint64{1, 2} {
		g := historytest.NewChain(seed)
		var updates []*history.BlockUpdate
		for range 90 {
			updates = append(updates, g.Next())
		}
		fs := vfs.NewCrashableMem()
		cfg := crashConfig()
		cfg.FS = fs
		s, err := Open("/store", cfg, nil)
		require.NoError(t, err)
		var reported atomic.Int64
		reported.Store(-1)
		done := make(chan error, 1)
		go func() {
			for i, u := range updates {
				if err := s.Ingest(context.Background(), u); err != nil {
					done <- err
					return
				}
				reported.Store(int64(i))
			}
			done <- nil
		}()
		rng := rand.New(rand.NewPCG(seed, 3))
		type clone struct {
			fs       *vfs.MemFS
			reported int64
		}
		var clones []clone
	loop:
		for {
			select {
			case err := <-done:
				require.NoError(t, err)
				break loop
			default:
			}
			time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
			r := reported.Load()
			c := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: rng.IntN(101), RNG: rand.New(rand.NewPCG(rng.Uint64(), 1))})
			clones = append(clones, clone{c, r})
		}
		require.NoError(t, s.Close())
		require.NotEmpty(t, clones)
		for i, c := range clones {
			cfg := crashConfig()
			cfg.FS = c.fs
			s, err := Open("/store", cfg, nil)
			require.NoError(t, err, "clone %d", i)
			head, err := s.Head()
			if c.reported < 0 {
				if err == nil {
					historytest.CheckState(t, s, g, head.Number)
				}
				require.NoError(t, s.Close())
				continue
			}
			require.NoError(t, err, "clone %d: a block was reported", i)
			require.GreaterOrEqual(t, int64(head.Number), c.reported, "clone %d lost a reported block", i)
			for n := uint64(0); n <= head.Number; n += 1 + uint64(rng.IntN(4)) {
				historytest.CheckState(t, s, g, n)
			}
			historytest.CheckState(t, s, g, head.Number)
			// The reopened store goes on from its head.
			for _, u := range updates[head.Number+1 : min(int(head.Number)+4, len(updates))] {
				require.NoError(t, s.Ingest(context.Background(), u), "clone %d ingests on", i)
			}
			require.NoError(t, s.Close())
		}
		t.Logf("seed %d: %d crash clones reopened", seed, len(clones))
	}
}

// crashConfig holds many blocks per history file, so the unsynced tail of
// the open file reaches below the disk layer: a record lost there could not
// be replayed, and a missing fsync shows.
func crashConfig() Config {
	c := smallConfig()
	c.BlocksPerFile = 64
	return c
}
