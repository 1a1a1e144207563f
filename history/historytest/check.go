package historytest

import (
	"errors"
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
)

// Checks of a store against the model, shared by the engine's tests and
// the tier tests of retention. Every proof is made with go-ethereum's trie
// over the store's nodes and verified with trie.VerifyProof against the
// root the model computes independently.

// TieredReader is what the checks read: states by block, the head and the
// oldest block whose full state is held.
type TieredReader interface {
	Head() (history.Head, error)
	Oldest() (uint64, error)
	StateAt(n uint64) (history.State, error)
}

// ProveAndVerify proves key in the trie id over nodes and verifies the
// proof against id's root, returning the proven value (nil for absence).
func ProveAndVerify(t testing.TB, id *trie.ID, nodes database.NodeDatabase, key []byte) []byte {
	t.Helper()
	tr, err := trie.New(id, nodes)
	require.NoError(t, err)
	proof := memorydb.New()
	require.NoError(t, tr.Prove(key, proof))
	val, err := trie.VerifyProof(id.Root, key, proof)
	require.NoError(t, err, "proof of %x against %s", key, id.Root)
	return val
}

// CheckAccount checks account a of st against the model m: its flat value
// and its proof, and each of slots, read flat and proven.
func CheckAccount(t testing.TB, st history.State, m Model, slots []common.Hash, a common.Hash) {
	t.Helper()
	root := st.Root()
	acc, err := st.Account(a)
	require.NoError(t, err)
	val := ProveAndVerify(t, trie.StateTrieID(root), st.Nodes(), a[:])
	macc, present := m[a]
	if !present {
		require.Nil(t, acc, "account %s should be absent", a)
		require.Nil(t, val, "the exclusion proof of %s proves a value", a)
		return
	}
	blob, err := rlp.EncodeToBytes(macc.StateAccount())
	require.NoError(t, err)
	require.Equal(t, blob, val, "account %s proven value", a)
	require.Equal(t, macc.Nonce, acc.Nonce)
	require.Equal(t, macc.Balance, acc.Balance)
	require.Equal(t, macc.StorageRoot(), acc.Root)
	for _, slot := range slots {
		v, err := st.Storage(a, slot)
		require.NoError(t, err)
		require.Equal(t, macc.Storage[slot], v, "slot %s/%s", a, slot)
		if acc.Root == types.EmptyRootHash {
			require.Empty(t, macc.Storage)
			continue // nothing to prove in an empty trie; geth answers proof: []
		}
		pv := ProveAndVerify(t, trie.StorageTrieID(root, a, acc.Root), st.Nodes(), slot[:])
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

// CheckState checks the state at block n against the model: the root,
// and flat reads and proofs of up to 40 accounts (all of them in a smaller
// chain) and one never used, with 16 slots each.
func CheckState(t testing.TB, r TieredReader, g *Chain, n uint64) {
	t.Helper()
	st, err := r.StateAt(n)
	require.NoError(t, err, "state at block %d", n)
	defer st.Close()
	require.Equal(t, g.States[n].Root(), st.Root(), "root at block %d", n)
	prng := rand.New(rand.NewPCG(n, 42)) // not the chain's: checks must not change it
	probe := g.Keys
	if len(probe) > 40 {
		probe = make([]common.Hash, 0, 41)
		for range 40 {
			probe = append(probe, g.Keys[prng.IntN(len(g.Keys))])
		}
	}
	probe = append(probe[:len(probe):len(probe)], common.HexToHash("0xdead")) // never used
	for _, a := range probe {
		CheckAccount(t, st, g.States[n], g.Slots[:16], a)
	}
}

// CheckTiers checks every block of the store against the model: full
// state at and above the oldest block (every block near the tier edges, a
// fifth elsewhere), and below it the pinned accounts only, with any other
// account answering *history.PrunedError naming the oldest block.
func CheckTiers(t testing.TB, r TieredReader, g *Chain, pinned []common.Hash, rng *rand.Rand) {
	t.Helper()
	head, err := r.Head()
	require.NoError(t, err)
	oldest, err := r.Oldest()
	require.NoError(t, err)
	for n := uint64(0); n <= head.Number; n++ {
		if n >= oldest {
			if n%5 == 0 || n+50 > head.Number || n < oldest+10 {
				CheckState(t, r, g, n)
			}
			continue
		}
		st, err := r.StateAt(n)
		require.NoError(t, err, "block %d below the window still serves pinned accounts", n)
		require.Equal(t, g.States[n].Root(), st.Root())
		for _, a := range pinned {
			CheckAccount(t, st, g.States[n], g.Slots[:8], a)
		}
		other := g.Keys[2+rng.IntN(len(g.Keys)-2)]
		_, err = st.Account(other)
		var pruned *history.PrunedError
		require.True(t, errors.As(err, &pruned), "block %d: unpinned account below the window: got %v", n, err)
		require.Equal(t, oldest, pruned.Oldest)
		require.NoError(t, st.Close())
	}
}
