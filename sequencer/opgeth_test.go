package sequencer

import (
	"context"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/beacon/engine"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/history/store"
	enginecl "github.com/strata-chain/strata/sequencer/engine"
	"github.com/strata-chain/strata/sequencer/engine/opgethtest"
)

// TestOpGethAcceptsBlocks hands every block the in-process sequencer makes at
// 1 s to a real op-geth through engine_newPayloadV4: each must come back
// VALID, and op-geth must then serve the same block hash, the same receipts
// root and the same L1-attributes deposit. The run crosses Jovian's
// activation and several synthetic L1 epochs with user deposits, under the
// mixed load.
func TestOpGethAcceptsBlocks(t *testing.T) {
	cfg := DefaultConfig()
	cfg.BlockTime = time.Second
	cfg.Load = LoadConfig{GasPerSecond: 3_000_000, Seed: 7, Accounts: 8}
	jovian := uint64(6)
	cfg.Forks = Forks{JovianAfter: &jovian}
	cfg.L1BlockTime = 4 * time.Second
	cfg.DepositsPerEpoch = 2
	seq, s, node, cl := withOpGeth(t, cfg)
	ctx := context.Background()

	var gethGenesis struct {
		Hash common.Hash `json:"hash"`
	}
	require.NoError(t, node.RPC.CallContext(ctx, &gethGenesis, "eth_getBlockByNumber", "0x0", false))
	require.Equal(t, seq.Head().Hash(), gethGenesis.Hash, "op-geth's genesis from the same file must be Strata's")

	const blocks = 12
	deposits, userTxs := 0, 0
	for n := uint64(1); n <= blocks; n++ {
		info, err := seq.stepFed(ctx, time.UnixMilli(int64(seq.BlockMillis(n))))
		require.NoError(t, err)
		h, err := s.HeaderByNumber(n)
		require.NoError(t, err)
		body, err := s.Body(n)
		require.NoError(t, err)
		block := types.NewBlockWithHeader(h).WithBody(types.Body{Transactions: body, Withdrawals: types.Withdrawals{}})
		require.True(t, body[0].IsDepositTx(), "block %d opens with the L1-attributes deposit", n)
		for _, tx := range body {
			if tx.IsDepositTx() {
				deposits++
			} else {
				userTxs++
			}
		}
		env := engine.BlockToExecutableData(block, new(big.Int), nil, [][]byte{})
		status, err := cl.NewPayload(ctx, env.ExecutionPayload, *h.ParentBeaconRoot, true)
		require.NoError(t, err)
		require.Equal(t, engine.VALID, status.Status, "block %d (%d txs): %v", n, info.Txs, status.ValidationError)
		_, err = cl.ForkchoiceUpdated(ctx, engine.ForkchoiceStateV1{HeadBlockHash: h.Hash(), SafeBlockHash: h.Hash(), FinalizedBlockHash: h.Hash()}, nil)
		require.NoError(t, err)

		var theirs struct {
			Hash         common.Hash    `json:"hash"`
			ReceiptsRoot common.Hash    `json:"receiptsRoot"`
			BlobGasUsed  hexutil.Uint64 `json:"blobGasUsed"`
		}
		require.NoError(t, node.RPC.CallContext(ctx, &theirs, "eth_getBlockByNumber", hexutil.Uint64(n), false))
		require.Equal(t, h.Hash(), theirs.Hash, "block %d", n)
		var receipts types.Receipts
		require.NoError(t, node.RPC.CallContext(ctx, &receipts, "eth_getBlockReceipts", hexutil.Uint64(n)))
		require.Equal(t, h.ReceiptHash, types.DeriveSha(receipts, trie.NewStackTrie(nil)), "block %d: op-geth's receipts hash to our root", n)
	}
	require.Greater(t, userTxs, blocks, "the load made user transactions")
	require.Greater(t, deposits, blocks, "user deposits came with the epochs")
	last, err := s.HeaderByNumber(blocks)
	require.NoError(t, err)
	require.True(t, seq.ChainConfig().IsJovian(last.Time), "the run crossed Jovian's activation")
	first, err := s.HeaderByNumber(1)
	require.NoError(t, err)
	require.False(t, seq.ChainConfig().IsJovian(first.Time))
	t.Logf("op-geth accepted %d blocks (%d deposits, %d user transactions), Jovian active from %d", blocks, deposits, userTxs, *seq.ChainConfig().JovianTime)
}

// TestOpGethRefusesSharedTimestamps measures what the README says: at
// 200 ms under the seconds policy a block shares its parent's timestamp, and
// stock op-geth refuses it.
func TestOpGethRefusesSharedTimestamps(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Load.GasPerSecond = 0
	seq, s, _, cl := withOpGeth(t, cfg)
	ctx := context.Background()
	_, err := seq.step(ctx, time.UnixMilli(int64(seq.BlockMillis(1))))
	require.NoError(t, err)
	h, err := s.HeaderByNumber(1)
	require.NoError(t, err)
	g, err := s.HeaderByNumber(0)
	require.NoError(t, err)
	require.Equal(t, g.Time, h.Time, "200 ms after genesis is the same whole second")
	body, err := s.Body(1)
	require.NoError(t, err)
	block := types.NewBlockWithHeader(h).WithBody(types.Body{Transactions: body, Withdrawals: types.Withdrawals{}})
	env := engine.BlockToExecutableData(block, new(big.Int), nil, [][]byte{})
	status, err := cl.NewPayload(ctx, env.ExecutionPayload, *h.ParentBeaconRoot, true)
	if err == nil {
		require.NotEqual(t, engine.VALID, status.Status, "op-geth must refuse a block with its parent's timestamp")
		t.Logf("op-geth: %s %v", status.Status, ptrString(status.ValidationError))
	} else {
		t.Logf("op-geth: %v", err)
	}
}

func ptrString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// withOpGeth opens an in-memory chain with cfg's genesis under a test
// sequencer, and starts a real op-geth from the same genesis with an Engine
// API client to it.
func withOpGeth(t *testing.T, cfg Config) (*Sequencer, *store.Store, *opgethtest.Node, *enginecl.Client) {
	t.Helper()
	s, err := store.OpenMem(store.DefaultConfig())
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	seq := newTestSequencer(t, cfg, s)
	g, err := Genesis(cfg, seq.BlockMillis(0))
	require.NoError(t, err)
	node := opgethtest.Start(t, g)
	cl := enginecl.New(enginecl.Config{URL: node.AuthURL, JWTSecretPath: node.JWTPath})
	require.NoError(t, cl.Start(context.Background()))
	t.Cleanup(cl.Stop)
	return seq, s, node, cl
}
