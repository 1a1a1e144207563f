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
	"testing"
	"time"

	"github.com/ethereum-optimism/optimism/op-node/rollup"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/bench"
	"github.com/strata-chain/strata/follower"
	"github.com/strata-chain/strata/sequencer"
	"github.com/strata-chain/strata/sequencer/engine/opgethtest"
)

// TestEngineModeNode runs a node in engine mode against a real op-geth at
// 1 s blocks: op-geth makes the blocks, the node follows them into its
// store and serves them (and verified proofs), forwards eth_sendRawTransaction
// to op-geth's pool, serves the sequencer's rollup config, keeps the genesis
// in the datadir and exports the Engine API latencies. A follower-mode node
// then follows the same op-geth with that genesis and a rollup.json: the
// matching one is served, one for another chain is refused at startup.
func TestEngineModeNode(t *testing.T) {
	dir := t.TempDir()
	cfg := testNodeConfig(dir)
	cfg.Follower = follower.DefaultConfig()
	cfg.MetricsPort = freePort(t)
	cfg.Sequencer.BlockTime = time.Second
	cfg.Sequencer.Load = sequencer.LoadConfig{GasPerSecond: 2_000_000, Seed: 1, Accounts: 4}
	g, err := sequencer.Genesis(cfg.Sequencer, uint64(time.Now().Unix())*1000)
	require.NoError(t, err)
	geth := opgethtest.Start(t, g)
	cfg.Engine = sequencer.DefaultEngineConfig()
	cfg.Engine.URL, cfg.Engine.JWTSecretPath, cfg.Engine.RPCURL = geth.AuthURL, geth.JWTPath, geth.HTTPURL

	n, err := startNode(context.Background(), cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer n.Close()
	require.Nil(t, n.seq, "engine mode runs no in-process sequencer")
	require.Equal(t, "sequencer", n.mode())
	onDisk, err := readGenesisFile(filepath.Join(dir, genesisFileName))
	require.NoError(t, err)
	require.Equal(t, g.ToBlock().Hash(), onDisk.ToBlock().Hash(), "the datadir keeps op-geth's genesis")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- n.run(ctx) }()

	cl, err := rpc.Dial("http://" + n.api.HTTPAddr())
	require.NoError(t, err)
	defer cl.Close()
	// A user's transaction through Strata reaches op-geth's pool and a block.
	key := sequencer.DevKeys(1)[0]
	to := common.HexToAddress("0x1234")
	tx := types.MustSignNewTx(key, types.LatestSigner(g.Config), &types.DynamicFeeTx{
		ChainID: g.Config.ChainID, Nonce: 0, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(params.GWei), Gas: 21_000, To: &to, Value: big.NewInt(42),
	})
	raw, err := tx.MarshalBinary()
	require.NoError(t, err)
	var hash common.Hash
	require.NoError(t, cl.Call(&hash, "eth_sendRawTransaction", hexutil.Bytes(raw)))
	require.Equal(t, tx.Hash(), hash)
	require.Error(t, cl.Call(&hash, "eth_sendRawTransaction", hexutil.Bytes(raw)), "op-geth's refusal comes back")

	const blocks = 3
	require.Eventually(t, func() bool {
		var receipt map[string]any
		h, err := n.store.Head()
		return err == nil && h.Number >= blocks && cl.Call(&receipt, "eth_getTransactionReceipt", hash) == nil && receipt != nil
	}, 2*time.Minute, 50*time.Millisecond)
	cancel()
	require.NoError(t, <-done)

	var head hexutil.Uint64
	require.NoError(t, cl.Call(&head, "eth_blockNumber"))
	for b := uint64(1); b <= uint64(head); b++ {
		var ours, theirs struct {
			Hash common.Hash `json:"hash"`
			Root common.Hash `json:"stateRoot"`
			Txs  []any       `json:"transactions"`
		}
		require.NoError(t, cl.Call(&ours, "eth_getBlockByNumber", hexutil.Uint64(b), false))
		require.NoError(t, geth.RPC.Call(&theirs, "eth_getBlockByNumber", hexutil.Uint64(b), false))
		require.Equal(t, theirs.Hash, ours.Hash, "block %d", b)
		require.Len(t, ours.Txs, len(theirs.Txs))
		for _, a := range []common.Address{sequencer.MessagePasserAddress, crypto.PubkeyToAddress(key.PublicKey), to} {
			var proof json.RawMessage
			require.NoError(t, cl.Call(&proof, "eth_getProof", a, []string{"0x0"}, hexutil.Uint64(b)))
			require.NoError(t, bench.VerifyAccountResult(proof, ours.Root), "block %d %s", b, a)
		}
	}
	var bal hexutil.Big
	require.NoError(t, cl.Call(&bal, "eth_getBalance", to, "latest"))
	require.Equal(t, int64(42), bal.ToInt().Int64())
	var served rollup.Config
	require.NoError(t, cl.Call(&served, "optimism_rollupConfig"))
	require.Equal(t, n.drv.RollupConfig().Genesis.L2.Hash, served.Genesis.L2.Hash)
	require.Equal(t, g.ToBlock().Hash(), served.Genesis.L2.Hash)

	resp, err := http.Get("http://" + n.ops.Addr() + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, call := range []string{sequencer.CallBuild, "engine_getPayloadV4", "engine_newPayloadV4", "engine_forkchoiceUpdatedV3"} {
		require.Contains(t, string(body), `strata_engine_call_seconds{call="`+call+`",quantile="0.99"}`)
	}
	for call, s := range n.drv.CallStats() {
		t.Logf("%-40s calls %3d  p50 %8s  p99 %8s", call, s.Calls, s.P50.Round(time.Microsecond), s.P99.Round(time.Microsecond))
	}
	rc := n.drv.RollupConfig()
	require.NoError(t, n.Close())

	// Follower mode on the same op-geth, with a rollup.json.
	writeRollup := func(rc *rollup.Config) string {
		raw, err := json.Marshal(rc)
		require.NoError(t, err)
		path := filepath.Join(t.TempDir(), "rollup.json")
		require.NoError(t, os.WriteFile(path, raw, 0o644))
		return path
	}
	follow := func(rollupFile string) (*node, error) {
		fcfg := testNodeConfig(t.TempDir())
		fcfg.Mode, fcfg.Follower = "follower", follower.DefaultConfig()
		fcfg.Follower.URL, fcfg.Follower.GenesisFile = geth.HTTPURL, filepath.Join(dir, genesisFileName)
		fcfg.RollupFile = rollupFile
		return startNode(context.Background(), fcfg, slog.New(slog.DiscardHandler))
	}
	f, err := follow(writeRollup(rc))
	require.NoError(t, err)
	fcl, err := rpc.Dial("http://" + f.api.HTTPAddr())
	require.NoError(t, err)
	var fserved rollup.Config
	require.NoError(t, fcl.Call(&fserved, "optimism_rollupConfig"))
	fcl.Close()
	require.Equal(t, rc.Genesis.L2.Hash, fserved.Genesis.L2.Hash)
	require.NoError(t, f.Close())

	other := *rc
	other.L2ChainID = big.NewInt(902)
	other.Genesis.L2Time++
	_, err = follow(writeRollup(&other))
	require.Error(t, err)
	t.Log(err)
	for _, want := range []string{"rollup.config", "l2_chain_id 902 in rollup.json, 901 in the genesis", "genesis.l2_time"} {
		require.ErrorContains(t, err, want)
	}
}

// TestEngineModeConfigErrors: engine mode's settings are checked with the
// rest of the configuration, before anything is dialed.
func TestEngineModeConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"200 ms blocks", "engine:\n  url: http://127.0.0.1:8551\n  jwt: jwt.hex\n  rpc: http://127.0.0.1:8645\n",
			"engine mode: op-geth refuses a block whose timestamp is not above its parent's, so under the seconds timestamp policy the block time must be whole seconds (at least 1s), got 200ms"},
		{"no JWT", "sequencer:\n  block_time: 1s\nengine:\n  url: http://127.0.0.1:8551\n  rpc: http://127.0.0.1:8645\n", "no JWT secret file"},
		{"op-geth's RPC is Strata's", "sequencer:\n  block_time: 1s\nengine:\n  url: http://127.0.0.1:8551\n  jwt: jwt.hex\n",
			"engine.rpc http://127.0.0.1:8545 is Strata's own JSON-RPC"},
		{"engine in follower mode", "mode: follower\nfollower:\n  url: http://x\n  genesis: g.json\nengine:\n  url: http://127.0.0.1:8551\n  jwt: jwt.hex\n",
			"engine.url is for the fullstack and sequencer modes"},
		{"rollup.config outside follower mode", "rollup:\n  config: rollup.json\n", "rollup.config is for follower mode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "c.yaml")
			require.NoError(t, os.WriteFile(file, []byte(tc.yaml), 0o644))
			fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
			addFlags(fs)
			v, err := loadConfig(fs, file)
			require.NoError(t, err)
			_, err = nodeConfigFrom(v)
			require.ErrorContains(t, err, tc.want)
		})
	}
	// A good engine configuration.
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	addFlags(fs)
	require.NoError(t, fs.Parse([]string{"--sequencer.block_time", "1s", "--engine.url", "http://127.0.0.1:8551", "--engine.jwt", "jwt.hex",
		"--engine.rpc", "http://127.0.0.1:8645"}))
	v, err := loadConfig(fs, "")
	require.NoError(t, err)
	cfg, err := nodeConfigFrom(v)
	require.NoError(t, err)
	require.True(t, cfg.engineMode())
	require.Equal(t, "jwt.hex", cfg.Engine.JWTSecretPath)
	require.Equal(t, sequencer.DefaultEngineConfig().Timeout, cfg.Engine.Timeout)
}

// TestGenesisCommand: strata genesis writes the devnet genesis of the
// configuration at the given time, as the sequencer makes it.
func TestGenesisCommand(t *testing.T) {
	out := filepath.Join(t.TempDir(), "genesis.json")
	cmd := newRootCmd()
	cmd.SetArgs([]string{"genesis", "--config", "../../configs/devnet.yaml", "--sequencer.chain_id", "77", "--time", "1700000000", "--out", out})
	cmd.SetErr(io.Discard)
	require.NoError(t, cmd.Execute())
	got, err := readGenesisFile(out)
	require.NoError(t, err)
	cfg := sequencer.DefaultConfig()
	cfg.ChainID = 77
	want, err := sequencer.Genesis(cfg, 1_700_000_000_000)
	require.NoError(t, err)
	require.Equal(t, want.ToBlock().Hash(), got.ToBlock().Hash())
	require.Equal(t, uint64(1_700_000_000), got.Timestamp)
}
