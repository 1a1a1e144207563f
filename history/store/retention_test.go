package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/history/historytest"
)

// testRetention has small spans so that thousands of blocks cross every
// tier: 40 recent blocks, a 96-block window, checkpoints every 8 blocks.
func testRetention(pinned ...common.Hash) Retention {
	return Retention{Recent: 40, Window: 96, Checkpoint: 8, Pinned: pinned}
}

// TestRetentionProperty ingests a random history of 800 blocks while
// migrating in random bounded steps, and checks after every few steps that
// every block answers as its tier promises: at and above the oldest full
// block, the state root, flat reads and proofs of present and absent keys
// match the model (directly in the recent tier and at checkpoints, rebuilt
// between checkpoints); below it, pinned accounts still prove against the
// model's root and every other account gets an error naming the oldest
// block.
func TestRetentionProperty(t *testing.T) {
	seed := *seedFlag
	t.Logf("seed %d (rerun with -seed=%d)", seed, seed)
	ctx := context.Background()
	g := historytest.NewChain(seed)
	first := g.Next() // block 0 creates the first accounts; pin two of them
	pinned := []common.Hash{g.Keys[0], g.Keys[1]}
	cfg := DefaultConfig()
	cfg.NodeCacheEntries = 1 // the hash-keyed cache would hide a node the tiers lost
	cfg.Retention = testRetention(pinned...)
	s, err := OpenMem(cfg)
	require.NoError(t, err)
	defer s.Close()
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
			checkTiers(t, s, g, pinned, rng)
		}
	}
	for {
		res, err := s.Migrate(ctx, 1000)
		require.NoError(t, err)
		if !res.More {
			break
		}
	}
	checkTiers(t, s, g, pinned, rng)
	require.Zero(t, s.rebuildFallbacks.Load(), "every rebuild between checkpoints replayed the merged update")
	checkChangesets(t, s)
	checkPruned(t, s)
	tiers := s.Tiers()
	require.Equal(t, "recent", tiers[0].Name)
	require.GreaterOrEqual(t, blocks-tiers[0].Earliest+1, uint64(40), "the recent tier keeps at least Recent blocks")
	require.Less(t, blocks-tiers[0].Earliest+1, uint64(40+8), "and gives up whole intervals")
	require.Equal(t, tiers[0].Earliest-1, tiers[1].Latest)
	require.Zero(t, tiers[1].Earliest%8)
	for _, tr := range tiers {
		require.Positive(t, tr.Bytes, "tier %s holds bytes", tr.Name)
	}
}

// checkTiers checks every block of the store against the model.
func checkTiers(t *testing.T, s *Store, g *historytest.Chain, pinned []common.Hash, rng *rand.Rand) {
	t.Helper()
	head, err := s.Head()
	require.NoError(t, err)
	oldest, err := s.Oldest()
	require.NoError(t, err)
	for n := uint64(0); n <= head.Number; n++ {
		if n >= oldest {
			if n%5 == 0 || n+50 > head.Number || n < oldest+10 { // every block near the tier edges, a fifth elsewhere
				checkState(t, s, g, n)
			}
			continue
		}
		st, err := s.StateAt(n)
		require.NoError(t, err, "block %d below the window still serves pinned accounts", n)
		require.Equal(t, g.States[n].Root(), st.Root())
		for _, a := range pinned {
			acc, err := st.Account(a)
			require.NoError(t, err)
			val := proveAndVerify(t, trie.StateTrieID(st.Root()), st.Nodes(), a[:])
			m, ok := g.States[n][a]
			if !ok {
				require.Nil(t, acc)
				require.Nil(t, val)
				continue
			}
			blob, _ := rlp.EncodeToBytes(m.StateAccount())
			require.Equal(t, blob, val, "block %d: pinned %s", n, a)
			if acc.Root != types.EmptyRootHash {
				for _, slot := range g.Slots[:8] {
					pv := proveAndVerify(t, trie.StorageTrieID(st.Root(), a, acc.Root), st.Nodes(), slot[:])
					if m.Storage[slot] == (common.Hash{}) {
						require.Nil(t, pv)
					} else {
						require.Equal(t, encodeStorageLeaf(m.Storage[slot]), pv)
					}
				}
			}
		}
		other := g.Keys[2+rng.IntN(len(g.Keys)-2)]
		_, err = st.Account(other)
		var pruned *history.PrunedError
		require.True(t, errors.As(err, &pruned), "block %d: unpinned account below the window: got %v", n, err)
		require.Equal(t, oldest, pruned.Oldest)
		require.NoError(t, st.Close())
	}
}

// TestRetentionShrinksDisk: migrating and compacting a store on disk frees
// space.
func TestRetentionShrinksDisk(t *testing.T) {
	ctx := context.Background()
	cfg := DefaultConfig()
	cfg.NoSync = true
	cfg.Retention = Retention{Recent: 32, Window: 64, Checkpoint: 16}
	s, err := Open(t.TempDir(), cfg, nil)
	require.NoError(t, err)
	defer s.Close()
	g := historytest.NewChain(4)
	for range 1200 {
		require.NoError(t, s.Ingest(ctx, g.Next()))
	}
	require.NoError(t, s.Compact())
	before := s.LiveTableBytes()
	for {
		res, err := s.Migrate(ctx, 500)
		require.NoError(t, err)
		if !res.More {
			break
		}
	}
	require.NoError(t, s.Compact())
	after := s.LiveTableBytes()
	t.Logf("disk %d -> %d bytes", before, after)
	require.Less(t, after, before*3/4, "migration freed at least a quarter of the disk")
	head, _ := s.Head()
	checkState(t, s, g, head.Number)
	oldest, _ := s.Oldest()
	checkState(t, s, g, oldest)
	checkState(t, s, g, oldest+5) // rebuilt between checkpoints
}

// TestMigrationResumesTask: a step that ends inside a task leaves the
// boundary already moved and the cursor in meta; a reopened store finishes
// the task and every tier still answers as the model says.
func TestMigrationResumesTask(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.NoSync = true
	cfg.NodeCacheEntries = 1
	cfg.Retention = Retention{Recent: 32, Window: 64, Checkpoint: 8}
	s, err := Open(dir, cfg, nil)
	require.NoError(t, err)
	g := historytest.NewChain(11)
	for range 200 {
		require.NoError(t, s.Ingest(ctx, g.Next()))
	}
	res, err := s.Migrate(ctx, 3)
	require.NoError(t, err)
	require.Equal(t, uint64(8), res.Thinned, "the first step starts one interval")
	require.True(t, res.More)
	for s.task.idx == 0 { // the first steps plan the task, a changeset each
		res, err = s.Migrate(ctx, 3)
		require.NoError(t, err)
		require.Zero(t, res.Thinned, "still the first interval")
	}
	require.NotNil(t, s.task, "the task is unfinished")
	idx := s.task.idx
	require.Equal(t, uint64(9), s.recent.Load(), "the boundary moved before the versions went")
	checkState(t, s, g, 5) // rebuilt from checkpoint 0 while half thinned
	require.NoError(t, s.Close())

	s, err = Open(dir, cfg, nil)
	require.NoError(t, err)
	defer s.Close()
	require.NotNil(t, s.task, "the task survives a reopen")
	require.Equal(t, uint64(1), s.task.blk)
	require.Equal(t, idx, s.task.idx)
	for {
		res, err := s.Migrate(ctx, 100)
		require.NoError(t, err)
		if !res.More {
			break
		}
	}
	require.Nil(t, s.task)
	head, _ := s.Head()
	oldest, _ := s.Oldest()
	require.Equal(t, uint64(96), oldest, "head 199: recent from (199-32)/8*8+1 = 161, oldest (161-64)/8*8")
	for n := oldest; n <= head.Number; n++ {
		checkState(t, s, g, n)
	}
}

// TestPruningResumes reopens a store in the middle of each phase of a
// pruning task (deleting the versions below the old oldest block, then the
// interval's blocks); the reopened store recomputes the plan, finishes the
// task, keeps every held block answering as the model says and leaks no
// version below the oldest block.
func TestPruningResumes(t *testing.T) {
	for _, tc := range []struct {
		name string
		stop func(*migrateTask) bool
	}{
		{"below the old oldest block", func(m *migrateTask) bool { return m.prune && m.below && m.idx > 0 }},
		{"in the interval's blocks", func(m *migrateTask) bool { return m.prune && !m.below && m.blk > m.from && m.idx > 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			cfg := DefaultConfig()
			cfg.NoSync = true
			cfg.NodeCacheEntries = 1
			cfg.Retention = Retention{Recent: 32, Window: 64, Checkpoint: 8}
			s, err := Open(dir, cfg, nil)
			require.NoError(t, err)
			g := historytest.NewChain(23)
			for range 200 {
				require.NoError(t, s.Ingest(ctx, g.Next()))
			}
			stopped := false
			for !stopped {
				res, err := s.Migrate(ctx, 3)
				require.NoError(t, err)
				require.True(t, res.More, "the task was seen before migration ended")
				stopped = s.task != nil && tc.stop(s.task) && s.task.from > 0
			}
			task := *s.task
			require.NoError(t, s.Close())

			s, err = Open(dir, cfg, nil)
			require.NoError(t, err)
			defer s.Close()
			require.Equal(t, task, *s.task, "the cursor survives a reopen")
			require.Nil(t, s.plan, "the plan is recomputed")
			for {
				res, err := s.Migrate(ctx, 50)
				require.NoError(t, err)
				if !res.More {
					break
				}
			}
			head, _ := s.Head()
			oldest, _ := s.Oldest()
			for n := oldest; n <= head.Number; n++ {
				checkState(t, s, g, n)
			}
			checkPruned(t, s)
			checkChangesets(t, s)
		})
	}
}

// TestWindowViewCache: a second read of a block between checkpoints shares
// the first's rebuilt state; each handle closes on its own; an expired
// entry is dropped and rebuilt.
func TestWindowViewCache(t *testing.T) {
	ctx := context.Background()
	cfg := DefaultConfig()
	cfg.Retention = Retention{Recent: 16, Window: 64, Checkpoint: 8}
	s, err := OpenMem(cfg)
	require.NoError(t, err)
	defer s.Close()
	g := historytest.NewChain(12)
	for range 80 {
		require.NoError(t, s.Ingest(ctx, g.Next()))
	}
	for {
		res, err := s.Migrate(ctx, 1000)
		require.NoError(t, err)
		if !res.More {
			break
		}
	}
	const n = 21 // between checkpoints 16 and 24, in the window
	require.Less(t, s.oldest.Load(), uint64(n))
	require.Greater(t, s.recent.Load(), uint64(n))
	a, err := s.StateAt(n)
	require.NoError(t, err)
	b, err := s.StateAt(n)
	require.NoError(t, err)
	require.Equal(t, uint64(1), s.viewHits.Load(), "the second read hit the cache")
	require.NoError(t, a.Close())
	require.NoError(t, a.Close(), "closing twice is harmless")
	checkOpen := func(st history.State) {
		t.Helper()
		require.Equal(t, g.States[n].Root(), st.Root())
		for _, k := range g.Keys[:20] {
			proveAndVerify(t, trie.StateTrieID(st.Root()), st.Nodes(), k[:])
		}
	}
	checkOpen(b) // still usable after the other handle closed
	require.NoError(t, b.Close())
	checkState(t, s, g, n) // a third read, through the cache, verified against the model
	require.Equal(t, uint64(2), s.viewHits.Load())
	s.expireViews(time.Now().Add(viewCacheTTL + time.Second))
	require.Zero(t, s.views.Len(), "expired states let go of their snapshots")
	c, err := s.StateAt(n)
	require.NoError(t, err)
	require.Equal(t, uint64(2), s.viewHits.Load(), "rebuilt after expiry")
	checkOpen(c)
	require.NoError(t, c.Close())
}

// checkChangesets: once migration is idle, every node version a window
// block's changeset lists is still there (thinning rewrote the changesets).
func checkChangesets(t *testing.T, s *Store) {
	t.Helper()
	require.Nil(t, s.task, "migration is idle")
	listed := 0
	for blk := s.oldest.Load(); blk < s.recent.Load(); blk++ {
		items, err := changesetAt(s.db, blk)
		require.NoError(t, err)
		for _, item := range items {
			if !bytes.HasPrefix(item, nodePrefix) {
				continue
			}
			_, err := getFrom(s.db, versioned(item, blk))
			require.NoError(t, err, "block %d lists node %x", blk, item)
			listed++
		}
	}
	require.Positive(t, listed)
}

// checkPruned: once migration is idle, an item that is not pinned keeps at
// most one version at or below the oldest block (the one reads at oldest
// see), so disk stays bounded however long the store runs.
func checkPruned(t *testing.T, s *Store) {
	t.Helper()
	require.Nil(t, s.task, "migration is idle")
	oldest := s.oldest.Load()
	require.Positive(t, oldest, "the test pruned something")
	it, err := s.db.NewIter(nil)
	require.NoError(t, err)
	defer it.Close()
	var prev []byte
	below, checked := 0, 0
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		if !bytes.HasPrefix(k, nodePrefix) && !bytes.HasPrefix(k, accountPrefix) && !bytes.HasPrefix(k, slotPrefix) {
			continue
		}
		item := k[:len(k)-8]
		if !bytes.Equal(item, prev) {
			prev, below = bytes.Clone(item), 0
		}
		if ^binary.BigEndian.Uint64(k[len(item):]) > oldest || s.isPinned(item) {
			continue
		}
		below++
		checked++
		require.LessOrEqual(t, below, 1, "item %x keeps a version at block %d, superseded at or below the oldest block %d",
			item, ^binary.BigEndian.Uint64(k[len(item):]), oldest)
	}
	require.Positive(t, checked)
}

// TestMigrationYieldsToIngest: with a block ingesting, a step does one
// batch and stops; without, it works through its budget.
func TestMigrationYieldsToIngest(t *testing.T) {
	ctx := context.Background()
	cfg := DefaultConfig()
	cfg.Retention = Retention{Recent: 16, Window: 1 << 20, Checkpoint: 8}
	s, err := OpenMem(cfg)
	require.NoError(t, err)
	defer s.Close()
	g := historytest.NewChain(13)
	for range 300 {
		require.NoError(t, s.Ingest(ctx, g.Next()))
	}
	s.ingesting.Add(1) // as Ingest does while a block is under way
	res, err := s.Migrate(ctx, 1<<30)
	require.NoError(t, err)
	require.True(t, res.Yielded)
	require.True(t, res.More)
	require.LessOrEqual(t, res.Examined, MigrateChunk, "one batch, then the step gave way")
	s.ingesting.Add(-1)
	res, err = s.Migrate(ctx, 1<<30)
	require.NoError(t, err)
	require.False(t, res.Yielded)
	require.False(t, res.More, "with nothing ingesting the step finished the work")
	require.Greater(t, res.Examined, MigrateChunk)
}

// TestMigratesOlderChangesets: a store whose changesets were written before
// they recorded value lengths and values (no format byte) still migrates —
// sizes read where unknown, updates read from the versions — and ends with
// every held block answering as the model says and nothing leaked.
func TestMigratesOlderChangesets(t *testing.T) {
	ctx := context.Background()
	cfg := DefaultConfig()
	cfg.NodeCacheEntries = 1
	cfg.Retention = Retention{Recent: 32, Window: 64, Checkpoint: 8}
	s, err := OpenMem(cfg)
	require.NoError(t, err)
	defer s.Close()
	g := historytest.NewChain(31)
	for range 240 {
		require.NoError(t, s.Ingest(ctx, g.Next()))
	}
	// Rewrite every changeset in the older layout: uvarint(len(item)) item.
	head, err := s.Head()
	require.NoError(t, err)
	carried := map[uint64]*history.BlockUpdate{}
	for blk := uint64(1); blk <= head.Number; blk++ {
		carried[blk], err = s.UpdateAt(blk)
		require.NoError(t, err)
	}
	b := s.db.NewBatch()
	for blk := uint64(1); blk <= head.Number; blk++ {
		items, err := changesetAt(s.db, blk)
		require.NoError(t, err)
		var old []byte
		for _, item := range items {
			old = binary.AppendUvarint(old, uint64(len(item)))
			old = append(old, item...)
		}
		require.NotEqual(t, byte(changesetValues), old[0])
		require.NoError(t, b.Set(blockKey(changePrefix, blk), old, nil))
	}
	require.NoError(t, b.Commit(nil))
	require.NoError(t, b.Close())
	for blk := uint64(1); blk <= head.Number; blk++ {
		u, err := s.UpdateAt(blk)
		require.NoError(t, err)
		require.Equal(t, carried[blk].Accounts, u.Accounts, "block %d: values carried in the changeset are the versions stored", blk)
	}

	for {
		res, err := s.Migrate(ctx, 200)
		require.NoError(t, err)
		if !res.More {
			break
		}
	}
	oldest, _ := s.Oldest()
	require.Positive(t, oldest)
	for n := oldest; n <= head.Number; n++ {
		checkState(t, s, g, n)
	}
	checkPruned(t, s)
	checkChangesets(t, s)
	for _, tr := range s.Tiers() {
		if tr.Name != "pinned" {
			require.Positive(t, tr.Bytes, "tier %s", tr.Name)
		}
	}
}
