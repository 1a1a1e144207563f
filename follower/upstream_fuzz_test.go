package follower

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/stretchr/testify/require"
)

// The fuzz targets below feed arbitrary answers of an execution client to
// the follower's upstream reader through go-ethereum's real JSON-RPC client:
// an http.RoundTripper answers every request with the fuzzed bytes as its
// result, so no socket or goroutine is involved.

// answer is an HTTP transport that answers each JSON-RPC call with result.
type answer struct{ result []byte }

func (a answer) RoundTrip(req *http.Request) (*http.Response, error) {
	var call struct {
		ID json.RawMessage `json:"id"`
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(body, &call); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.WriteString(`{"jsonrpc":"2.0","id":`)
	out.Write(call.ID)
	out.WriteString(`,"result":`)
	out.Write(a.result)
	out.WriteString("}")
	return &http.Response{
		StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(&out), ContentLength: int64(out.Len()), Request: req,
	}, nil
}

// answering is an upstream whose every answer is result.
func answering(t *testing.T, result []byte) *upstream {
	t.Helper()
	c, err := rpc.DialOptions(context.Background(), "http://upstream.invalid", rpc.WithHTTPClient(&http.Client{Transport: answer{result}}))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return &upstream{c: c, timeout: 5 * time.Second}
}

// seedBlock is an OP block as op-geth serves it: a deposit, a signed
// dynamic-fee transaction and a legacy one, with its receipts and
// prestateTracer diffs.
func seedBlock(tb testing.TB) (*types.Block, types.Receipts, []txDiff) {
	tb.Helper()
	key, err := crypto.HexToECDSA("b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291") // geth --dev's key
	require.NoError(tb, err)
	config := params.OptimismTestConfig
	signer := types.LatestSigner(config)
	from, to := crypto.PubkeyToAddress(key.PublicKey), common.HexToAddress("0x4200000000000000000000000000000000000016")
	txs := types.Transactions{
		types.NewTx(&types.DepositTx{SourceHash: common.HexToHash("0x5e"), From: common.HexToAddress("0xdeaddeaddeaddeaddeaddeaddeaddeaddead0001"),
			To: &to, Value: new(big.Int), Gas: 1_000_000, Data: []byte{0x44, 0x0a}}),
		types.MustSignNewTx(key, signer, &types.DynamicFeeTx{ChainID: config.ChainID, Nonce: 3, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(2e9),
			Gas: 50_000, To: &to, Value: big.NewInt(5), Data: []byte{1, 2}}),
		types.MustSignNewTx(key, signer, &types.LegacyTx{Nonce: 4, GasPrice: big.NewInt(2e9), Gas: 21_000, To: &to, Value: big.NewInt(1)}),
	}
	nonce, version := uint64(12), uint64(1)
	receipts := types.Receipts{
		{Type: types.DepositTxType, Status: 1, CumulativeGasUsed: 40_000, DepositNonce: &nonce, DepositReceiptVersion: &version, Logs: []*types.Log{}},
		{Type: types.DynamicFeeTxType, Status: 1, CumulativeGasUsed: 80_000, Logs: []*types.Log{{Address: to, Topics: []common.Hash{common.HexToHash("0x1")}, Data: []byte{7}}}},
		{Type: types.LegacyTxType, Status: 0, CumulativeGasUsed: 101_000, Logs: []*types.Log{}},
	}
	for i, r := range receipts {
		r.TxHash, r.TransactionIndex, r.GasUsed = txs[i].Hash(), uint(i), 20_000
		r.Bloom = types.CreateBloom(r)
	}
	withdrawalsRoot := common.HexToHash("0x8ed4")
	header := &types.Header{
		ParentHash: common.HexToHash("0x1111"), UncleHash: types.EmptyUncleHash, Coinbase: common.HexToAddress("0x4200000000000000000000000000000000000011"),
		Root: common.HexToHash("0x2222"), TxHash: types.DeriveSha(txs, trie.NewStackTrie(nil)), ReceiptHash: types.DeriveSha(receipts, trie.NewStackTrie(nil)),
		Difficulty: new(big.Int), Number: big.NewInt(77), GasLimit: 30_000_000, GasUsed: 101_000, Time: 1_700_000_000, Extra: []byte{},
		BaseFee: big.NewInt(7), WithdrawalsHash: &withdrawalsRoot,
	}
	b := types.NewBlockWithHeader(header).WithBody(types.Body{Transactions: txs, Withdrawals: types.Withdrawals{}})
	bal, n, code := (*hexutil.Big)(big.NewInt(99)), uint64(5), hexutil.Bytes{0x60, 0x00}
	diffs := []txDiff{
		{Pre: map[common.Address]*traceAccount{}, Post: map[common.Address]*traceAccount{to: {Storage: map[common.Hash]common.Hash{common.HexToHash("0x1"): common.HexToHash("0x2")}}}},
		{Pre: map[common.Address]*traceAccount{from: {Balance: bal, Nonce: &n}, to: {Storage: map[common.Hash]common.Hash{common.HexToHash("0x1"): common.HexToHash("0x2")}}},
			Post: map[common.Address]*traceAccount{from: {Balance: (*hexutil.Big)(big.NewInt(90)), Nonce: new(uint64)}, to: {Code: &code}}},
		{Pre: map[common.Address]*traceAccount{common.HexToAddress("0xdead"): {Balance: bal}}, Post: map[common.Address]*traceAccount{}},
	}
	return b, receipts, diffs
}

// blockJSON is eth_getBlockByNumber's answer for b with full transactions.
func blockJSON(tb testing.TB, b *types.Block) []byte {
	tb.Helper()
	raw, err := json.Marshal(b.Header())
	require.NoError(tb, err)
	var fields map[string]json.RawMessage
	require.NoError(tb, json.Unmarshal(raw, &fields))
	for k, v := range map[string]any{"hash": b.Hash(), "transactions": b.Transactions(), "withdrawals": b.Withdrawals(), "uncles": []common.Hash{}} {
		if fields[k], err = json.Marshal(v); err != nil {
			tb.Fatal(err)
		}
	}
	out, err := json.Marshal(fields)
	require.NoError(tb, err)
	return out
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	out, err := json.Marshal(v)
	require.NoError(tb, err)
	return out
}

// FuzzUpstreamBlock: an eth_getBlockByNumber answer. Nothing may panic; a
// block that is accepted has no nil transaction or withdrawal, and its
// header and transactions survive the RLP round trip the store puts them
// through (same hashes).
func FuzzUpstreamBlock(f *testing.F) {
	b, _, _ := seedBlock(f)
	f.Add(b.NumberU64(), blockJSON(f, b))
	empty := types.NewBlockWithHeader(&types.Header{Number: big.NewInt(1), Difficulty: new(big.Int), TxHash: types.EmptyTxsHash, ReceiptHash: types.EmptyReceiptsHash, UncleHash: types.EmptyUncleHash})
	f.Add(uint64(1), blockJSON(f, empty))
	f.Add(uint64(0), []byte("null"))
	// Null elements under a header that hashes right: once decoded to nil
	// transactions, hashing them panicked.
	for _, field := range []string{"transactions", "withdrawals"} {
		var fields map[string]json.RawMessage
		require.NoError(f, json.Unmarshal(blockJSON(f, empty), &fields))
		fields[field] = json.RawMessage("[null]")
		f.Add(uint64(1), mustJSON(f, fields))
	}
	f.Add(uint64(1), []byte(`{"number":"0x1","transactions":[{"type":"0x7f"}]}`))
	f.Fuzz(func(t *testing.T, n uint64, result []byte) {
		got, err := answering(t, result).block(context.Background(), n)
		if err != nil {
			return
		}
		require.Equal(t, n, got.NumberU64())
		for i, tx := range got.Transactions() {
			require.NotNil(t, tx, "transaction %d", i)
			raw, err := tx.MarshalBinary()
			require.NoError(t, err)
			var back types.Transaction
			require.NoError(t, back.UnmarshalBinary(raw), "transaction %d", i)
			require.Equal(t, tx.Hash(), back.Hash(), "transaction %d", i)
		}
		for i, w := range got.Withdrawals() {
			require.NotNil(t, w, "withdrawal %d", i)
		}
		raw, err := rlp.EncodeToBytes(got.Header())
		require.NoError(t, err)
		var h types.Header
		require.NoError(t, rlp.DecodeBytes(raw, &h))
		require.Equal(t, got.Hash(), h.Hash())
	})
}

// withTxs is a block of n placeholder transactions whose receipts root is
// root, for answers whose decoding, not the root check, is under test.
func withTxs(n int, root common.Hash) *types.Block {
	txs := make(types.Transactions, n)
	for i := range txs {
		txs[i] = types.NewTx(&types.LegacyTx{Nonce: uint64(i), GasPrice: new(big.Int), Value: new(big.Int)})
	}
	return types.NewBlockWithHeader(&types.Header{Number: big.NewInt(9), Difficulty: new(big.Int), ReceiptHash: root}).WithBody(types.Body{Transactions: txs})
}

// FuzzUpstreamReceipts: an eth_getBlockReceipts answer, against a block
// whose receipts root is what the answer claims (when it decodes). Nothing
// may panic; accepted receipts are not nil and keep their storage encoding
// through a round trip.
func FuzzUpstreamReceipts(f *testing.F) {
	_, receipts, _ := seedBlock(f)
	f.Add(mustJSON(f, receipts))
	f.Add([]byte("[]"))
	f.Add([]byte("[null]")) // a nil receipt: hashing it panicked
	f.Add([]byte(`[{"status":"0x1","cumulativeGasUsed":"0x1","logs":[null],"logsBloom":"0x` + string(bytes.Repeat([]byte("00"), 256)) + `"}]`))
	f.Fuzz(func(t *testing.T, result []byte) {
		// The block to check against: as many transactions as the answer
		// has receipts, and their root if they hash (else any root).
		var entries []json.RawMessage
		if json.Unmarshal(result, &entries) != nil {
			entries = nil
		}
		root := common.Hash{}
		var rs types.Receipts
		if json.Unmarshal(result, &rs) == nil && hashable(rs) {
			root = types.DeriveSha(rs, trie.NewStackTrie(nil))
		}
		got, err := answering(t, result).receipts(context.Background(), withTxs(len(entries), root))
		if err != nil {
			return
		}
		for i, r := range got {
			require.NotNil(t, r, "receipt %d", i)
			for j, l := range r.Logs {
				require.NotNil(t, l, "receipt %d log %d", i, j)
			}
			raw, err := rlp.EncodeToBytes((*types.ReceiptForStorage)(r))
			require.NoError(t, err, "receipt %d", i)
			var back types.ReceiptForStorage
			require.NoError(t, rlp.DecodeBytes(raw, &back), "receipt %d", i)
			again, err := rlp.EncodeToBytes(&back)
			require.NoError(t, err)
			require.Equal(t, raw, again, "receipt %d", i)
		}
	})
}

// hashable: no receipt or log is nil (DeriveSha would dereference it).
func hashable(rs types.Receipts) bool {
	for _, r := range rs {
		if r == nil || slices.Contains(r.Logs, nil) {
			return false
		}
	}
	return true
}

// FuzzUpstreamDiffs: a debug_traceBlockByHash answer (prestateTracer, diff
// mode), against a block with as many transactions as it has traces.
// Nothing may panic, here or when the diffs are applied to a state as
// buildUpdate applies them; accepted diffs survive a JSON round trip.
func FuzzUpstreamDiffs(f *testing.F) {
	b, _, diffs := seedBlock(f)
	traces := make([]map[string]any, len(diffs))
	for i, d := range diffs {
		traces[i] = map[string]any{"txHash": b.Transactions()[i].Hash(), "result": d}
	}
	f.Add(mustJSON(f, traces))
	f.Add([]byte(`[{"txHash":"0x00","error":"execution timeout"}]`))
	f.Add([]byte(`[{"result":null}]`))
	f.Add([]byte(`[{"result":{"pre":{},"post":{"0x0000000000000000000000000000000000000001":null}}}]`))
	f.Add([]byte(`[{"result":{"pre":{"0x0000000000000000000000000000000000000001":null},"post":{"0x0000000000000000000000000000000000000001":{}}}}]`))
	f.Add([]byte(`[{"result":{"pre":{},"post":{"0x0000000000000000000000000000000000000001":{"balance":"-0x1"}}}}]`))
	f.Fuzz(func(t *testing.T, result []byte) {
		var entries []json.RawMessage
		if json.Unmarshal(result, &entries) != nil {
			entries = nil
		}
		got, err := answering(t, result).diffs(context.Background(), withTxs(len(entries), common.Hash{}))
		if err != nil {
			return
		}
		var back []txDiff
		require.NoError(t, json.Unmarshal(mustJSON(t, got), &back))
		require.Equal(t, got, back)
		sdb, err := state.New(types.EmptyRootHash, state.NewDatabaseForTesting())
		require.NoError(t, err)
		for _, d := range got {
			if applyDiff(sdb, d) != nil {
				return // refused as malformed: fine
			}
			sdb.Finalise(true)
		}
		sdb.IntermediateRoot(true)
	})
}
