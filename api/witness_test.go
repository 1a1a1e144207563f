package api

import (
	"context"
	"encoding/json"
	"sort"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/stateless"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/stretchr/testify/require"
)

// executeStateless runs go-ethereum's stateless execution of block from the
// witness alone and returns the state and receipts roots it computes.
func executeStateless(t *testing.T, config *params.ChainConfig, block *types.Block, ext *stateless.ExtWitness) (common.Hash, common.Hash, error) {
	t.Helper()
	var w stateless.Witness
	require.NoError(t, w.FromExtWitness(ext))
	// The stateless runner computes the roots itself: hand it the block
	// with both zeroed, as op-geth's self-validation does.
	h := block.Header()
	h.Root, h.ReceiptHash = common.Hash{}, common.Hash{}
	task := types.NewBlockWithHeader(h).WithBody(*block.Body())
	return core.ExecuteStateless(context.Background(), config, vm.Config{}, task, &w)
}

// TestExecutionWitnessExecutesStatelessly takes, for every block of an OP
// chain (deposits, contract creation, transfers, Isthmus and Jovian
// activating), only Strata's debug_executionWitness and re-executes the
// block with go-ethereum's stateless execution: the state root and
// receipts root equal the header's. Removing any single trie node or code
// the execution needs makes it fail.
func TestExecutionWitnessExecutesStatelessly(t *testing.T) {
	c := newOPChain(t)
	var latencies []time.Duration
	required, superfluous := 0, 0
	for n := uint64(1); n <= opBlocks; n++ {
		block, _ := c.block(t, n)
		var raw json.RawMessage
		start := time.Now()
		require.NoError(t, c.client.Call(&raw, "debug_executionWitness", hexutil.Uint64(n)))
		latencies = append(latencies, time.Since(start))
		var ext stateless.ExtWitness
		require.NoError(t, json.Unmarshal(raw, &ext))
		require.NotEmpty(t, ext.State, "block %d", n)
		require.NotEmpty(t, ext.Headers, "block %d", n)
		require.Equal(t, block.ParentHash(), ext.Headers[0].Hash(), "the first header is the parent")
		var shape map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(raw, &shape))
		require.ElementsMatch(t, []string{"headers", "codes", "state", "keys"}, keys(shape), "op-geth's ExtWitness fields")

		root, receipts, err := executeStateless(t, c.config, block, &ext)
		require.NoError(t, err, "block %d", n)
		require.Equal(t, block.Root(), root, "block %d: stateless state root", n)
		require.Equal(t, block.ReceiptHash(), receipts, "block %d: stateless receipts root", n)

		// Take out one node at a time: the stateless run must fail or
		// miss the header's roots, unless the node is not needed at all.
		for i := range ext.State {
			cut := ext
			cut.State = append(append([]hexutil.Bytes{}, ext.State[:i]...), ext.State[i+1:]...)
			r, rr, err := executeStateless(t, c.config, block, &cut)
			if err != nil || r != block.Root() || rr != block.ReceiptHash() {
				required++
			} else {
				superfluous++
				t.Logf("block %d: node %x is not needed", n, crypto.Keccak256(ext.State[i]))
			}
		}
		for i := range ext.Codes {
			cut := ext
			cut.Codes = append(append([]hexutil.Bytes{}, ext.Codes[:i]...), ext.Codes[i+1:]...)
			r, _, err := executeStateless(t, c.config, block, &cut)
			require.True(t, err != nil || r != block.Root(), "block %d: the witness without code %d still executes", n, i)
		}
	}
	require.Zero(t, superfluous, "every node of the witness is needed (%d needed)", required)
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	t.Logf("witness: %d blocks, every one of %d nodes needed; latency p50 %s max %s", opBlocks, required, latencies[len(latencies)/2], latencies[len(latencies)-1])
}
