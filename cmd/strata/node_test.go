package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/bench"
	"github.com/strata-chain/strata/history/store"
	"github.com/strata-chain/strata/sequencer"
)

func testNodeConfig(dir string) nodeConfig {
	cfg := nodeConfig{
		Mode: "fullstack", DataDir: dir, HTTPAddr: "127.0.0.1", MetricsPort: 0,
		Store: store.DefaultConfig(), Sequencer: sequencer.DefaultConfig(),
	}
	cfg.Sequencer.BlockTime = 50 * time.Millisecond
	cfg.Sequencer.Load.Accounts = 4
	cfg.Contract = testContract()
	return cfg
}

// testContract keeps the shipping contract's lag in blocks but gives time
// limits no loaded test machine can break, so readiness in tests depends on
// what a test does, not on how busy the machine is.
func testContract() *bench.Contract {
	c := bench.DefaultContract()
	c.MaxLag, c.IngestP99 = 10*time.Minute, 10*time.Minute
	return c
}

// runUntil runs the node, starting it first if it is not started yet,
// calling stop each time a block lands; it returns when stop says so.
func runUntil(t *testing.T, n *node, stop func(sequencer.BlockInfo) bool) {
	t.Helper()
	if !n.started {
		require.NoError(t, n.Start(context.Background()))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	n.onBlock(func(info sequencer.BlockInfo) {
		select {
		case <-done:
		default:
			if stop(info) {
				close(done)
				cancel()
			}
		}
	})
	require.NoError(t, n.run(ctx))
}

func TestNodeServesVerifiedProofsAndResumes(t *testing.T) {
	dir := t.TempDir()
	cfg := testNodeConfig(dir)
	cfg.MetricsPort = freePort(t)
	n, err := startNode(context.Background(), cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	runUntil(t, n, func(info sequencer.BlockInfo) bool { return info.Number >= 20 })

	url := "http://" + n.api.HTTPAddr()
	cl, err := rpc.Dial(url)
	require.NoError(t, err)
	defer cl.Close()
	var head hexutil.Uint64
	require.NoError(t, cl.Call(&head, "eth_blockNumber"))
	require.GreaterOrEqual(t, uint64(head), uint64(20))
	dev := crypto.PubkeyToAddress(sequencer.DevKeys(1)[0].PublicKey)
	for _, a := range []common.Address{sequencer.MessagePasserAddress, sequencer.StorageContractAddress, sequencer.TokenAddress, dev, common.HexToAddress("0xdead")} {
		for b := uint64(0); b <= uint64(head); b += 5 {
			var raw json.RawMessage
			require.NoError(t, cl.Call(&raw, "eth_getProof", a, []string{"0x0", "0x1"}, hexutil.Uint64(b)))
			var blk struct {
				Root common.Hash `json:"stateRoot"`
			}
			require.NoError(t, cl.Call(&blk, "eth_getBlockByNumber", hexutil.Uint64(b), false))
			require.NoError(t, bench.VerifyAccountResult(raw, blk.Root), "block %d %s", b, a)
		}
	}
	// Readiness is green while blocks come.
	resp, err := http.Get("http://" + n.ops.Addr() + "/readyz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	metrics, err := http.Get("http://" + n.ops.Addr() + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(metrics.Body)
	metrics.Body.Close()
	require.Contains(t, string(body), "strata_head_number")
	require.Contains(t, string(body), "strata_history_ingest_seconds")

	// A user's transaction over eth_sendRawTransaction is included.
	key := sequencer.DevKeys(1)[0]
	var nonce hexutil.Uint64
	require.NoError(t, cl.Call(&nonce, "eth_getTransactionCount", dev, "latest"))
	to := common.HexToAddress("0x1234")
	tx := types.MustSignNewTx(key, types.LatestSigner(n.seq.ChainConfig()), &types.DynamicFeeTx{
		ChainID: n.seq.ChainConfig().ChainID, Nonce: uint64(nonce), GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(params.GWei), Gas: 21_000, To: &to, Value: big.NewInt(42),
	})
	raw, err := tx.MarshalBinary()
	require.NoError(t, err)
	var hash common.Hash
	require.NoError(t, cl.Call(&hash, "eth_sendRawTransaction", hexutil.Bytes(raw)))
	require.Equal(t, tx.Hash(), hash)
	runUntil(t, n, func(sequencer.BlockInfo) bool {
		var receipt map[string]any
		return cl.Call(&receipt, "eth_getTransactionReceipt", hash) == nil && receipt != nil
	})
	var bal hexutil.Big
	require.NoError(t, cl.Call(&bal, "eth_getBalance", to, "latest"))
	require.Equal(t, int64(42), bal.ToInt().Int64())
	last := n.seq.Head().Number.Uint64()
	require.NoError(t, n.Close())

	// A restart resumes from the stored head.
	n, err = startNode(context.Background(), testNodeConfig(dir), slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer n.Close()
	require.Equal(t, last, n.seq.Head().Number.Uint64())
	runUntil(t, n, func(info sequencer.BlockInfo) bool {
		require.Equal(t, last+1, info.Number)
		return true
	})
}

// TestMain lets a test run the strata command in a child process.
func TestMain(m *testing.M) {
	if args := os.Getenv("STRATA_TEST_MAIN"); args != "" {
		os.Args = append([]string{"strata"}, strings.Fields(args)...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestRunStopsCleanlyOnInterrupt runs `strata run` as a child process, sends
// it SIGINT once it has made blocks, and checks that it exits cleanly and
// that a second run resumes from the stored head.
func TestRunStopsCleanlyOnInterrupt(t *testing.T) {
	dir := t.TempDir()
	start := func() *strataChild {
		return startChild(t, "run --config ../../configs/devnet.yaml --datadir "+dir+
			" --http.port 0 --ws.port 0 --metrics.port 0 --grpc.port 0 --log.format json --status.interval 100ms --sequencer.block_time 50ms")
	}
	c := start()
	c.waitFor(`"msg":"Strata is serving"`)
	line := c.waitFor(`"msg":"Status"`)
	require.Contains(t, line, `"head"`)
	c.signal(syscall.SIGINT)
	c.waitFor("Stopped cleanly")
	require.NoError(t, c.wait(), "exit status 0 after SIGINT")

	c = start()
	line = c.waitFor("Resuming the chain from the stored head")
	var resumed struct {
		Number uint64 `json:"number"`
	}
	require.NoError(t, json.Unmarshal([]byte(line), &resumed))
	require.Positive(t, resumed.Number)
	c.signal(syscall.SIGINT)
	c.waitFor("Stopped cleanly")
	require.NoError(t, c.wait())
}

// TestStartupErrorIsReturned: newNode does no I/O, so a follower whose
// genesis file is missing builds; Start then fails with the file's name,
// without a panic, and leaves nothing open: the datadir can be opened
// again at once.
func TestStartupErrorIsReturned(t *testing.T) {
	cfg := testNodeConfig(filepath.Join(t.TempDir(), "data"))
	cfg.Mode = "follower"
	cfg.Follower.URL = "http://127.0.0.1:1"
	cfg.Follower.GenesisFile = filepath.Join(t.TempDir(), "no-such-genesis.json")
	n, err := newNode(cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.NoDirExists(t, cfg.DataDir, "newNode does no I/O")
	require.NotPanics(t, func() { err = n.Start(context.Background()) })
	require.ErrorContains(t, err, "no-such-genesis.json")
	require.Nil(t, n.store, "the store Start opened is closed again")
	s, err := store.Open(cfg.DataDir, store.DefaultConfig(), nil)
	require.NoError(t, err, "the datadir is not left locked")
	require.NoError(t, s.Close())
	require.ErrorContains(t, n.run(context.Background()), "not started")
	require.NoError(t, n.Stop(context.Background()), "Stop after a failed Start is safe")
}
