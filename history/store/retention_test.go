package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/history/historytest"
)

// fixedTiers is the store tests' tier policy: it names the store's next
// interval until the boundaries reach fixed blocks (the recent tier's
// first block up to recent, the oldest block up to oldest), never past the
// head or the recent tier. It is not the schedule, which follows the head
// by spans (the retention package's Policy, tested there with this store
// as its fixture): store tests pick where the tiers end and check the
// mechanics of getting there.
type fixedTiers struct {
	checkpoint     uint64
	recent, oldest uint64
	pinned         []common.Hash
}

func (f fixedTiers) Due(b history.TierBounds) (history.TierTask, bool) {
	C := f.checkpoint
	if from := max(b.Recent, 1); from+C <= f.recent && from+C-1 < b.Head {
		return history.TierTask{From: from, To: from + C - 1}, true
	}
	if to := b.Oldest/C*C + C; to <= f.oldest && to < b.Recent {
		return history.TierTask{Prune: true, From: b.Oldest, To: to}, true
	}
	return history.TierTask{}, false
}

func (f fixedTiers) Pinned() []common.Hash { return f.pinned }

// migrateTo turns retention on with checkpoint interval C and a fixedTiers
// policy moving the recent tier's first block to recent and the oldest
// block to oldest. (The Retention's spans are the policy's input, so they
// are left at the least that validates: the store reads only Checkpoint.)
func migrateTo(cfg *Config, C, recent, oldest uint64, pinned ...common.Hash) {
	cfg.Retention = Retention{Recent: C, Checkpoint: C}
	cfg.Policy = fixedTiers{checkpoint: C, recent: recent, oldest: oldest, pinned: pinned}
}

// migrateAll migrates until nothing is due.
func migrateAll(t *testing.T, s *Store, budget int) {
	t.Helper()
	for {
		res, err := s.Migrate(context.Background(), budget)
		require.NoError(t, err)
		if !res.More {
			return
		}
	}
}

// oneTask is a policy that always names the same task.
type oneTask history.TierTask

func (o oneTask) Due(history.TierBounds) (history.TierTask, bool) { return history.TierTask(o), true }
func (o oneTask) Pinned() []common.Hash                           { return nil }

// TestPolicyTaskChecked: a task that breaks history.TierPolicy's invariants
// is refused with an error naming it and why, and nothing moves; a good
// one is carried out. The store's boundaries are recent 17, oldest 8 at
// head 40, checkpoint 8.
func TestPolicyTaskChecked(t *testing.T) {
	tests := []struct {
		name string
		task history.TierTask
		want string // the error; empty: the task runs
	}{
		{"thin the next interval", history.TierTask{From: 17, To: 24}, ""},
		{"prune the next interval", history.TierTask{Prune: true, From: 8, To: 16}, ""},
		{"thin off the boundary", history.TierTask{From: 25, To: 32}, "thin blocks 25-32 (checkpoint 32) at head 40 (recent 17, oldest 8): it does not start at the recent tier's first block 17"},
		{"thin two intervals", history.TierTask{From: 17, To: 32}, "it is not one checkpoint interval of 8 blocks"},
		{"thin a partial interval", history.TierTask{From: 17, To: 20}, "it is not one checkpoint interval of 8 blocks"},
		{"prune off the boundary", history.TierTask{Prune: true, From: 0, To: 8}, "it does not start at the oldest block 8"},
		{"prune nothing", history.TierTask{Prune: true, From: 8, To: 8}, "it is empty"},
		{"prune into the recent tier", history.TierTask{Prune: true, From: 8, To: 24}, "prune blocks 8 up to the new oldest block 24 at head 40 (recent 17, oldest 8): it reaches the recent tier at block 17"},
	}
	g := historytest.NewChain(5)
	var blocks []*history.BlockUpdate
	for range 41 {
		blocks = append(blocks, g.Next())
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			cfg := DefaultConfig()
			migrateTo(&cfg, 8, 17, 8)
			s, err := OpenMem(cfg)
			require.NoError(t, err)
			defer s.Close()
			for _, u := range blocks {
				require.NoError(t, s.Ingest(ctx, u))
			}
			migrateAll(t, s, 1000)
			require.Equal(t, uint64(17), s.recent.Load())
			require.Equal(t, uint64(8), s.oldest.Load())
			s.cfg.Policy = oneTask(tc.task)
			res, err := s.Migrate(ctx, 1)
			if tc.want != "" {
				require.ErrorContains(t, err, tc.want)
				require.Nil(t, s.task, "no task started")
				require.Equal(t, uint64(17), s.recent.Load(), "the boundaries did not move")
				require.Equal(t, uint64(8), s.oldest.Load())
				return
			}
			require.NoError(t, err)
			require.True(t, res.More)
			if tc.task.Prune {
				require.Equal(t, tc.task.To, s.oldest.Load(), "the oldest block moved")
			} else {
				require.Equal(t, tc.task.To+1, s.recent.Load(), "the recent tier moved")
			}
		})
	}
}

// TestRetentionNeedsPolicy: with retention on, a Config without a policy,
// or whose Retention pins other accounts than its policy, is refused.
func TestRetentionNeedsPolicy(t *testing.T) {
	a, b := common.HexToHash("0xa"), common.HexToHash("0xb")
	cfg := DefaultConfig()
	require.NoError(t, cfg.Validate(), "retention off needs no policy")
	cfg.Retention = Retention{Recent: 16, Checkpoint: 8, Pinned: []common.Hash{a, b}}
	require.ErrorContains(t, cfg.Validate(), "retention is enabled (recent tier 16 blocks) but no tier policy is set")
	cfg.Policy = fixedTiers{checkpoint: 8, pinned: []common.Hash{a}}
	require.ErrorContains(t, cfg.Validate(), "retention pins 2 accounts and the tier policy 1, not the same ones")
	cfg.Policy = fixedTiers{checkpoint: 8, pinned: []common.Hash{b, a}}
	require.NoError(t, cfg.Validate(), "the same pins in another order")
	cfg.Retention.Pinned = nil
	require.NoError(t, cfg.Validate(), "pins left to the policy")
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
	migrateTo(&cfg, 8, 161, 96) // where Recent 32, Window 64 put head 199's tiers
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
	historytest.CheckState(t, s, g, 5) // rebuilt from checkpoint 0 while half thinned
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
	require.Equal(t, uint64(161), s.recent.Load(), "the policy's recent tier")
	require.Equal(t, uint64(96), oldest, "the policy's oldest block")
	for n := oldest; n <= head.Number; n++ {
		historytest.CheckState(t, s, g, n)
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
			migrateTo(&cfg, 8, 161, 96)
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
				historytest.CheckState(t, s, g, n)
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
	migrateTo(&cfg, 8, 57, 0) // thin up to block 56, prune nothing
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
			historytest.ProveAndVerify(t, trie.StateTrieID(st.Root()), st.Nodes(), k[:])
		}
	}
	checkOpen(b) // still usable after the other handle closed
	require.NoError(t, b.Close())
	historytest.CheckState(t, s, g, n) // a third read, through the cache, verified against the model
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
	migrateTo(&cfg, 8, 281, 0) // 35 intervals to thin, nothing to prune
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
	migrateTo(&cfg, 8, 201, 136)
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
		historytest.CheckState(t, s, g, n)
	}
	checkPruned(t, s)
	checkChangesets(t, s)
	for _, tr := range s.Tiers() {
		if tr.Name != "pinned" {
			require.Positive(t, tr.Bytes, "tier %s", tr.Name)
		}
	}
}
