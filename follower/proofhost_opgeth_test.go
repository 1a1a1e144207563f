package follower_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"log/slog"
	"sort"
	"testing"
	"time"

	"github.com/ethereum-optimism/optimism/op-service/sources"
	"github.com/ethereum/go-ethereum/beacon/engine"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/stateless"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/api"
	"github.com/strata-chain/strata/follower"
	"github.com/strata-chain/strata/history/store"
	"github.com/strata-chain/strata/proofs"
)

// byHash is a set of blobs (trie nodes or codes) keyed by their hash.
func byHash(blobs []hexutil.Bytes) map[common.Hash]string {
	out := make(map[common.Hash]string, len(blobs))
	for _, b := range blobs {
		out[crypto.Keccak256Hash(b)] = hexutil.Encode(b)
	}
	return out
}

func sortedDurations(d []time.Duration) []time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s
}

func pct(s []time.Duration, p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s))))] }

// TestProofHostMethodsAgainstOpGeth serves an OP chain that op-geth (a
// hash-scheme archive, the L2 source op-program asks for) holds and a
// Strata follower of it holds, and compares what the proof hosts read:
//
//   - debug_executionWitness of every block, as sets of state nodes and
//     codes (op-geth's order is a map's) and the ancestor headers in order;
//     Strata's witness also re-executes statelessly to the header's roots;
//   - debug_dbGet: every trie node of the account trie and every storage
//     trie at several blocks, walked from the state root through Strata
//     with op-service's debug client (NodeByHash, CodeByHash), byte-equal
//     to op-geth's debug_dbGet of the same hash, and every code;
//   - debug_executePayload (op-reth's; op-geth has none): every block rebuilt
//     from op-node's attributes gives op-geth's witness of that block;
//   - debug_getRawTransaction, debug_getRawHeader, debug_getRawBlock and
//     debug_getRawReceipts, raw JSON.
func TestProofHostMethodsAgainstOpGeth(t *testing.T) {
	const blocks = 10
	c := newOpGethChain(t, blocks)
	ctx := context.Background()

	s, err := store.OpenMem(store.DefaultConfig())
	require.NoError(t, err)
	defer s.Close()
	fcfg := follower.DefaultConfig()
	fcfg.URL, fcfg.GenesisFile = c.node.HTTPURL, c.genesisFile
	f, err := follower.New(fcfg, s, slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})))
	require.NoError(t, err)
	defer f.Stop()
	require.NoError(t, f.Start(ctx))
	runCtx, cancel := context.WithTimeout(ctx, time.Minute)
	f.OnBlock(func(info follower.BlockInfo) {
		if info.Number >= c.head {
			cancel()
		}
	})
	require.NoError(t, f.Run(runCtx))
	srv, err := api.NewRPCServer(api.Config{ChainConfig: f.ChainConfig(), RollupConfig: c.rollup, Reader: s})
	require.NoError(t, err)
	defer srv.Stop()
	// Over HTTP, as the hosts reach their L2 node, like op-geth here.
	hs, err := api.Listen(api.ServerConfig{Addr: "127.0.0.1"}, srv, nil)
	require.NoError(t, err)
	defer hs.Close()
	strata, err := rpc.Dial("http://" + hs.HTTPAddr())
	require.NoError(t, err)
	defer strata.Close()
	geth := c.node.RPC

	compared, diffs := 0, 0
	same := func(method string, args ...any) {
		t.Helper()
		var want, got json.RawMessage
		require.NoError(t, geth.Call(&want, method, args...), "op-geth %s %v", method, args)
		errGot := strata.Call(&got, method, args...)
		compared++
		if errGot != nil || string(want) != string(got) {
			diffs++
			if diffs <= 10 {
				t.Errorf("%s %v differs:\n op-geth: %s\n strata:  %s (err %v)", method, args, want, got, errGot)
			}
		}
	}

	// Execution witnesses.
	var witnessTook []time.Duration
	nodes, codes := 0, 0
	gethWitness := map[uint64]*stateless.ExtWitness{}
	for n := uint64(1); n <= c.head; n++ {
		num := hexutil.Uint64(n)
		var want, got stateless.ExtWitness
		var wantRaw, gotRaw json.RawMessage
		require.NoError(t, geth.Call(&wantRaw, "debug_executionWitness", num))
		start := time.Now()
		require.NoError(t, strata.Call(&gotRaw, "debug_executionWitness", num), "block %d", n)
		witnessTook = append(witnessTook, time.Since(start))
		require.NoError(t, json.Unmarshal(wantRaw, &want))
		require.NoError(t, json.Unmarshal(gotRaw, &got))
		gethWitness[n] = &want
		require.Equal(t, byHash(want.State), byHash(got.State), "block %d: witness state nodes", n)
		require.Equal(t, byHash(want.Codes), byHash(got.Codes), "block %d: witness codes", n)
		require.Len(t, got.Headers, len(want.Headers), "block %d: witness headers", n)
		for i := range want.Headers {
			require.Equal(t, want.Headers[i].Hash(), got.Headers[i].Hash(), "block %d: header %d", n, i)
		}
		var wantShape, gotShape map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(wantRaw, &wantShape))
		require.NoError(t, json.Unmarshal(gotRaw, &gotShape))
		require.Equal(t, string(wantShape["headers"]), string(gotShape["headers"]), "block %d: headers JSON", n)
		require.Equal(t, string(wantShape["keys"]), string(gotShape["keys"]), "block %d: keys", n)
		require.Equal(t, len(wantShape), len(gotShape))
		nodes += len(got.State)
		codes += len(got.Codes)

		h, err := s.HeaderByNumber(n)
		require.NoError(t, err)
		txs, err := s.Body(n)
		require.NoError(t, err)
		task := types.CopyHeader(h)
		task.Root, task.ReceiptHash = common.Hash{}, common.Hash{}
		var w stateless.Witness
		require.NoError(t, w.FromExtWitness(&got))
		root, receipts, err := core.ExecuteStateless(ctx, f.ChainConfig(), vm.Config{},
			types.NewBlockWithHeader(task).WithBody(types.Body{Transactions: txs, Withdrawals: types.Withdrawals{}}), &w)
		require.NoError(t, err, "block %d: stateless execution of Strata's witness", n)
		require.Equal(t, h.Root, root, "block %d", n)
		require.Equal(t, h.ReceiptHash, receipts, "block %d", n)
	}

	// debug_executePayload (op-reth's method, which op-geth lacks): each
	// block rebuilt on its parent from op-node's attributes for it gives
	// op-geth's witness of that block.
	for n := uint64(1); n <= c.head; n++ {
		h, err := s.HeaderByNumber(n)
		require.NoError(t, err)
		body, err := s.Body(n)
		require.NoError(t, err)
		gasLimit := h.GasLimit
		attrs := engine.PayloadAttributes{
			Timestamp: h.Time, Random: h.MixDigest, SuggestedFeeRecipient: h.Coinbase, Withdrawals: []*types.Withdrawal{},
			BeaconRoot: h.ParentBeaconRoot, GasLimit: &gasLimit, NoTxPool: true, EIP1559Params: h.Extra[1:9],
		}
		if f.ChainConfig().IsJovian(h.Time) {
			m := binary.BigEndian.Uint64(h.Extra[9:17])
			attrs.MinBaseFee = &m
		}
		for _, tx := range body {
			raw, err := tx.MarshalBinary()
			require.NoError(t, err)
			attrs.Transactions = append(attrs.Transactions, raw)
		}
		var pw api.PayloadWitness
		require.NoError(t, strata.Call(&pw, "debug_executePayload", h.ParentHash, attrs), "block %d", n)
		require.Equal(t, byHash(gethWitness[n].State), byHash(pw.State), "block %d: executePayload state vs op-geth's witness", n)
		require.Equal(t, byHash(gethWitness[n].Codes), byHash(pw.Codes), "block %d: executePayload codes vs op-geth's witness", n)
		require.Len(t, pw.Headers, len(gethWitness[n].Headers))
		for i, enc := range pw.Headers {
			require.Equal(t, gethWitness[n].Headers[i].Hash(), crypto.Keccak256Hash(enc), "block %d: header %d", n, i)
		}
	}

	// debug_dbGet walks.
	fromStrata := sources.NewDebugClient(strata.CallContext)
	fromGeth := sources.NewDebugClient(geth.CallContext)
	var dbTook []time.Duration
	walked := 0
	for _, n := range []uint64{1, c.head / 2, c.head} {
		h, err := s.HeaderByNumber(n)
		require.NoError(t, err)
		queue := []proofs.NodeRef{{Hash: h.Root}}
		seen := map[common.Hash]bool{}
		leaves := 0
		for len(queue) > 0 {
			ref := queue[0]
			queue = queue[1:]
			start := time.Now()
			blob, err := fromStrata.NodeByHash(ctx, ref.Hash)
			dbTook = append(dbTook, time.Since(start))
			require.NoError(t, err, "block %d: node %s at %x/%x", n, ref.Hash, ref.Owner, ref.Path)
			if !seen[ref.Hash] {
				seen[ref.Hash] = true
				want, err := fromGeth.NodeByHash(ctx, ref.Hash)
				require.NoError(t, err, "op-geth: node %s", ref.Hash)
				compared++
				if !bytes.Equal(want, blob) {
					diffs++
					t.Errorf("block %d: node %s differs", n, ref.Hash)
				}
			}
			node, err := proofs.DecodeNode(ref.Owner, ref.Path, blob)
			require.NoError(t, err)
			for _, l := range node.Leaves {
				leaves++
				if ref.Owner != (common.Hash{}) {
					continue
				}
				var acc types.StateAccount
				require.NoError(t, rlpDecode(l.Value, &acc))
				if ch := common.BytesToHash(acc.CodeHash); ch != types.EmptyCodeHash {
					got, err := fromStrata.CodeByHash(ctx, ch)
					require.NoError(t, err)
					want, err := fromGeth.CodeByHash(ctx, ch)
					require.NoError(t, err)
					compared++
					if !bytes.Equal(want, got) {
						diffs++
						t.Errorf("code %s differs", ch)
					}
				}
			}
			queue = append(queue, node.Refs...)
		}
		walked += len(seen)
		t.Logf("block %d: %d trie nodes, %d leaves walked through debug_dbGet", n, len(seen), leaves)
	}
	// A miss is an error on both.
	missing := common.HexToHash("0x1234")
	_, errG := fromGeth.NodeByHash(ctx, missing)
	_, errS := fromStrata.NodeByHash(ctx, missing)
	require.Error(t, errG)
	require.Error(t, errS)

	// Raw encodings.
	var txs []common.Hash
	for n := uint64(0); n <= c.head; n++ {
		num := hexutil.Uint64(n)
		same("debug_getRawHeader", num)
		same("debug_getRawBlock", num)
		same("debug_getRawReceipts", num)
		h, err := s.HeaderByNumber(n)
		require.NoError(t, err)
		same("debug_getRawHeader", h.Hash())
		same("debug_getRawBlock", h.Hash())
		same("debug_getRawReceipts", h.Hash())
		body, err := s.Body(n)
		require.NoError(t, err)
		for _, tx := range body {
			txs = append(txs, tx.Hash())
		}
	}
	for _, h := range txs {
		same("debug_getRawTransaction", h)
	}
	same("debug_getRawTransaction", missing)
	require.Zero(t, diffs, "%d of %d answers differ from op-geth", diffs, compared)

	wt, dt := sortedDurations(witnessTook), sortedDurations(dbTook)
	t.Logf("differential: %d witnesses (%d nodes, %d codes) equal to op-geth's as sets and executed statelessly; %d trie nodes walked by hash, equal to op-geth's; %d raw answers; %d compared, %d differences",
		c.head, nodes, codes, walked, 6*(c.head+1)+uint64(len(txs))+1, compared, diffs)
	t.Logf("over HTTP: debug_executionWitness p50 %s p99 %s; debug_dbGet p50 %s p99 %s (%d calls)", pct(wt, 0.5), pct(wt, 0.99), pct(dt, 0.5), pct(dt, 0.99), len(dt))
}

func rlpDecode(b []byte, v any) error { return rlp.DecodeBytes(b, v) }
