package api

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/beacon/engine"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/stateless"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/sequencer"
)

// attributesOf is what op-node hands the engine to make block: its header
// fields and all its transactions.
func attributesOf(t *testing.T, c *opChain, block *types.Block) engine.PayloadAttributes {
	t.Helper()
	h := block.Header()
	gasLimit := h.GasLimit
	a := engine.PayloadAttributes{
		Timestamp: h.Time, Random: h.MixDigest, SuggestedFeeRecipient: h.Coinbase,
		Withdrawals: []*types.Withdrawal{}, BeaconRoot: h.ParentBeaconRoot, GasLimit: &gasLimit, NoTxPool: true,
	}
	if c.config.IsHolocene(h.Time) {
		a.EIP1559Params = h.Extra[1:9]
	}
	if c.config.IsJovian(h.Time) {
		m := binary.BigEndian.Uint64(h.Extra[9:17])
		a.MinBaseFee = &m
	}
	for _, tx := range block.Transactions() {
		raw, err := tx.MarshalBinary()
		require.NoError(t, err)
		a.Transactions = append(a.Transactions, raw)
	}
	return a
}

// TestExecutePayload rebuilds every block of the OP chain from its payload
// attributes on its parent with debug_executePayload: the block built is the
// chain's own, and the witness (op-reth's shape: headers as RLP) equals
// debug_executionWitness's as sets and executes statelessly to the header's
// roots.
func TestExecutePayload(t *testing.T) {
	c := newOPChain(t)
	for n := uint64(1); n <= opBlocks; n++ {
		block, _ := c.block(t, n)
		attrs := attributesOf(t, c, block)

		parent, err := c.store.HeaderByNumber(n - 1)
		require.NoError(t, err)
		h, txs, err := payloadHeader(c.config, parent, &attrs)
		require.NoError(t, err)
		st, err := c.store.StateAt(n - 1)
		require.NoError(t, err)
		built, err := sequencer.NewExecutor(c.config, c.store).Build(context.Background(), st, parent, h, txs)
		st.Close()
		require.NoError(t, err)
		require.Equal(t, block.Hash(), built.Block.Hash(), "block %d: the attributes make the chain's block", n)

		var raw json.RawMessage
		require.NoError(t, c.client.Call(&raw, "debug_executePayload", block.ParentHash(), attrs), "block %d", n)
		var shape map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(raw, &shape))
		require.ElementsMatch(t, []string{"state", "codes", "keys", "headers"}, keys(shape))
		require.Equal(t, "[]", string(shape["keys"]), "alloy decodes keys as a list")
		var pw PayloadWitness
		require.NoError(t, json.Unmarshal(raw, &pw))
		var ew stateless.ExtWitness
		require.NoError(t, c.client.Call(&ew, "debug_executionWitness", hexutil.Uint64(n)))
		require.Equal(t, byHashSet(ew.State), byHashSet(pw.State), "block %d: state", n)
		require.Equal(t, byHashSet(ew.Codes), byHashSet(pw.Codes), "block %d: codes", n)
		ext := stateless.ExtWitness{State: pw.State, Codes: pw.Codes}
		for i, enc := range pw.Headers {
			var hdr types.Header
			require.NoError(t, rlp.DecodeBytes(enc, &hdr))
			require.Equal(t, ew.Headers[i].Hash(), hdr.Hash())
			ext.Headers = append(ext.Headers, &hdr)
		}
		root, receipts, err := executeStateless(t, c.config, block, &ext)
		require.NoError(t, err)
		require.Equal(t, block.Root(), root)
		require.Equal(t, block.ReceiptHash(), receipts)
	}
}

func byHashSet(blobs []hexutil.Bytes) map[string]bool {
	out := map[string]bool{}
	for _, b := range blobs {
		out[hexutil.Encode(b)] = true
	}
	return out
}

// TestExecutePayloadBadInput: an unknown parent, malformed or incomplete
// attributes, a transaction that cannot apply and oversized requests each
// get a clear error.
func TestExecutePayloadBadInput(t *testing.T) {
	c := newOPChain(t)
	srv, err := NewRPCServer(Config{ChainConfig: c.config, Reader: prunedReader{c.store, 4}})
	require.NoError(t, err)
	defer srv.Stop()
	s, err := Listen(ServerConfig{Addr: "127.0.0.1"}, srv, nil)
	require.NoError(t, err)
	defer s.Close()
	url := "http://" + s.HTTPAddr()
	const n = opJovianBlock + 1
	block, _ := c.block(t, n)
	good := attributesOf(t, c, block)
	parent := block.ParentHash()
	call := func(parent common.Hash, mutate func(a *engine.PayloadAttributes)) string {
		a := good
		a.Transactions = append([][]byte(nil), good.Transactions...)
		if mutate != nil {
			mutate(&a)
		}
		raw, err := json.Marshal(a)
		require.NoError(t, err)
		return fmt.Sprintf(`["%s",%s]`, parent.Hex(), raw)
	}
	old, _ := c.block(t, 3)
	tooMany := make([]string, maxPayloadTransactions+1)
	for i := range tooMany {
		tooMany[i] = `"0x00"`
	}
	for _, tc := range []struct {
		name, params string
		code         int
		msg          string
	}{
		{"unknown parent", call(common.HexToHash("0x1234"), nil), -32000, "parent block 0x0000000000000000000000000000000000000000000000000000000000001234 not found"},
		{"pruned parent", call(old.ParentHash(), nil), -32000, "its state is not held: state at block 2 is not available: oldest available block is 4"},
		{"no gas limit", call(parent, func(a *engine.PayloadAttributes) { a.GasLimit = nil }), -32602, "gasLimit is required"},
		{"no min base fee", call(parent, func(a *engine.PayloadAttributes) { a.MinBaseFee = nil }), -32602, "missing minBaseFee"},
		{"bad eip1559 params", call(parent, func(a *engine.PayloadAttributes) { a.EIP1559Params = []byte{1, 2, 3} }), -32602, "holocene eip-1559 params should be 8 bytes"},
		{"no beacon root", call(parent, func(a *engine.PayloadAttributes) { a.BeaconRoot = nil }), -32602, "parentBeaconBlockRoot is required"},
		{"withdrawals", call(parent, func(a *engine.PayloadAttributes) {
			a.Withdrawals = []*types.Withdrawal{{Index: 1, Amount: 1}}
		}), -32602, "an OP Stack block has no withdrawals"},
		{"time before parent", call(parent, func(a *engine.PayloadAttributes) { a.Timestamp = 1 }), -32602, "invalid timestamp"},
		{"garbage transaction", call(parent, func(a *engine.PayloadAttributes) { a.Transactions[1] = []byte{0x02, 0x01} }), -32602, "transaction 1:"},
		{"transaction cannot apply", call(parent, func(a *engine.PayloadAttributes) {
			a.Transactions = append(a.Transactions, a.Transactions[len(a.Transactions)-1]) // a nonce used twice
		}), -32000, "cannot be applied: nonce too low"},
		{"too many transactions", fmt.Sprintf(`["%s",{"timestamp":"0x1","prevRandao":"0x%s","suggestedFeeRecipient":"0x%s","transactions":[%s]}]`,
			parent.Hex(), strings.Repeat("00", 32), strings.Repeat("00", 20), strings.Join(tooMany, ",")), -32602, "too many transactions: 20001, at most 20000"},
		{"not attributes", fmt.Sprintf(`["%s","0x12"]`, parent.Hex()), -32602, "invalid argument 1"},
		{"missing timestamp", fmt.Sprintf(`["%s",{}]`, parent.Hex()), -32602, "missing required field 'timestamp'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := post(t, url, fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"debug_executePayload","params":%s}`, tc.params))
			var r rpcError
			require.NoError(t, json.Unmarshal([]byte(body), &r), body)
			require.NotNil(t, r.Error, "want an error, got %.300s", body)
			require.Equal(t, tc.code, r.Error.Code, body)
			require.Contains(t, r.Error.Message, tc.msg)
		})
	}
	// The good attributes work on this server too.
	body := post(t, url, fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"debug_executePayload","params":%s}`, call(parent, nil)))
	require.Contains(t, body, `"state":["0x`)
}
