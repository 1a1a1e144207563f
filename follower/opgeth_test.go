package follower_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/ethereum-optimism/optimism/op-node/rollup"
	"github.com/ethereum-optimism/optimism/op-service/client"
	"github.com/ethereum-optimism/optimism/op-service/eth"
	"github.com/ethereum-optimism/optimism/op-service/sources"
	"github.com/ethereum/go-ethereum/beacon/engine"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	oplog "github.com/ethereum/go-ethereum/log"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/api"
	"github.com/strata-chain/strata/follower"
	"github.com/strata-chain/strata/history/chain"
	"github.com/strata-chain/strata/history/store"
	"github.com/strata-chain/strata/sequencer"
	enginecl "github.com/strata-chain/strata/sequencer/engine"
	"github.com/strata-chain/strata/sequencer/engine/opgethtest"
)

// opGethChain is a real op-geth holding an OP chain that Strata's sequencer
// made at 1 s blocks and handed over through the Engine API
// (engine_newPayloadV4, then engine_forkchoiceUpdatedV3): deposits, the mixed
// load and, mid-run, Jovian's activation.
type opGethChain struct {
	node        *opgethtest.Node
	genesisFile string
	head        uint64
	rollup      *rollup.Config // op-node's config of the chain, from the sequencer
}

func newOpGethChain(t *testing.T, blocks uint64) *opGethChain {
	t.Helper()
	ctx := context.Background()
	cfg := sequencer.DefaultConfig()
	cfg.BlockTime = time.Second
	cfg.Load = sequencer.LoadConfig{GasPerSecond: 2_000_000, Seed: 3, Accounts: 6}
	jovian := uint64(5)
	cfg.Forks = sequencer.Forks{JovianAfter: &jovian}
	cfg.L1BlockTime = 3 * time.Second
	cfg.DepositsPerEpoch = 2
	src, err := store.OpenMem(store.DefaultConfig())
	require.NoError(t, err)
	t.Cleanup(func() { src.Close() })
	seq, err := sequencer.Open(cfg, src, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	g, err := sequencer.Genesis(cfg, seq.BlockMillis(0))
	require.NoError(t, err)
	raw, err := json.Marshal(g)
	require.NoError(t, err)
	c := &opGethChain{genesisFile: filepath.Join(t.TempDir(), "genesis.json"), head: blocks, rollup: seq.RollupConfig()}
	require.NoError(t, os.WriteFile(c.genesisFile, raw, 0o644))
	c.node = opgethtest.Start(t, g)
	cl := enginecl.New(enginecl.Config{URL: c.node.AuthURL, JWTSecretPath: c.node.JWTPath})
	require.NoError(t, cl.Start(ctx))
	defer cl.Stop()

	runCtx, cancel := context.WithTimeout(ctx, time.Duration(blocks+30)*time.Second)
	defer cancel()
	var handErr error
	seq.OnBlock(func(info sequencer.BlockInfo) {
		if handErr != nil || info.Number > blocks {
			return
		}
		handErr = func() error {
			h, err := src.HeaderByNumber(info.Number)
			if err != nil {
				return err
			}
			body, err := src.Body(info.Number)
			if err != nil {
				return err
			}
			block := types.NewBlockWithHeader(h).WithBody(types.Body{Transactions: body, Withdrawals: types.Withdrawals{}})
			env := engine.BlockToExecutableData(block, new(big.Int), nil, [][]byte{})
			st, err := cl.NewPayload(runCtx, env.ExecutionPayload, *h.ParentBeaconRoot, true)
			if err != nil {
				return err
			}
			if st.Status != engine.VALID {
				return &payloadError{n: info.Number, status: st}
			}
			_, err = cl.ForkchoiceUpdated(runCtx, engine.ForkchoiceStateV1{HeadBlockHash: h.Hash(), SafeBlockHash: h.Hash(), FinalizedBlockHash: h.Hash()}, nil)
			return err
		}()
		if handErr != nil || info.Number == blocks {
			cancel()
		}
	})
	require.NoError(t, seq.Run(runCtx))
	require.NoError(t, handErr)
	var n hexutil.Uint64
	require.NoError(t, c.node.RPC.Call(&n, "eth_blockNumber"))
	require.Equal(t, blocks, uint64(n), "op-geth holds every block")
	return c
}

type payloadError struct {
	n      uint64
	status engine.PayloadStatusV1
}

func (e *payloadError) Error() string {
	msg := ""
	if e.status.ValidationError != nil {
		msg = *e.status.ValidationError
	}
	return "op-geth refused block " + hexutil.EncodeUint64(e.n) + ": " + e.status.Status + " " + msg
}

// touched lists the accounts and slots a block changed, from op-geth's own
// prestateTracer diffs.
func touched(t *testing.T, c *rpc.Client, n uint64) map[common.Address]map[common.Hash]bool {
	var res []struct {
		Result struct {
			Pre, Post map[common.Address]struct {
				Storage map[common.Hash]common.Hash `json:"storage"`
			}
		} `json:"result"`
	}
	cfg := map[string]any{"tracer": "prestateTracer", "tracerConfig": map[string]any{"diffMode": true}}
	require.NoError(t, c.Call(&res, "debug_traceBlockByNumber", hexutil.Uint64(n), cfg))
	out := map[common.Address]map[common.Hash]bool{}
	for _, r := range res {
		for _, side := range []map[common.Address]struct {
			Storage map[common.Hash]common.Hash `json:"storage"`
		}{r.Result.Pre, r.Result.Post} {
			for a, acc := range side {
				if out[a] == nil {
					out[a] = map[common.Hash]bool{}
				}
				for k := range acc.Storage {
					out[a][k] = true
				}
			}
		}
	}
	return out
}

// TestDifferentialAgainstOpGeth follows a real op-geth running an OP chain
// (deposits, L1-attributes transactions, L1 and operator fees, a fork
// activation) and compares Strata's raw JSON with op-geth's at every block:
// the block with and without full transactions, every transaction and
// receipt (with the OP fields), and eth_getProof, balance, nonce, code and
// storage of every account and slot any block touched. Zero differences.
func TestDifferentialAgainstOpGeth(t *testing.T) {
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
	require.NoError(t, f.Start(ctx), "a follower must accept op-geth's genesis made from the same file")
	runCtx, cancel := context.WithTimeout(ctx, time.Minute)
	f.OnBlock(func(info follower.BlockInfo) {
		if info.Number >= c.head {
			cancel()
		}
	})
	require.NoError(t, f.Run(runCtx))
	head, err := s.Head()
	require.NoError(t, err)
	require.Equal(t, c.head, head.Number, "the follower reached op-geth's head")

	require.NoError(t, chain.CheckRollup(c.rollup, f.ChainConfig(), mustHeader(t, s, 0)), "the sequencer's rollup config agrees with the followed genesis")
	srv, err := api.NewRPCServer(api.Config{ChainConfig: f.ChainConfig(), RollupConfig: c.rollup, Reader: s})
	require.NoError(t, err)
	defer srv.Stop()
	strata := rpc.DialInProc(srv)
	defer strata.Close()
	geth := c.node.RPC

	// op-service's own L2 client, as op-proposer and op-challenger use it,
	// reads Strata and op-geth alike: block refs (L1 origin and sequence
	// number from the L1-attributes deposit), blocks with transactions,
	// receipts, and the v0 output root it computes from eth_getProof,
	// which must equal Strata's optimism_outputAtBlock.
	l2 := func(r *rpc.Client) *sources.L2Client {
		cl, err := sources.NewL2Client(client.NewBaseRPCClient(r), oplog.NewLogger(oplog.DiscardHandler()), nil, sources.L2ClientDefaultConfig(c.rollup, true))
		require.NoError(t, err)
		return cl
	}
	fromStrata, fromGeth := l2(strata), l2(geth)
	for n := uint64(1); n <= c.head; n++ {
		refS, err := fromStrata.L2BlockRefByNumber(ctx, n)
		require.NoError(t, err)
		refG, err := fromGeth.L2BlockRefByNumber(ctx, n)
		require.NoError(t, err)
		require.Equal(t, refG, refS, "L2BlockRef of block %d", n)
		infoS, txsS, err := fromStrata.InfoAndTxsByNumber(ctx, n)
		require.NoError(t, err)
		infoG, txsG, err := fromGeth.InfoAndTxsByNumber(ctx, n)
		require.NoError(t, err)
		require.Equal(t, infoG.Hash(), infoS.Hash())
		require.Equal(t, len(txsG), len(txsS))
		for i := range txsG {
			require.Equal(t, txsG[i].Hash(), txsS[i].Hash())
		}
		_, recS, err := fromStrata.FetchReceipts(ctx, refS.Hash)
		require.NoError(t, err)
		_, recG, err := fromGeth.FetchReceipts(ctx, refG.Hash)
		require.NoError(t, err)
		require.Equal(t, len(recG), len(recS))
		outS, err := fromStrata.OutputV0AtBlock(ctx, refS.Hash)
		require.NoError(t, err)
		outG, err := fromGeth.OutputV0AtBlock(ctx, refG.Hash)
		require.NoError(t, err)
		require.Equal(t, eth.OutputRoot(outG), eth.OutputRoot(outS), "output root of block %d", n)
		var served struct {
			OutputRoot common.Hash `json:"outputRoot"`
		}
		require.NoError(t, strata.Call(&served, "optimism_outputAtBlock", hexutil.Uint64(n)))
		require.Equal(t, common.Hash(eth.OutputRoot(outS)), served.OutputRoot, "op-service's output root of block %d is Strata's", n)
	}

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
	all := map[common.Address]map[common.Hash]bool{}
	var txs []common.Hash
	for n := uint64(1); n <= c.head; n++ {
		for a, slots := range touched(t, geth, n) {
			if all[a] == nil {
				all[a] = map[common.Hash]bool{}
			}
			for k := range slots {
				all[a][k] = true
			}
		}
		var blk struct {
			Transactions []common.Hash `json:"transactions"`
		}
		require.NoError(t, geth.Call(&blk, "eth_getBlockByNumber", hexutil.Uint64(n), false))
		txs = append(txs, blk.Transactions...)
	}
	addrs := make([]common.Address, 0, len(all))
	for a := range all {
		addrs = append(addrs, a)
	}
	sort.Slice(addrs, func(i, j int) bool { return addrs[i].Cmp(addrs[j]) < 0 })
	deposits := 0
	for _, h := range txs {
		same("eth_getTransactionByHash", h)
		same("eth_getTransactionReceipt", h)
		var tx struct {
			Type hexutil.Uint64 `json:"type"`
		}
		require.NoError(t, geth.Call(&tx, "eth_getTransactionByHash", h))
		if tx.Type == types.DepositTxType {
			deposits++
		}
	}
	for n := uint64(0); n <= c.head; n++ {
		num := hexutil.Uint64(n)
		same("eth_getBlockByNumber", num, false)
		same("eth_getBlockByNumber", num, true)
		same("eth_getBlockReceipts", num)
		for _, a := range addrs {
			slots := []string{}
			for k := range all[a] {
				slots = append(slots, k.Hex())
			}
			sort.Strings(slots)
			same("eth_getProof", a, slots, num)
			same("eth_getBalance", a, num)
			same("eth_getTransactionCount", a, num)
			same("eth_getCode", a, num)
			for _, k := range slots {
				same("eth_getStorageAt", a, k, num)
			}
		}
	}
	require.Zero(t, diffs, "%d of %d answers differ from op-geth", diffs, compared)
	require.Greater(t, deposits, int(c.head), "the chain carried L1-attributes and user deposits")
	t.Logf("differential: %d blocks, %d transactions (%d deposits), %d accounts; %d answers compared, %d differences", c.head, len(txs), deposits, len(addrs), compared, diffs)
}

func mustHeader(t *testing.T, s *store.Store, n uint64) *types.Header {
	t.Helper()
	h, err := s.HeaderByNumber(n)
	require.NoError(t, err)
	return h
}
