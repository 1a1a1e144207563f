package retention

import (
	"context"
	"errors"
	"flag"
	"math/rand/v2"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethdb/memorydb"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/ethereum/go-ethereum/triedb/database"
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
			checkTiers(t, s, g, pinned, rng)
		}
	}
	migrateAll(t, s, 1000)
	checkTiers(t, s, g, pinned, rng)
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
	checkState(t, s, g, head.Number)
	oldest, err := s.Oldest()
	require.NoError(t, err)
	require.Equal(t, uint64(1088), oldest, "head 1199: recent from (1199-32)/16*16+1 = 1153, oldest (1153-64)/16*16")
	checkState(t, s, g, oldest)
	checkState(t, s, g, oldest+5) // rebuilt between checkpoints
}

// checkTiers checks every block of the store against the model: full
// state at and above the oldest block (every block near the tier edges, a
// fifth elsewhere), pinned accounts only below it.
func checkTiers(t *testing.T, s *store.Store, g *historytest.Chain, pinned []common.Hash, rng *rand.Rand) {
	t.Helper()
	head, err := s.Head()
	require.NoError(t, err)
	oldest, err := s.Oldest()
	require.NoError(t, err)
	for n := uint64(0); n <= head.Number; n++ {
		if n >= oldest {
			if n%5 == 0 || n+50 > head.Number || n < oldest+10 {
				checkState(t, s, g, n)
			}
			continue
		}
		st, err := s.StateAt(n)
		require.NoError(t, err, "block %d below the window still serves pinned accounts", n)
		require.Equal(t, g.States[n].Root(), st.Root())
		for _, a := range pinned {
			checkAccount(t, st, g.States[n], g.Slots[:8], a)
		}
		other := g.Keys[2+rng.IntN(len(g.Keys)-2)]
		_, err = st.Account(other)
		var pruned *history.PrunedError
		require.True(t, errors.As(err, &pruned), "block %d: unpinned account below the window: got %v", n, err)
		require.Equal(t, oldest, pruned.Oldest)
		require.NoError(t, st.Close())
	}
}

// checkState checks the store's state at block n against the model: the
// root, and flat reads and proofs of up to 40 accounts and one never used.
func checkState(t *testing.T, s *store.Store, g *historytest.Chain, n uint64) {
	t.Helper()
	st, err := s.StateAt(n)
	require.NoError(t, err, "state at block %d", n)
	defer st.Close()
	require.Equal(t, g.States[n].Root(), st.Root(), "root at block %d", n)
	prng := rand.New(rand.NewPCG(n, 42)) // not the chain's: checks must not change it
	probe := []common.Hash{common.HexToHash("0xdead")}
	for range min(40, len(g.Keys)) {
		probe = append(probe, g.Keys[prng.IntN(len(g.Keys))])
	}
	for _, a := range probe {
		checkAccount(t, st, g.States[n], g.Slots[:16], a)
	}
}

// checkAccount checks account a of st against the model m: its flat value
// and its proof, and each of slots, read flat and proven.
func checkAccount(t *testing.T, st history.State, m historytest.Model, slots []common.Hash, a common.Hash) {
	t.Helper()
	root := st.Root()
	acc, err := st.Account(a)
	require.NoError(t, err)
	val := proveAndVerify(t, trie.StateTrieID(root), st.Nodes(), a[:])
	macc, present := m[a]
	if !present {
		require.Nil(t, acc, "account %s should be absent", a)
		require.Nil(t, val, "the exclusion proof of %s proves a value", a)
		return
	}
	blob, err := rlp.EncodeToBytes(macc.StateAccount())
	require.NoError(t, err)
	require.Equal(t, blob, val, "account %s proven value", a)
	require.Equal(t, macc.StorageRoot(), acc.Root)
	for _, slot := range slots {
		v, err := st.Storage(a, slot)
		require.NoError(t, err)
		require.Equal(t, macc.Storage[slot], v, "slot %s/%s", a, slot)
		if acc.Root == types.EmptyRootHash {
			continue // nothing to prove in an empty trie
		}
		pv := proveAndVerify(t, trie.StorageTrieID(root, a, acc.Root), st.Nodes(), slot[:])
		want := macc.Storage[slot]
		if want == (common.Hash{}) {
			require.Nil(t, pv)
			continue
		}
		leaf, err := rlp.EncodeToBytes(common.TrimLeftZeroes(want[:]))
		require.NoError(t, err)
		require.Equal(t, leaf, pv)
	}
}

// proveAndVerify proves key in the trie id over nodes and verifies the
// proof against the root, returning the proven value (nil for absence).
func proveAndVerify(t *testing.T, id *trie.ID, nodes database.NodeDatabase, key []byte) []byte {
	t.Helper()
	tr, err := trie.New(id, nodes)
	require.NoError(t, err)
	proof := memorydb.New()
	require.NoError(t, tr.Prove(key, proof))
	val, err := trie.VerifyProof(id.Root, key, proof)
	require.NoError(t, err, "proof of %x against %s", key, id.Root)
	return val
}
