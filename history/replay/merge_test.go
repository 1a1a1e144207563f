package replay_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/history/historytest"
	"github.com/strata-chain/strata/history/replay"
	"github.com/strata-chain/strata/history/store"
)

// TestMergeRebuild: rebuilding block n from a state at c with the blocks
// c+1..n merged into one update reproduces n's root and n's state read for
// read, for random ranges of a random chain whose accounts are deleted,
// wiped, re-created and deleted again.
func TestMergeRebuild(t *testing.T) {
	ctx := context.Background()
	g := historytest.NewChain(5)
	s, err := store.OpenMem(store.DefaultConfig())
	require.NoError(t, err)
	defer s.Close()
	const blocks = 400
	for range blocks + 1 {
		require.NoError(t, s.Ingest(ctx, g.Next()))
	}
	rng := rand.New(rand.NewPCG(5, 6))
	resurrected := 0
	for range 150 {
		c := rng.Uint64N(blocks - 1)
		n := c + 1 + rng.Uint64N(min(16, blocks-c))
		var us []*history.BlockUpdate
		deleted := map[[32]byte]bool{}
		for k := c + 1; k <= n; k++ {
			u, err := s.UpdateAt(k)
			require.NoError(t, err)
			for a, ch := range u.Accounts {
				if ch.Deleted {
					deleted[a] = true
				} else if deleted[a] {
					resurrected++
				}
			}
			us = append(us, u)
		}
		base, err := s.StateAt(c)
		require.NoError(t, err)
		st, err := replay.Rebuild(ctx, base, []*history.BlockUpdate{replay.Merge(us)}, 2)
		require.NoError(t, err, "blocks %d-%d merged", c+1, n)
		require.Equal(t, g.States[n].Root(), st.Root())
		for _, a := range g.Keys {
			acc, err := st.Account(a)
			require.NoError(t, err)
			m, ok := g.States[n][a]
			if !ok {
				require.Nil(t, acc, "block %d account %s", n, a)
				continue
			}
			require.Equal(t, m.StateAccount(), acc, "block %d account %s", n, a)
			for _, slot := range g.Slots {
				v, err := st.Storage(a, slot)
				require.NoError(t, err)
				require.Equal(t, m.Storage[slot], v, "block %d account %s slot %s", n, a, slot)
			}
		}
		require.NoError(t, st.Close())
	}
	t.Logf("%d accounts came back after a deletion inside a merged range", resurrected)
	require.Positive(t, resurrected, "the chain exercises re-created accounts")
}
