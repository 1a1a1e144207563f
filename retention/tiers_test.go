package retention

import (
	"context"
	"flag"
	"math/rand/v2"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/history/historytest"
	"github.com/strata-chain/strata/history/store"
)

// These tests run the schedule end to end on the real engine (history/store
// is their fixture, through its exported API only): a store configured with
// a Policy keeps the tiers its spans describe while blocks arrive.

var seedFlag = flag.Uint64("seed", 1, "seed of the randomized tier tests")

// testRetention has small spans so that hundreds of blocks cross every
// tier: 40 recent blocks, a 96-block window, checkpoints every 8 blocks.
func testRetention(pinned ...common.Hash) history.Retention {
	return history.Retention{Recent: 40, Window: 96, Checkpoint: 8, Pinned: pinned}
}

// tieredStore opens a store in memory (or in dir) whose tiers r sets and
// the schedule moves.
func tieredStore(t *testing.T, dir string, r history.Retention) *store.Store {
	t.Helper()
	cfg := store.DefaultConfig()
	cfg.NodeCacheEntries = 1 // the hash-keyed cache would hide a node the tiers lost
	cfg.Retention, cfg.Policy = r, NewPolicy(r)
	var s *store.Store
	var err error
	if dir == "" {
		s, err = store.OpenMem(cfg)
	} else {
		cfg.NoSync = true
		s, err = store.Open(dir, cfg, nil)
	}
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// migrateAll migrates until nothing is due.
func migrateAll(t *testing.T, s *store.Store, budget int) {
	t.Helper()
	for {
		res, err := s.Migrate(context.Background(), budget)
		require.NoError(t, err)
		if !res.More {
			return
		}
	}
}

// TestStoreNeedsPolicy: a store with retention on and no policy refuses to
// open, naming what is missing; one whose Retention pins other accounts
// than its policy is refused too.
func TestStoreNeedsPolicy(t *testing.T) {
	r := testRetention(common.HexToHash("0x01"))
	cfg := store.DefaultConfig()
	cfg.Retention = r
	_, err := store.OpenMem(cfg)
	require.ErrorContains(t, err, "no tier policy is set")
	cfg.Policy = NewPolicy(testRetention(common.HexToHash("0x02")))
	_, err = store.OpenMem(cfg)
	require.ErrorContains(t, err, "not the same ones")
	cfg.Policy = NewPolicy(r)
	s, err := store.OpenMem(cfg)
	require.NoError(t, err)
	require.NoError(t, s.Close())
}

// TestRetentionProperty ingests a random history of 800 blocks while
// migrating in random bounded steps, and checks after every few steps that
// every block answers as its tier promises: at and above the oldest full
// block, the state root, flat reads and proofs of present and absent keys
// match the model (directly in the recent tier and at checkpoints, rebuilt
// between checkpoints); below it, pinned accounts still prove against the
// model's root and every other account gets an error naming the oldest
// block. At the end the tiers sit where the spans put them.
func TestRetentionProperty(t *testing.T) {
	seed := *seedFlag
	t.Logf("seed %d (rerun with -seed=%d)", seed, seed)
	ctx := context.Background()
	g := historytest.NewChain(seed)
	first := g.Next() // block 0 creates the first accounts; pin two of them
	pinned := []common.Hash{g.Keys[0], g.Keys[1]}
	s := tieredStore(t, "", testRetention(pinned...))
	require.NoError(t, s.Ingest(ctx, first))
	rng := rand.New(rand.NewPCG(seed, 17))
	const blocks = 800
	for n := 1; n <= blocks; n++ {
		require.NoError(t, s.Ingest(ctx, g.Next()))
		if rng.IntN(3) == 0 {
			_, err := s.Migrate(ctx, 1+rng.IntN(400))
			require.NoError(t, err)
		}
		if n%400 == 0 || n == blocks {
			historytest.CheckTiers(t, s, g, pinned, rng)
		}
	}
	migrateAll(t, s, 1000)
	historytest.CheckTiers(t, s, g, pinned, rng)
	tiers := s.Tiers()
	require.Equal(t, "recent", tiers[0].Name)
	require.Equal(t, uint64(761), tiers[0].Earliest, "head 800: the recent tier starts at (800-40)/8*8+1")
	require.Equal(t, tiers[0].Earliest-1, tiers[1].Latest)
	require.Equal(t, uint64(664), tiers[1].Earliest, "the window starts at (761-96)/8*8")
	for _, tr := range tiers {
		require.Positive(t, tr.Bytes, "tier %s holds bytes", tr.Name)
	}
}

// TestRetentionShrinksDisk: migrating and compacting a store on disk frees
// space, and the tiers still answer.
func TestRetentionShrinksDisk(t *testing.T) {
	ctx := context.Background()
	s := tieredStore(t, t.TempDir(), history.Retention{Recent: 32, Window: 64, Checkpoint: 16})
	g := historytest.NewChain(4)
	for range 1200 {
		require.NoError(t, s.Ingest(ctx, g.Next()))
	}
	require.NoError(t, s.Compact())
	before := s.LiveTableBytes()
	migrateAll(t, s, 500)
	require.NoError(t, s.Compact())
	after := s.LiveTableBytes()
	t.Logf("disk %d -> %d bytes", before, after)
	require.Less(t, after, before*3/4, "migration freed at least a quarter of the disk")
	head, err := s.Head()
	require.NoError(t, err)
	historytest.CheckState(t, s, g, head.Number)
	oldest, err := s.Oldest()
	require.NoError(t, err)
	require.Equal(t, uint64(1088), oldest, "head 1199: recent from (1199-32)/16*16+1 = 1153, oldest (1153-64)/16*16")
	historytest.CheckState(t, s, g, oldest)
	historytest.CheckState(t, s, g, oldest+5) // rebuilt between checkpoints
}
