package archive

import (
	"context"
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/ethdb/memorydb"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/history/historytest"
	"github.com/strata-chain/strata/history/store"
)

// smallConfig makes every mechanism turn over within a short chain: files
// of 8 blocks, a full copy every 3rd change, 4 layers held and a flush
// every 4 more.
func smallConfig() Config {
	c := DefaultConfig()
	c.Recent, c.BlocksPerFile, c.FullEvery, c.Layers, c.FlushEvery = 0, 8, 3, 4, 4
	c.BlockCacheBytes, c.CleanCacheBytes = 8<<20, 1<<20
	return c
}

func openTest(t *testing.T, dir string, cfg Config) *Store {
	t.Helper()
	s, err := Open(dir, cfg, nil)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// ingestChain ingests the chain's next blocks up to block `to` (from the
// genesis on a new chain).
func ingestChain(t *testing.T, s *Store, g *historytest.Chain, to int) {
	t.Helper()
	for len(g.Headers) <= to {
		require.NoError(t, s.Ingest(context.Background(), g.Next()))
	}
}

// TestEveryBlockMatchesTheModel ingests a random chain (creations,
// deletions, wiped storage) and checks the state at every block: flat reads
// and proofs verified against the root the model computes on its own.
func TestEveryBlockMatchesTheModel(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		s := openTest(t, t.TempDir(), smallConfig())
		g := historytest.NewChain(seed)
		ingestChain(t, s, g, 60)
		for n := uint64(0); n <= 60; n++ {
			historytest.CheckState(t, s, g, n)
		}
		s.settle() // the background flush asked for last has ended
		u := s.Usage()
		require.Positive(t, u.Flushes, "the disk layer was flushed")
		require.Positive(t, u.HistoryEntries-u.FullEntries, "some versions are diffs")
		require.Greater(t, len(s.hist.Files()), 3, "the log rolled over files")
	}
}

// TestProofsEqualV1 proves the same keys at every block in this store and
// in the v1 store fed the same chain: the proofs are byte-identical.
func TestProofsEqualV1(t *testing.T) {
	s := openTest(t, t.TempDir(), smallConfig())
	v1, err := store.Open(t.TempDir(), store.DefaultConfig(), nil)
	require.NoError(t, err)
	defer v1.Close()
	g := historytest.NewChain(9)
	for range 41 {
		u := g.Next()
		require.NoError(t, s.Ingest(context.Background(), u))
		require.NoError(t, v1.Ingest(context.Background(), u))
	}
	for n := uint64(0); n <= 40; n++ {
		for _, key := range g.Keys {
			require.Equal(t, proofOf(t, v1, n, key[:]), proofOf(t, s, n, key[:]), "proof of %x at block %d", key, n)
		}
	}
}

func proofOf(t *testing.T, r history.Reader, n uint64, key []byte) map[string][]byte {
	t.Helper()
	st, err := r.StateAt(n)
	require.NoError(t, err)
	defer st.Close()
	tr, err := trie.New(trie.StateTrieID(st.Root()), st.Nodes())
	require.NoError(t, err)
	db := memorydb.New()
	require.NoError(t, tr.Prove(key, db))
	out := map[string][]byte{}
	it := db.NewIterator(nil, nil)
	defer it.Release()
	for it.Next() {
		out[string(it.Key())] = append([]byte(nil), it.Value()...)
	}
	return out
}

// TestReopenReplaysTheLayers closes the store with blocks above the disk
// layer (held only as layers) and reopens it: they are replayed from their
// forward updates and every block still proves.
func TestReopenReplaysTheLayers(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, smallConfig(), nil)
	require.NoError(t, err)
	g := historytest.NewChain(4)
	ingestChain(t, s, g, 31)
	disk, _, ok := s.live.Disk()
	require.True(t, ok)
	require.Less(t, disk, uint64(31), "blocks above the disk layer")
	require.NoError(t, s.Close())
	s = openTest(t, dir, smallConfig())
	head, err := s.Head()
	require.NoError(t, err)
	require.Equal(t, uint64(31), head.Number)
	ingestChain(t, s, g, 41)
	for n := uint64(0); n <= 41; n++ {
		historytest.CheckState(t, s, g, n)
	}
}

// TestUnwindWithinTheLayers reorgs inside the layers held and follows a
// fork; a reorg below the disk layer is refused with the reorg class and
// changes nothing.
func TestUnwindWithinTheLayers(t *testing.T) {
	s := openTest(t, t.TempDir(), smallConfig())
	g := historytest.NewChain(5)
	ingestChain(t, s, g, 30)
	disk, _, _ := s.live.Disk()
	err := s.Unwind(disk - 1)
	require.Error(t, err)
	require.Equal(t, history.ClassReorg, history.ClassOf(err), "class of %v", err)
	head, _ := s.Head()
	require.Equal(t, uint64(30), head.Number)

	fork := g.Fork(28, 77)
	require.NoError(t, s.Unwind(28))
	ingestChain(t, s, fork, 34)
	for n := uint64(0); n <= 34; n++ {
		historytest.CheckState(t, s, fork, n)
	}
}

// TestPruningDeletesWholeFiles keeps a recent tier of 20 blocks: older
// states answer PrunedError naming the oldest block, the rest prove.
func TestPruningDeletesWholeFiles(t *testing.T) {
	cfg := smallConfig()
	cfg.Recent = 20
	s := openTest(t, t.TempDir(), cfg)
	g := historytest.NewChain(6)
	ingestChain(t, s, g, 70)
	oldest, err := s.Oldest()
	require.NoError(t, err)
	require.Positive(t, oldest)
	require.LessOrEqual(t, oldest, uint64(70-20))
	first, _, _ := s.hist.Bounds()
	require.Equal(t, oldest+1, first, "the log starts right after the oldest block")
	_, err = s.StateAt(oldest - 1)
	var pruned *history.PrunedError
	require.True(t, errors.As(err, &pruned), "%v", err)
	require.Equal(t, oldest, pruned.Oldest)
	for n := oldest; n <= 70; n++ {
		historytest.CheckState(t, s, g, n)
	}
}
