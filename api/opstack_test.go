package api

import (
	"context"
	"encoding/json"
	"math/big"
	"testing"

	"github.com/ethereum-optimism/optimism/op-node/rollup"
	"github.com/ethereum-optimism/optimism/op-node/rollup/derive"
	"github.com/ethereum-optimism/optimism/op-service/client"
	"github.com/ethereum-optimism/optimism/op-service/eth"
	"github.com/ethereum-optimism/optimism/op-service/sources"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/history/chain"
	"github.com/strata-chain/strata/history/historytest"
	"github.com/strata-chain/strata/history/store"
	"github.com/strata-chain/strata/proofs"
)

// TestOPChain serves an OP Stack chain (see newOPChain) and reads it with
// op-node's and op-geth's own clients and decoders.
func TestOPChain(t *testing.T) {
	c := newOPChain(t)
	ctx := context.Background()
	rollupClient := sources.NewRollupClient(client.NewBaseRPCClient(c.client))

	t.Run("rollup config", func(t *testing.T) {
		want, err := json.Marshal(c.rollup)
		require.NoError(t, err)
		require.Equal(t, string(want), rawCall(c.client, "optimism_rollupConfig"), "the struct's own JSON, as op-node serves it")
		got, err := rollupClient.RollupConfig(ctx)
		require.NoError(t, err)
		require.Equal(t, c.rollup, got)
	})

	t.Run("chain config", func(t *testing.T) {
		want, err := json.Marshal(c.config)
		require.NoError(t, err)
		require.Equal(t, string(want), rawCall(c.client, "debug_chainConfig"), "the struct's own JSON, as op-geth serves it")
		var got params.ChainConfig
		require.NoError(t, c.client.Call(&got, "debug_chainConfig"))
		require.Equal(t, c.config, &got)
	})

	t.Run("outputs", func(t *testing.T) {
		// The L1-attributes calldata changes format after each fork's
		// activation block.
		for n, want := range map[uint64]int{opIsthmusBlock: 164, opIsthmusBlock + 1: types.IsthmusL1AttributesLen, opJovianBlock: types.IsthmusL1AttributesLen, opJovianBlock + 1: types.JovianL1AttributesLen} {
			block, _ := c.block(t, n)
			require.Len(t, block.Transactions()[0].Data(), want, "block %d", n)
		}
		head := c.refs[opBlocks]
		for n := uint64(0); n <= opBlocks; n++ {
			out, err := rollupClient.OutputAtBlock(ctx, n)
			require.NoError(t, err, "block %d", n)
			o, err := proofs.OutputAt(c.store, n)
			require.NoError(t, err)
			require.Equal(t, o.OutputRoot, common.Hash(out.OutputRoot), "block %d", n)
			require.Equal(t, o.StateRoot, out.StateRoot)
			require.Equal(t, o.WithdrawalStorageRoot, out.WithdrawalStorageRoot)
			require.Equal(t, c.refs[n], out.BlockRef, "block %d: the L1 origin and sequence number op-node gave it", n)
			if n > 0 {
				block, _ := c.block(t, n)
				ref, err := derive.L2BlockToBlockRef(c.rollup, block)
				require.NoError(t, err)
				require.Equal(t, ref, out.BlockRef)
			}
			require.Equal(t, head, out.Status.UnsafeL2)
		}
		status, err := rollupClient.SyncStatus(ctx)
		require.NoError(t, err)
		require.Equal(t, head, status.UnsafeL2)
		require.Equal(t, head, status.SafeL2)
		require.Equal(t, head, status.FinalizedL2)
		require.NotZero(t, head.SequenceNumber)
	})

	t.Run("raw receipts", func(t *testing.T) {
		checkRawReceipts(t, c.client, c.store, opBlocks)
	})

	t.Run("transactions and receipts", func(t *testing.T) {
		deposits, transfers := 0, 0
		for n := uint64(1); n <= opBlocks; n++ {
			block, _ := c.block(t, n)
			var full struct {
				Transactions []json.RawMessage `json:"transactions"`
			}
			require.NoError(t, json.Unmarshal([]byte(rawCall(c.client, "eth_getBlockByNumber", hexutil.Uint64(n), true)), &full))
			require.Len(t, full.Transactions, len(block.Transactions()))
			for i, tx := range block.Transactions() {
				raw := rawCall(c.client, "eth_getTransactionByHash", tx.Hash())
				require.JSONEq(t, raw, string(full.Transactions[i]), "block %d tx %d: the block shows the same object", n, i)
				receipt := rawCall(c.client, "eth_getTransactionReceipt", tx.Hash())
				if tx.IsDepositTx() {
					checkDepositJSON(t, c, block, i, raw, receipt)
					deposits++
				} else {
					checkL2TxJSON(t, c, block, i, raw, receipt)
					transfers++
				}
			}
		}
		require.Equal(t, opBlocks+3*2, deposits)
		require.Equal(t, 2*(opBlocks-2), transfers)
	})
}

// fields decodes a JSON object into its raw fields.
func fields(t *testing.T, raw string) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(raw), &m), raw)
	return m
}

func quoted(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

var (
	rpcTxKeys      = []string{"blockHash", "blockNumber", "blockTimestamp", "from", "gas", "gasPrice", "hash", "input", "nonce", "to", "transactionIndex", "value", "type", "v", "r", "s"}
	rpcReceiptKeys = []string{"blockHash", "blockNumber", "transactionHash", "transactionIndex", "from", "to", "gasUsed", "cumulativeGasUsed", "contractAddress", "logs", "logsBloom", "type", "effectiveGasPrice", "status"}
)

// checkDepositJSON checks a deposit and its receipt as op-geth shows them:
// no signature (v, r, s zero, no yParity or chainId), a zero gas price, the
// source hash, the mint when there is one, isSystemTx only when true, the
// nonce its receipt records and, from Canyon, the receipt version; the
// receipt has the nonce and version and no L1 fee fields, and a creating
// deposit's contract address comes from that nonce.
func checkDepositJSON(t *testing.T, c *opChain, block *types.Block, i int, rawTx, rawReceipt string) {
	t.Helper()
	tx := block.Transactions()[i]
	nonce := c.nonces[tx.Hash()]
	from, err := types.Sender(types.LatestSigner(c.config), tx)
	require.NoError(t, err)

	got := fields(t, rawTx)
	want := append(append([]string{}, rpcTxKeys...), "sourceHash", "depositReceiptVersion")
	if tx.Mint() != nil {
		want = append(want, "mint")
		require.Equal(t, quoted((*hexutil.Big)(tx.Mint())), string(got["mint"]))
	}
	require.ElementsMatch(t, want, keys(got), rawTx)
	for k, v := range map[string]string{
		"type": `"0x7e"`, "v": `"0x0"`, "r": `"0x0"`, "s": `"0x0"`, "gasPrice": `"0x0"`,
		"nonce": quoted(hexutil.Uint64(nonce)), "depositReceiptVersion": `"0x1"`,
		"sourceHash": quoted(tx.SourceHash()), "from": quoted(from), "to": quoted(tx.To()),
		"value": quoted((*hexutil.Big)(tx.Value())), "gas": quoted(hexutil.Uint64(tx.Gas())),
	} {
		require.Equal(t, v, string(got[k]), "%s of %s", k, rawTx)
	}
	var dec types.Transaction
	require.NoError(t, json.Unmarshal([]byte(rawTx), &dec), "op-geth decodes it")
	require.Equal(t, tx.Hash(), dec.Hash())
	require.Equal(t, nonce, *dec.EffectiveNonce())

	got = fields(t, rawReceipt)
	require.ElementsMatch(t, append(append([]string{}, rpcReceiptKeys...), "depositNonce", "depositReceiptVersion"), keys(got), rawReceipt)
	require.Equal(t, quoted(hexutil.Uint64(nonce)), string(got["depositNonce"]))
	require.Equal(t, `"0x1"`, string(got["depositReceiptVersion"]))
	require.Equal(t, `"0x0"`, string(got["effectiveGasPrice"]))
	require.Equal(t, `"0x7e"`, string(got["type"]))
	if tx.To() == nil {
		require.Equal(t, quoted(crypto.CreateAddress(from, nonce)), string(got["contractAddress"]))
	} else {
		require.Equal(t, "null", string(got["contractAddress"]))
	}
	var r types.Receipt
	require.NoError(t, json.Unmarshal([]byte(rawReceipt), &r), "op-geth decodes it")
	require.Equal(t, nonce, *r.DepositNonce)
	require.Equal(t, types.CanyonDepositReceiptVersion, *r.DepositReceiptVersion)
}

// checkL2TxJSON checks a signed transaction's receipt: its L1 fee, from
// Fjord's cost function over the L1 origin's base fee and the system
// config's scalars, and the fee parameters of the block's L1-attributes
// deposit (operator fee from Isthmus, DA footprint from Jovian).
func checkL2TxJSON(t *testing.T, c *opChain, block *types.Block, i int, rawTx, rawReceipt string) {
	t.Helper()
	tx := block.Transactions()[i]
	n := block.NumberU64()
	got := fields(t, rawTx)
	require.ElementsMatch(t, append(append([]string{}, rpcTxKeys...), "accessList", "chainId", "maxFeePerGas", "maxPriorityFeePerGas", "yParity"), keys(got), rawTx)

	origin := c.l1[n/opEpochLength]
	fee, gas := types.NewL1CostFuncFjord(origin.BaseFee, big.NewInt(1), big.NewInt(opBaseFeeScalar), big.NewInt(opBlobScalar))(tx.RollupCostData())
	want := map[string]string{
		"l1GasPrice":          quoted((*hexutil.Big)(origin.BaseFee)),
		"l1BlobBaseFee":       `"0x1"`,
		"l1GasUsed":           quoted((*hexutil.Big)(gas)),
		"l1Fee":               quoted((*hexutil.Big)(fee)),
		"l1BaseFeeScalar":     quoted(hexutil.Uint64(opBaseFeeScalar)),
		"l1BlobBaseFeeScalar": quoted(hexutil.Uint64(opBlobScalar)),
	}
	if n > opIsthmusBlock {
		want["operatorFeeScalar"] = quoted(hexutil.Uint64(opOperatorScale))
		want["operatorFeeConstant"] = quoted(hexutil.Uint64(opOperatorConst))
	}
	if n > opJovianBlock {
		want["daFootprintGasScalar"] = quoted(hexutil.Uint64(derive.DAFootprintGasScalarDefault))
		want["blobGasUsed"] = quoted(hexutil.Uint64(derive.DAFootprintGasScalarDefault * tx.RollupCostData().EstimatedDASize().Uint64()))
	}
	got = fields(t, rawReceipt)
	wantKeys := append([]string{}, rpcReceiptKeys...)
	for k, v := range want {
		wantKeys = append(wantKeys, k)
		require.Equal(t, v, string(got[k]), "block %d: %s of %s", n, k, rawReceipt)
	}
	require.ElementsMatch(t, wantKeys, keys(got), rawReceipt)
	var r types.Receipt
	require.NoError(t, json.Unmarshal([]byte(rawReceipt), &r), "op-geth decodes it")
	require.Equal(t, fee, r.L1Fee)
	require.Nil(t, r.DepositNonce)
}

// checkRawReceipts checks that debug_getRawReceipts of every block decodes
// to receipts that hash to the header's receiptsRoot: each typed as its
// transaction, deposits with their nonce and version.
func checkRawReceipts(t *testing.T, c *rpc.Client, s *store.Store, blocks uint64) {
	t.Helper()
	for n := uint64(0); n <= blocks; n++ {
		var raw []hexutil.Bytes
		require.NoError(t, c.Call(&raw, "debug_getRawReceipts", hexutil.Uint64(n)))
		receipts := make(types.Receipts, len(raw))
		for i, b := range raw {
			receipts[i] = new(types.Receipt)
			require.NoError(t, receipts[i].UnmarshalBinary(b), "block %d receipt %d", n, i)
		}
		h, err := s.HeaderByNumber(n)
		require.NoError(t, err)
		require.Equal(t, h.ReceiptHash, types.DeriveSha(receipts, trie.NewStackTrie(nil)), "block %d", n)
	}
}

// TestRollupConfigAbsent: a node without a rollup config answers
// optimism_rollupConfig with an error, and optimism_outputAtBlock as before.
func TestRollupConfigAbsent(t *testing.T) {
	ctx := context.Background()
	s, err := store.OpenMem(store.DefaultConfig())
	require.NoError(t, err)
	defer s.Close()
	g := historytest.NewChain(3)
	for range 4 {
		require.NoError(t, s.Ingest(ctx, g.Next()))
	}
	srv, err := NewRPCServer(Config{ChainConfig: params.TestChainConfig, Reader: s})
	require.NoError(t, err)
	defer srv.Stop()
	c := rpc.DialInProc(srv)
	defer c.Close()

	var rc rollup.Config
	require.EqualError(t, c.Call(&rc, "optimism_rollupConfig"), "this node has no rollup config")
	_, err = sources.NewRollupClient(client.NewBaseRPCClient(c)).RollupConfig(ctx)
	require.ErrorContains(t, err, "this node has no rollup config")
	var out OutputResponse
	require.NoError(t, c.Call(&out, "optimism_outputAtBlock", hexutil.Uint64(2)))
	require.Equal(t, uint64(2), out.BlockRef.SequenceNumber)
	require.Equal(t, BlockID{}, out.BlockRef.L1Origin)
}

// TestRollupConfigOnEthereumShapedChain: with a rollup config, blocks whose
// first transaction is no deposit keep their number as sequence number and
// no L1 origin; the genesis is anchored at the rollup's L1 block, as op-node
// anchors it.
func TestRollupConfigOnEthereumShapedChain(t *testing.T) {
	c := newGethChain(t)
	genesis := mustHeader(t, c, 0)
	l1 := eth.BlockID{Hash: common.HexToHash("0x1234"), Number: 77}
	rc := chain.DevnetRollupConfig(params.AllDevChainProtocolChanges, genesis, l1, eth.SystemConfig{})
	srv, err := NewRPCServer(Config{ChainConfig: params.AllDevChainProtocolChanges, RollupConfig: rc, Reader: c.store})
	require.NoError(t, err)
	defer srv.Stop()
	client := rpc.DialInProc(srv)
	defer client.Close()
	for n := uint64(0); n <= c.blocks; n++ {
		var out OutputResponse
		require.NoError(t, client.Call(&out, "optimism_outputAtBlock", hexutil.Uint64(n)))
		require.Equal(t, mustHeader(t, c, n).Hash(), out.BlockRef.Hash)
		if n == 0 {
			require.Equal(t, BlockID{Hash: l1.Hash, Number: l1.Number}, out.BlockRef.L1Origin)
			require.Zero(t, out.BlockRef.SequenceNumber)
			continue
		}
		require.Equal(t, BlockID{}, out.BlockRef.L1Origin)
		require.Equal(t, n, out.BlockRef.SequenceNumber)
	}
	checkRawReceipts(t, client, c.store, c.blocks)

	// A rollup config of another chain: its genesis is not this one's.
	rc.Genesis.L2.Hash = common.HexToHash("0xbad")
	srv2, err := NewRPCServer(Config{ChainConfig: params.AllDevChainProtocolChanges, RollupConfig: rc, Reader: c.store})
	require.NoError(t, err)
	defer srv2.Stop()
	client2 := rpc.DialInProc(srv2)
	defer client2.Close()
	var out OutputResponse
	require.ErrorContains(t, client2.Call(&out, "optimism_outputAtBlock", hexutil.Uint64(0)), "genesis")
}
