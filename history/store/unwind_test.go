package store

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// fork returns a generator that shares g's chain up to block n and then
// draws a different future.
func (g *chainGen) fork(n uint64, seed uint64) *chainGen {
	return &chainGen{
		rng:     rand.New(rand.NewPCG(seed, seed+1)),
		states:  slices.Clone(g.states[:n+1]),
		headers: slices.Clone(g.headers[:n+1]),
		keys:    slices.Clone(g.keys),
		slots:   g.slots,
	}
}

func TestUnwindThenNewBranch(t *testing.T) {
	for _, depth := range []uint64{1, 2, 10} {
		s, err := OpenMem(DefaultConfig())
		require.NoError(t, err)
		ctx := context.Background()
		a := newChainGen(21)
		for range 31 {
			require.NoError(t, s.Ingest(ctx, a.next()))
		}
		fork := 30 - depth
		require.NoError(t, s.Unwind(ctx, fork))
		head, _ := s.Head()
		require.Equal(t, fork, head.Number)
		require.Equal(t, a.headers[fork].Hash(), head.Hash)
		_, err = s.NumberByHash(a.headers[30].Hash())
		require.Error(t, err, "unwound block hash no longer resolves")

		b := a.fork(fork, 77)
		for range depth + 5 {
			require.NoError(t, s.Ingest(ctx, b.next()), "new branch after a reorg of depth %d", depth)
		}
		for n := uint64(0); n < uint64(len(b.states)); n++ {
			checkState(t, s, b, n) // no version of the old branch shows through
		}
		require.NoError(t, s.Close())
	}
}
