package catchup

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"math/rand/v2"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethdb/memorydb"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/history/historytest"
	"github.com/strata-chain/strata/history/replay"
	"github.com/strata-chain/strata/history/store"
)

var seedFlag = flag.Uint64("seed", 1, "seed of the random chains")

// ingestRuns ingests blocks 1..n of g by catch-up, in runs of random
// length, on a store that holds block 0.
func ingestRuns(t *testing.T, s *store.Store, g *historytest.Chain, n int, rng *rand.Rand) {
	t.Helper()
	ctx := context.Background()
	for next := 1; next <= n; {
		l := min(1+rng.IntN(48), n-next+1)
		run := make([]*history.BlockUpdate, l)
		for i := range run {
			run[i] = g.Next()
		}
		head, err := s.Head()
		require.NoError(t, err)
		base, err := s.StateAt(head.Number)
		require.NoError(t, err)
		require.NoError(t, replay.Prepare(ctx, base, run, 1+rng.IntN(4)), "run %d-%d", next, next+l-1)
		require.NoError(t, base.Close())
		require.NoError(t, s.IngestBatch(ctx, run))
		next += l
	}
}

// TestCatchupEquivalence ingests the same random chain block by block into
// one store and by catch-up runs into another, and requires identical roots
// and byte-identical proofs at every block, each proof verified against the
// root the model computes from scratch.
func TestCatchupEquivalence(t *testing.T) {
	seed := *seedFlag
	t.Logf("seed %d (rerun with -seed=%d)", seed, seed)
	const blocks = 600
	ctx := context.Background()
	perBlock, err := store.OpenMem(store.DefaultConfig())
	require.NoError(t, err)
	defer perBlock.Close()
	caught, err := store.OpenMem(store.DefaultConfig())
	require.NoError(t, err)
	defer caught.Close()

	ref := historytest.NewChain(seed)
	for range blocks + 1 {
		require.NoError(t, perBlock.Ingest(ctx, ref.Next()))
	}
	g := historytest.NewChain(seed) // the same chain, its own update values
	require.NoError(t, caught.Ingest(ctx, g.Next()))
	ingestRuns(t, caught, g, blocks, rand.New(rand.NewPCG(seed, 3)))

	h1, _ := perBlock.Head()
	h2, _ := caught.Head()
	require.Equal(t, h1, h2)
	d1, err := perBlock.Digest()
	require.NoError(t, err)
	d2, err := caught.Digest()
	require.NoError(t, err)
	require.Equal(t, d1, d2, "the stores hold different versions (deletion markers, changesets, blocks)")
	rng := rand.New(rand.NewPCG(seed, 4))
	for n := uint64(0); n <= blocks; n++ {
		compareProofs(t, perBlock, caught, ref, n, rng)
	}
}

// compareProofs proves a sample of present and absent accounts and slots
// at block n in both stores.
func compareProofs(t *testing.T, a, b *store.Store, g *historytest.Chain, n uint64, rng *rand.Rand) {
	t.Helper()
	want := g.States[n].Root()
	sa, err := a.StateAt(n)
	require.NoError(t, err)
	defer sa.Close()
	sb, err := b.StateAt(n)
	require.NoError(t, err)
	defer sb.Close()
	require.Equal(t, want, sa.Root(), "block %d: per-block root", n)
	require.Equal(t, want, sb.Root(), "block %d: catch-up root", n)
	keys := []common.Hash{common.HexToHash("0xdead")}
	for range 12 {
		keys = append(keys, g.Keys[rng.IntN(len(g.Keys))])
	}
	for _, k := range keys {
		pa, va := prove(t, trie.StateTrieID(want), sa, k)
		pb, vb := prove(t, trie.StateTrieID(want), sb, k)
		require.Equal(t, pa, pb, "block %d account %s: proofs differ", n, k)
		require.Equal(t, va, vb)
		macc, ok := g.States[n][k]
		if !ok {
			require.Nil(t, va, "block %d: %s should be absent", n, k)
			continue
		}
		blob, _ := rlp.EncodeToBytes(macc.StateAccount())
		require.Equal(t, blob, va, "block %d account %s", n, k)
		root := macc.StorageRoot()
		if root == types.EmptyRootHash {
			continue
		}
		for _, slot := range g.Slots[:8] {
			id := trie.StorageTrieID(want, k, root)
			psa, vsa := prove(t, id, sa, slot)
			psb, vsb := prove(t, id, sb, slot)
			require.Equal(t, psa, psb, "block %d slot %s/%s: proofs differ", n, k, slot)
			require.Equal(t, vsa, vsb)
			fa, err := sa.Storage(k, slot)
			require.NoError(t, err)
			fb, err := sb.Storage(k, slot)
			require.NoError(t, err)
			require.Equal(t, macc.Storage[slot], fa, "block %d flat slot %s/%s (per block)", n, k, slot)
			require.Equal(t, macc.Storage[slot], fb, "block %d flat slot %s/%s (catch-up)", n, k, slot)
		}
	}
}

// prove builds the proof of key in the trie id over st's nodes, verifies it
// against the trie's root and returns the proof's nodes in order and the
// proven value (nil for an exclusion proof).
func prove(t *testing.T, id *trie.ID, st history.State, key common.Hash) ([][]byte, []byte) {
	t.Helper()
	tr, err := trie.NewStateTrie(id, st.Nodes())
	require.NoError(t, err)
	db := memorydb.New()
	var list proofList
	require.NoError(t, tr.Prove(key[:], &list))
	for _, n := range list {
		require.NoError(t, db.Put(crypto.Keccak256(n), n))
	}
	val, err := trie.VerifyProof(id.Root, key[:], db)
	require.NoError(t, err)
	return list, val
}

// TestCatchupRootMismatch: a run whose block claims a wrong root fails with
// the block named, and the store does not move.
func TestCatchupRootMismatch(t *testing.T) {
	ctx := context.Background()
	s, err := store.OpenMem(store.DefaultConfig())
	require.NoError(t, err)
	defer s.Close()
	g := historytest.NewChain(9)
	require.NoError(t, s.Ingest(ctx, g.Next()))
	run := make([]*history.BlockUpdate, 20)
	for i := range run {
		run[i] = g.Next()
	}
	// Re-chain from block 12 on with a wrong root, as a lying upstream would.
	run[11].Header.Root = common.HexToHash("0xbad")
	for i := 12; i < len(run); i++ {
		run[i].Header.ParentHash = run[i-1].Header.Hash()
	}
	base, err := s.StateAt(0)
	require.NoError(t, err)
	defer base.Close()
	err = replay.Prepare(ctx, base, run, 2)
	var mismatch *history.RootMismatchError
	require.True(t, errors.As(err, &mismatch), "got %v", err)
	require.Equal(t, uint64(12), mismatch.Number)
	require.Equal(t, common.HexToHash("0xbad"), mismatch.Want)
	head, _ := s.Head()
	require.Equal(t, uint64(0), head.Number)

	// A batch whose nodes do not produce its header's root is refused by the
	// store too, whoever prepared it.
	g2 := historytest.NewChain(9)
	g2.Next()
	good := make([]*history.BlockUpdate, 3)
	for i := range good {
		good[i] = g2.Next()
	}
	require.NoError(t, replay.Prepare(ctx, base, good, 2))
	good[2].Header.Root = common.HexToHash("0xbad")
	require.True(t, errors.As(s.IngestBatch(ctx, good), &mismatch))
	head, _ = s.Head()
	require.Equal(t, uint64(0), head.Number, "nothing of a refused batch commits")
}

type proofList [][]byte

func (l *proofList) Put(_ []byte, v []byte) error {
	*l = append(*l, bytes.Clone(v))
	return nil
}
func (l *proofList) Delete([]byte) error { return errors.New("not supported") }
