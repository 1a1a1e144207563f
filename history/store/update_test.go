package store

import (
	"context"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/history/historytest"
)

// TestUpdateAtRebuildsBlocks ingests a random history, rebuilds every
// block's update from the changesets and ingests those into a second store:
// each must pass the root check and give the same block.
func TestUpdateAtRebuildsBlocks(t *testing.T) {
	ctx := context.Background()
	g := historytest.NewChain(*seedFlag + 7)
	src, err := OpenMem(DefaultConfig())
	require.NoError(t, err)
	defer src.Close()
	dst, err := OpenMem(DefaultConfig())
	require.NoError(t, err)
	defer dst.Close()
	const blocks = 120
	for i := 0; i < blocks; i++ {
		require.NoError(t, src.Ingest(ctx, g.Next()))
	}
	for n := uint64(0); n < blocks; n++ {
		u, err := src.UpdateAt(n)
		require.NoError(t, err, "block %d", n)
		require.NoError(t, dst.Ingest(ctx, u), "rebuilt block %d must pass the root check", n)
		a, err := src.Head()
		require.NoError(t, err)
		b, err := dst.Head()
		require.NoError(t, err)
		require.LessOrEqual(t, b.Number, a.Number)
	}
	a, _ := src.Head()
	b, _ := dst.Head()
	require.Equal(t, a, b)
	for n := uint64(0); n < blocks; n += 17 {
		historytest.CheckState(t, dst, g, n)
	}
}

// TestGenesisStateExport bulk-loads a store's block 0 into another store.
func TestGenesisStateExport(t *testing.T) {
	ctx := context.Background()
	g := historytest.NewChain(*seedFlag + 11)
	src, err := OpenMem(DefaultConfig())
	require.NoError(t, err)
	defer src.Close()
	for i := 0; i < 5; i++ {
		require.NoError(t, src.Ingest(ctx, g.Next()))
	}
	exp, err := src.GenesisState()
	require.NoError(t, err)
	defer exp.Close()
	dst, err := OpenMem(DefaultConfig())
	require.NoError(t, err)
	defer dst.Close()
	h0, err := src.HeaderByNumber(0)
	require.NoError(t, err)
	hdr := types.CopyHeader(h0)
	hdr.Root = common.Hash{}
	sealed, err := dst.LoadGenesis(ctx, exp, hdr, nil)
	require.NoError(t, err)
	require.Equal(t, h0.Hash(), sealed.Hash(), "the exported genesis state rebuilds block 0")
	for n := uint64(1); n < 5; n++ {
		u, err := src.UpdateAt(n)
		require.NoError(t, err)
		require.NoError(t, dst.Ingest(ctx, u))
	}
}
