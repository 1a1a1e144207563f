package store

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/history/historytest"
)

func TestUnwindThenNewBranch(t *testing.T) {
	for _, depth := range []uint64{1, 2, 10} {
		s, err := OpenMem(DefaultConfig())
		require.NoError(t, err)
		ctx := context.Background()
		a := historytest.NewChain(21)
		for range 31 {
			require.NoError(t, s.Ingest(ctx, a.Next()))
		}
		fork := 30 - depth
		require.NoError(t, s.Unwind(ctx, fork))
		head, _ := s.Head()
		require.Equal(t, fork, head.Number)
		require.Equal(t, a.Headers[fork].Hash(), head.Hash)
		_, err = s.NumberByHash(a.Headers[30].Hash())
		require.Error(t, err, "unwound block hash no longer resolves")

		b := a.Fork(fork, 77)
		for range depth + 5 {
			require.NoError(t, s.Ingest(ctx, b.Next()), "new branch after a reorg of depth %d", depth)
		}
		for n := uint64(0); n < uint64(len(b.States)); n++ {
			historytest.CheckState(t, s, b, n) // no version of the old branch shows through
		}
		require.NoError(t, s.Close())
	}
}
