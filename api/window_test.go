package api

import (
	"context"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/stateless"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/history/store"
	"github.com/strata-chain/strata/proofs"
	"github.com/strata-chain/strata/retention"
)

// TestProofHostMethodsInTheWindow serves witnesses and nodes by hash for
// blocks whose state the window tier holds only at checkpoints (every
// third block here) and rebuilds in between: every block's witness executes
// statelessly to its roots, and a walk by hash from each block's state root
// reaches exactly the trie's nodes.
func TestProofHostMethodsInTheWindow(t *testing.T) {
	scfg := store.DefaultConfig()
	scfg.Retention = store.Retention{Recent: 4, Window: 64, Checkpoint: 3}
	scfg.Policy = retention.NewPolicy(scfg.Retention)
	c := newOPChainIn(t, scfg)
	for {
		res, err := c.store.Migrate(context.Background(), 1<<20)
		require.NoError(t, err)
		if !res.More {
			break
		}
	}
	var recentFrom uint64
	for _, tier := range c.store.Tiers() {
		if tier.Name == "recent" {
			recentFrom = tier.Earliest
		}
	}
	require.Greater(t, recentFrom, uint64(3), "blocks moved to the window")

	dc := newTimedDebugClient(c.client)
	ctx := context.Background()
	window := 0
	for n := uint64(1); n <= opBlocks; n++ {
		block, _ := c.block(t, n)
		var ext stateless.ExtWitness
		require.NoError(t, c.client.Call(&ext, "debug_executionWitness", hexutil.Uint64(n)), "block %d", n)
		root, receipts, err := executeStateless(t, c.config, block, &ext)
		require.NoError(t, err, "block %d", n)
		require.Equal(t, block.Root(), root, "block %d", n)
		require.Equal(t, block.ReceiptHash(), receipts, "block %d", n)

		st, err := c.store.StateAt(n)
		require.NoError(t, err)
		want, _, _ := trieNodes(t, st)
		st.Close()
		got := map[common.Hash]bool{}
		queue := []proofs.NodeRef{{Hash: block.Root()}}
		for len(queue) > 0 {
			ref := queue[0]
			queue = queue[1:]
			blob, err := dc.NodeByHash(ctx, ref.Hash)
			require.NoError(t, err, "block %d: node %s at %x/%x", n, ref.Hash, ref.Owner, ref.Path)
			require.Equal(t, ref.Hash, crypto.Keccak256Hash(blob))
			got[ref.Hash] = true
			node, err := proofs.DecodeNode(ref.Owner, ref.Path, blob)
			require.NoError(t, err)
			queue = append(queue, node.Refs...)
		}
		require.Equal(t, want, got, "block %d", n)
		if n < recentFrom && n%3 != 0 {
			window++ // rebuilt from the checkpoint below
		}
	}
	require.Positive(t, window, "some blocks are rebuilt from a checkpoint")
}
