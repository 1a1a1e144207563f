package follower_test

import (
	"context"
	crand "crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/beacon/engine"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/api"
	"github.com/strata-chain/strata/follower"
	"github.com/strata-chain/strata/history/store"
	"github.com/strata-chain/strata/sequencer"
	enginecl "github.com/strata-chain/strata/sequencer/engine"
	"github.com/strata-chain/strata/sequencer/engine/opgethtest"
)

// devKey is geth's fixed --dev account key (cmd/utils.DeveloperKey).
const devKey = "b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291"

// startGeth runs op-geth as an archive node of an Ethereum-shaped chain (the
// dev genesis through Prague) and seals a block from its pool every 300 ms
// through the Engine API, as geth --dev's simulated beacon does. (That
// beacon, in this op-geth, now and then stops sealing for good when a
// payload build times out on a loaded machine, so the tests drive op-geth
// themselves.) It returns the RPC URL and the genesis.
func startGeth(t *testing.T, gasLimit uint64, dev common.Address) (string, *core.Genesis) {
	t.Helper()
	g := core.DeveloperGenesisBlock(gasLimit, &dev)
	// The Engine API client speaks the Prague versions (V4); Osaka's
	// getPayloadV5 is not needed here.
	g.Config.OsakaTime, g.Config.BPO1Time, g.Config.BPO2Time = nil, nil, nil
	node := opgethtest.Start(t, g)
	startSealer(t, node, 300*time.Millisecond)
	return node.HTTPURL, g
}

// startSealer makes op-geth build and import a block every interval until
// the test ends: forkchoiceUpdated with payload attributes on its current
// head (which debug_setHead may have moved), getPayload, newPayload and
// forkchoiceUpdated to the new block.
func startSealer(t *testing.T, node *opgethtest.Node, every time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cl := enginecl.New(enginecl.Config{URL: node.AuthURL, JWTSecretPath: node.JWTPath})
	require.NoError(t, cl.Start(ctx))
	done := make(chan struct{})
	var lastErr atomic.Value
	go func() {
		defer close(done)
		tk := time.NewTicker(every)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
			}
			if err := sealOne(ctx, cl, node.RPC); err != nil && ctx.Err() == nil {
				lastErr.Store(err.Error())
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		cl.Stop()
		if err, ok := lastErr.Load().(string); ok && t.Failed() {
			t.Logf("last sealing error: %s", err)
		}
	})
}

func sealOne(ctx context.Context, cl *enginecl.Client, c *rpc.Client) error {
	var head struct {
		Hash common.Hash    `json:"hash"`
		Time hexutil.Uint64 `json:"timestamp"`
	}
	if err := c.CallContext(ctx, &head, "eth_getBlockByNumber", "latest", false); err != nil {
		return err
	}
	beacon := common.Hash{}
	// A fresh prevRandao makes every block new, even one rebuilt at the
	// height and time of a block debug_setHead dropped (op-geth would take
	// that one as known and answer SYNCING).
	var random common.Hash
	_, _ = crand.Read(random[:])
	attrs := &engine.PayloadAttributes{Timestamp: uint64(head.Time) + 1, Random: random, Withdrawals: []*types.Withdrawal{}, BeaconRoot: &beacon}
	res, err := cl.ForkchoiceUpdated(ctx, engine.ForkchoiceStateV1{HeadBlockHash: head.Hash}, attrs)
	if err != nil {
		return err
	}
	if res.PayloadID == nil {
		return fmt.Errorf("no payload id: %s", res.PayloadStatus.Status)
	}
	time.Sleep(50 * time.Millisecond) // the builder fills the block from the pool
	env, err := cl.GetPayload(ctx, *res.PayloadID, true)
	if err != nil {
		return err
	}
	st, err := cl.NewPayload(ctx, env.ExecutionPayload, beacon, true)
	if err != nil {
		return err
	}
	if st.Status != engine.VALID {
		return fmt.Errorf("newPayload: %s", st.Status)
	}
	_, err = cl.ForkchoiceUpdated(ctx, engine.ForkchoiceStateV1{HeadBlockHash: env.ExecutionPayload.BlockHash}, nil)
	return err
}

// gethChain is a geth --dev archive node that has made blocks with a mix
// of transactions.
type gethChain struct {
	url, genesisFile string
	head             uint64
	touched          []common.Address
	rpc              *rpc.Client
	send             func(to *common.Address, value *big.Int, gas uint64, data []byte) common.Hash
	wait             func(common.Hash) map[string]any
	setNonce         func(uint64)
}

// newGethChain starts geth --dev and sends transfers to new accounts,
// deployments, storage writes and clears, contracts that self-destruct in
// their creation transaction and value to precompiles.
func newGethChain(t *testing.T) *gethChain {
	const gasLimit = 30_000_000
	key, err := crypto.HexToECDSA(devKey)
	require.NoError(t, err)
	dev := crypto.PubkeyToAddress(key.PublicKey)
	url, g := startGeth(t, gasLimit, dev)
	raw, err := json.Marshal(g)
	require.NoError(t, err)
	genesisFile := filepath.Join(t.TempDir(), "genesis.json")
	require.NoError(t, os.WriteFile(genesisFile, raw, 0o644))

	geth, err := rpc.Dial(url)
	require.NoError(t, err)
	t.Cleanup(geth.Close)
	signer := types.LatestSigner(g.Config)
	nonce := uint64(0)
	var touched []common.Address
	var waitReceipt func(common.Hash) map[string]any
	send := func(to *common.Address, value *big.Int, gas uint64, data []byte) common.Hash {
		tx := types.MustSignNewTx(key, signer, &types.DynamicFeeTx{
			ChainID: g.Config.ChainID, Nonce: nonce, GasTipCap: big.NewInt(1e9), GasFeeCap: big.NewInt(100e9), Gas: gas, To: to, Value: value, Data: data,
		})
		nonce++
		b, err := tx.MarshalBinary()
		require.NoError(t, err)
		var h common.Hash
		require.NoError(t, geth.Call(&h, "eth_sendRawTransaction", hexutil.Bytes(b)))
		return h
	}
	waitReceipt = func(h common.Hash) map[string]any {
		deadline := time.Now().Add(time.Minute)
		for time.Now().Before(deadline) {
			var r map[string]any
			err := geth.Call(&r, "eth_getTransactionReceipt", h)
			if err != nil && strings.Contains(err.Error(), "transaction indexing is in progress") {
				// geth's indexer is still starting: poll it until it answers.
				time.Sleep(10 * time.Millisecond)
				continue
			}
			require.NoError(t, err)
			if r != nil {
				return r
			}
			time.Sleep(10 * time.Millisecond) // geth mines on arrival; poll until it has
		}
		t.Fatalf("transaction %s not mined within a minute", h)
		return nil
	}
	t.Log("geth serves at", url)
	touched = append(touched, dev, common.HexToAddress("0xdead"))
	deploy := send(nil, nil, 500_000, sequencer.CreationCode(sequencer.StorageContractCode(), 3))
	r := waitReceipt(deploy)
	storage := common.HexToAddress(r["contractAddress"].(string))
	touched = append(touched, storage)
	var last common.Hash
	for i := 0; i < 6; i++ {
		to := common.BigToAddress(big.NewInt(int64(0x5000 + i)))
		touched = append(touched, to)
		send(&to, big.NewInt(int64(1+i)), 21_000, nil)
		pairs := [][2]common.Hash{{common.BigToHash(big.NewInt(int64(10 + i))), common.BigToHash(big.NewInt(int64(i + 1)))}}
		if i > 0 {
			pairs = append(pairs, [2]common.Hash{common.BigToHash(big.NewInt(int64(10 + i - 1))), {}}, [2]common.Hash{common.BigToHash(big.NewInt(0)), {}})
		}
		send(&storage, nil, 200_000, sequencer.StorageCalldata(pairs))
		precompile := common.BytesToAddress([]byte{byte(1 + i)})
		touched = append(touched, precompile)
		send(&precompile, big.NewInt(1), 100_000, nil)
		if i%2 == 0 {
			sd := send(nil, big.NewInt(7), 200_000, sequencer.SelfDestructingCreationCode(common.HexToAddress("0xbeef")))
			touched = append(touched, crypto.CreateAddress(dev, nonce-1))
			last = sd
		} else {
			last = send(nil, nil, 500_000, sequencer.CreationCode(sequencer.StorageContractCode(), 2))
			touched = append(touched, crypto.CreateAddress(dev, nonce-1))
		}
	}
	touched = append(touched, common.HexToAddress("0xbeef"))
	waitReceipt(last)
	t.Log("transactions mined")
	// Reorg tests need history deeper than 10 blocks; empty blocks come
	// every 300 ms.
	var gethHead hexutil.Uint64
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		require.NoError(t, geth.Call(&gethHead, "eth_blockNumber"))
		if gethHead >= 12 || time.Now().After(deadline) {
			break
		}
	}
	require.GreaterOrEqual(t, uint64(gethHead), uint64(12))
	return &gethChain{url: url, genesisFile: genesisFile, head: uint64(gethHead), touched: touched, rpc: geth, send: send, wait: waitReceipt,
		setNonce: func(n uint64) { nonce = n }}
}

// gethWithChain is newGethChain for tests that need only where it serves.
func gethWithChain(t *testing.T) (url, genesisFile string, head uint64) {
	c := newGethChain(t)
	return c.url, c.genesisFile, c.head
}

// TestFollowRealGeth follows a real geth --dev archive node through a mix of
// transactions and compares Strata's raw eth_getProof JSON with geth's for
// every touched account and slot at every block.
func TestFollowRealGeth(t *testing.T) {
	c := newGethChain(t)
	ctx := context.Background()
	url, genesisFile, geth, touched, gethHead := c.url, c.genesisFile, c.rpc, c.touched, hexutil.Uint64(c.head)

	s, err := store.OpenMem(store.DefaultConfig())
	require.NoError(t, err)
	defer s.Close()
	cfg := follower.DefaultConfig()
	cfg.URL, cfg.GenesisFile = url, genesisFile
	cfg.CatchupThreshold = 3 // geth is ~12 blocks ahead: most blocks are requested ahead
	f, err := follower.New(cfg, s, slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})))
	require.NoError(t, err)
	defer f.Stop()
	require.NoError(t, f.Start(ctx))
	runCtx, cancel := context.WithTimeout(ctx, time.Minute) // a stuck follower fails the test below
	prefetched := 0
	f.OnBlock(func(info follower.BlockInfo) {
		if info.Prefetched {
			prefetched++
		}
		if info.Number >= uint64(gethHead) {
			cancel()
		}
	})
	t.Log("following")
	require.NoError(t, f.Run(runCtx))
	head, err := s.Head()
	require.NoError(t, err)
	require.Equal(t, uint64(gethHead), head.Number, "the follower reached geth's head")
	require.Positive(t, prefetched, "blocks were requested ahead while behind")

	srv, err := api.NewRPCServer(api.Config{ChainConfig: f.ChainConfig(), Reader: s})
	require.NoError(t, err)
	defer srv.Stop()
	strata := rpc.DialInProc(srv)
	defer strata.Close()
	slots := []string{"0x0", "0x1", "0x2", common.BigToHash(big.NewInt(10)).Hex(), "0x0b", "0xc", "0xd", "0xe", "0xf"}
	compared := 0
	for n := uint64(0); n <= uint64(gethHead); n++ {
		for _, a := range touched {
			var want, got json.RawMessage
			require.NoError(t, geth.Call(&want, "eth_getProof", a, slots, hexutil.Uint64(n)))
			require.NoError(t, strata.Call(&got, "eth_getProof", a, slots, hexutil.Uint64(n)))
			require.Equal(t, string(want), string(got), "eth_getProof %s at block %d", a, n)
			compared++
		}
	}
	t.Logf("followed %d geth blocks; %d eth_getProof answers byte-identical", gethHead, compared)
}

// testWriter sends log lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
