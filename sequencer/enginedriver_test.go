package sequencer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/ethereum-optimism/optimism/op-node/rollup/derive"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/params"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/follower"
	"github.com/strata-chain/strata/history/store"
	"github.com/strata-chain/strata/sequencer/engine/opgethtest"
)

// virtualClock is chain time that moves only when the driver sleeps, so a
// run of 1 s blocks takes a fraction of the wall-clock time. Each sleep
// still waits a little real time (at most maxReal), which op-geth needs to
// fill a build from its pool before it is collected.
type virtualClock struct {
	mu      sync.Mutex
	now     time.Time
	maxReal time.Duration
}

func (c *virtualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *virtualClock) Sleep(ctx context.Context, d time.Duration) bool {
	if !(wallClock{}).Sleep(ctx, min(d, c.maxReal)) {
		return false
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return true
}

// TestEngineDriverBuildsInOpGeth runs the engine driver against a real
// op-geth for 8 blocks at 1 s (on a virtual clock), under the mixed load,
// across Jovian's activation and two synthetic L1 epochs, while a Strata
// follower follows op-geth into a store. Every block must open with the
// L1-attributes deposit naming the right origin and sequence number, carry
// the epoch's deposits at epoch starts, the load's transactions otherwise
// (none in the Jovian upgrade block), the header fields the in-process
// sequencer writes, and be ingested by the follower with the same hash and
// a verified state root.
func TestEngineDriverBuildsInOpGeth(t *testing.T) {
	cfg := DefaultConfig()
	cfg.BlockTime = time.Second
	cfg.Load = LoadConfig{GasPerSecond: 3_000_000, Seed: 7, Accounts: 8}
	jovian := uint64(6)
	cfg.Forks = Forks{JovianAfter: &jovian}
	cfg.L1BlockTime = 4 * time.Second
	cfg.DepositsPerEpoch = 2
	const genesisMillis = 1_700_000_000_000
	g, err := Genesis(cfg, genesisMillis)
	require.NoError(t, err)
	// The load generator's fee cap is far above op-geth's default RPC fee cap
	// (1 ether a transaction).
	node := opgethtest.Start(t, g)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	ecfg := DefaultEngineConfig()
	ecfg.URL, ecfg.JWTSecretPath, ecfg.RPCURL = node.AuthURL, node.JWTPath, node.HTTPURL
	clock := &virtualClock{now: time.UnixMilli(genesisMillis), maxReal: 150 * time.Millisecond}
	d, err := newEngineDriver(cfg, ecfg, quiet, clock)
	require.NoError(t, err)
	err = d.Start(ctx)
	require.NoError(t, err)
	defer d.Close()
	require.Equal(t, g.ToBlock().Hash(), d.Genesis().ToBlock().Hash())

	// A user deposit for the first epoch start, and a user transaction
	// through op-geth's pool.
	depositTo := common.HexToAddress("0x5700000000000000000000000000000000000777")
	require.NoError(t, d.AddDeposit(Deposit{From: common.HexToAddress("0xde90"), To: &depositTo, Mint: big.NewInt(params.Ether), Value: big.NewInt(7), Gas: 50_000}))
	dev := DevKeys(1)[0]
	userTx := types.MustSignNewTx(dev, types.LatestSigner(d.ChainConfig()), &types.DynamicFeeTx{
		ChainID: d.ChainConfig().ChainID, Nonce: 0, GasTipCap: big.NewInt(1000), GasFeeCap: big.NewInt(params.GWei),
		Gas: 21_000, To: &depositTo, Value: big.NewInt(1),
	})
	require.NoError(t, d.SubmitTransaction(userTx))
	require.Error(t, d.SubmitTransaction(userTx), "op-geth's pool refuses a duplicate")

	// A follower of op-geth, from the genesis file.
	genesisPath := filepath.Join(t.TempDir(), "genesis.json")
	raw, err := json.Marshal(d.Genesis())
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(genesisPath, raw, 0o644))
	st, err := store.OpenMem(store.DefaultConfig())
	require.NoError(t, err)
	defer st.Close()
	fcfg := follower.DefaultConfig()
	fcfg.URL, fcfg.GenesisFile = node.HTTPURL, genesisPath
	fol, err := follower.New(fcfg, st, quiet)
	require.NoError(t, err)
	defer fol.Stop()
	require.NoError(t, fol.Start(ctx))
	folCtx, stopFol := context.WithCancel(ctx)
	folDone := make(chan error, 1)
	go func() { folDone <- fol.Run(folCtx) }()

	const blocks = 8
	var infos []EngineBlockInfo
	runCtx, stop := context.WithCancel(ctx)
	d.OnBlock(func(info EngineBlockInfo) {
		infos = append(infos, info)
		if info.Number >= blocks {
			stop()
		}
	})
	start := time.Now()
	require.NoError(t, d.Run(runCtx))
	took := time.Since(start)
	require.Len(t, infos, blocks)

	ec := ethclient.NewClient(node.RPC)
	rc := d.RollupConfig()
	userTxs, loadTxs := 0, 0
	loadAddrs := map[common.Address]bool{}
	for _, k := range loadKeys(cfg.Load.Seed, cfg.Load.Accounts) {
		loadAddrs[crypto.PubkeyToAddress(k.PublicKey)] = true
	}
	var sawUserTx, sawUserDeposit bool
	for i, info := range infos {
		n := uint64(i + 1)
		require.Equal(t, n, info.Number)
		require.Equal(t, 1, info.Attempts, "block %d was refused", n)
		b, err := ec.BlockByNumber(ctx, new(big.Int).SetUint64(n))
		require.NoError(t, err)
		require.Equal(t, info.Hash, b.Hash(), "block %d", n)
		require.Equal(t, d.seq.headerTime(n), b.Time(), "block %d on the grid", n)
		require.Equal(t, ExtraData(d.ChainConfig(), b.Time()), b.Extra(), "block %d extraData", n)
		require.Equal(t, cfg.GasLimit, b.GasLimit())
		require.Equal(t, cfg.FeeRecipient, b.Coinbase())

		txs := b.Transactions()
		require.NotEmpty(t, txs)
		first := txs[0]
		require.True(t, first.IsDepositTx(), "block %d opens with a deposit", n)
		require.Equal(t, L1BlockAddress, *first.To(), "block %d: the L1-attributes deposit", n)
		k, seq := d.seq.l1.Origin(n, d.seq.BlockMillis)
		l1info, err := derive.L1BlockInfoFromBytes(rc, b.Time(), first.Data())
		require.NoError(t, err, "block %d", n)
		require.Equal(t, seq, l1info.SequenceNumber, "block %d", n)
		require.Equal(t, k, l1info.Number, "block %d origin", n)
		require.Equal(t, d.seq.l1.Header(k).Hash(), l1info.BlockHash, "block %d origin hash", n)

		deposits, users := 0, 0
		for _, tx := range txs {
			if tx.IsDepositTx() {
				deposits++
				if tx.To() != nil && *tx.To() == depositTo {
					sawUserDeposit = true
				}
				continue
			}
			users++
			from, err := types.Sender(types.LatestSigner(d.ChainConfig()), tx)
			require.NoError(t, err)
			if loadAddrs[from] {
				loadTxs++
			}
			if tx.Hash() == userTx.Hash() {
				sawUserTx = true
			}
		}
		wantDeposits := 1
		if seq == 0 {
			wantDeposits += cfg.DepositsPerEpoch
			if k == 1 {
				wantDeposits++ // the one AddDeposit queued
			}
		}
		require.Equal(t, wantDeposits, deposits, "block %d (epoch %d, sequence %d)", n, k, seq)
		require.Equal(t, deposits, info.Deposits)
		upgrade := d.ChainConfig().IsJovian(b.Time()) && !d.ChainConfig().IsJovian(b.Time()-1)
		switch {
		case upgrade:
			require.Zero(t, users, "block %d activates Jovian: no user transactions", n)
		case n >= 2:
			require.Positive(t, users, "block %d carries the load", n)
		}
		userTxs += users
		t.Logf("block %d: %d txs (%d deposits, %d user), gas %d, epoch %d seq %d; fcu+attrs %s, getPayload %s, newPayload %s, fcu %s",
			n, len(txs), deposits, users, b.GasUsed(), k, seq, info.StartBuild.Round(time.Microsecond), info.GetPayload.Round(time.Microsecond),
			info.NewPayload.Round(time.Microsecond), info.SetHead.Round(time.Microsecond))
	}
	require.True(t, sawUserTx, "the submitted transaction made it through op-geth's pool")
	require.True(t, sawUserDeposit, "the queued deposit was included at the epoch start")
	require.Positive(t, loadTxs)
	require.True(t, d.ChainConfig().IsJovian(d.seq.headerTime(blocks)) && !d.ChainConfig().IsJovian(d.seq.headerTime(1)), "the run crossed Jovian")

	// The follower ingests every block op-geth made, verifying its root.
	require.Eventually(t, func() bool {
		h, err := st.Head()
		return err == nil && h.Number >= blocks
	}, time.Minute, 20*time.Millisecond, "the follower reaches block %d", blocks)
	stopFol()
	require.NoError(t, <-folDone)
	for n := uint64(0); n <= blocks; n++ {
		ours, err := st.HeaderByNumber(n)
		require.NoError(t, err)
		theirs, err := ec.HeaderByNumber(ctx, new(big.Int).SetUint64(n))
		require.NoError(t, err)
		require.Equal(t, theirs.Hash(), ours.Hash(), "block %d", n)
		require.Equal(t, theirs.Root, ours.Root, "block %d state root", n)
	}

	stats := d.CallStats()
	methods := make([]string, 0, len(stats))
	for m := range stats {
		methods = append(methods, m)
	}
	sort.Strings(methods)
	for _, m := range methods {
		s := stats[m]
		require.Zero(t, s.Errors, m)
		t.Logf("%-40s calls %3d  p50 %8s  p99 %8s  max %8s", m, s.Calls, s.P50.Round(time.Microsecond), s.P99.Round(time.Microsecond), s.Max.Round(time.Microsecond))
	}
	for _, m := range []string{CallBuild, "engine_forkchoiceUpdatedV3", "engine_getPayloadV4", "engine_newPayloadV4"} {
		require.GreaterOrEqual(t, stats[m].Calls, blocks, m)
	}
	t.Logf("%d blocks (%d user transactions, %d from the load) in %s of wall-clock time", blocks, userTxs, loadTxs, took.Round(time.Millisecond))
}

// TestEngineModeRefusesSubSecondBlocks: op-geth refuses a block whose
// timestamp equals its parent's, so engine mode under the seconds policy
// needs whole-second blocks, and says so before dialing anything.
func TestEngineModeRefusesSubSecondBlocks(t *testing.T) {
	ecfg := DefaultEngineConfig()
	ecfg.JWTSecretPath = "jwt.hex"
	cfg := DefaultConfig()
	require.Equal(t, 200*time.Millisecond, cfg.BlockTime)
	err := ecfg.Validate(cfg)
	require.Error(t, err)
	require.Contains(t, err.Error(), "engine mode: op-geth refuses a block whose timestamp is not above its parent's, so under the seconds timestamp policy the block time must be whole seconds (at least 1s), got 200ms")
	_, err = OpenEngineDriver(context.Background(), cfg, ecfg, quiet)
	require.ErrorContains(t, err, "got 200ms")

	cfg.BlockTime = 1500 * time.Millisecond
	require.ErrorContains(t, ecfg.Validate(cfg), "got 1.5s")
	for _, bt := range []time.Duration{time.Second, 2 * time.Second} {
		cfg.BlockTime = bt
		require.NoError(t, ecfg.Validate(cfg), bt)
	}
	// Millisecond timestamps differ block to block.
	cfg.BlockTime, cfg.TimestampPolicy = 200*time.Millisecond, TimestampMilliseconds
	require.NoError(t, ecfg.Validate(cfg))

	cfg = DefaultConfig()
	cfg.BlockTime = time.Second
	bad := EngineConfig{URL: "tcp://x", RPCURL: ""}
	err = bad.Validate(cfg)
	for _, want := range []string{`op-geth URL "tcp://x": want http, https, ws or wss`, "no op-geth RPC URL", "no JWT secret file", "timeout"} {
		require.ErrorContains(t, err, want)
	}
}

// TestEngineDriverMillisecondTimestamps: under the milliseconds policy
// every block has its own timestamp, so op-geth takes 200 ms blocks.
func TestEngineDriverMillisecondTimestamps(t *testing.T) {
	cfg := DefaultConfig()
	cfg.TimestampPolicy = TimestampMilliseconds
	cfg.Load = LoadConfig{GasPerSecond: 3_000_000, Seed: 7, Accounts: 8}
	const genesisMillis = 1_700_000_000_000
	g, err := Genesis(cfg, genesisMillis)
	require.NoError(t, err)
	node := opgethtest.Start(t, g)
	ctx := context.Background()
	ecfg := DefaultEngineConfig()
	ecfg.URL, ecfg.JWTSecretPath, ecfg.RPCURL = node.AuthURL, node.JWTPath, node.HTTPURL
	clock := &virtualClock{now: time.UnixMilli(genesisMillis), maxReal: 100 * time.Millisecond}
	d, err := newEngineDriver(cfg, ecfg, quiet, clock)
	require.NoError(t, err)
	err = d.Start(ctx)
	require.NoError(t, err)
	defer d.Close()
	runCtx, stop := context.WithCancel(ctx)
	users := 0
	d.OnBlock(func(info EngineBlockInfo) {
		require.Equal(t, 1, info.Attempts, "block %d was refused", info.Number)
		users += info.Txs - info.Deposits
		if info.Number >= 5 {
			stop()
		}
	})
	require.NoError(t, d.Run(runCtx))
	h, err := ethclient.NewClient(node.RPC).HeaderByNumber(ctx, nil)
	require.NoError(t, err)
	require.Equal(t, uint64(5), h.Number.Uint64())
	require.Equal(t, uint64(genesisMillis+5*200), h.Time, "header time in milliseconds")
	require.Positive(t, users)
}

// refusingProxy sits in front of op-geth's authrpc and answers chosen calls
// itself: the n-th call of a method (counting from 1) gets a canned result
// or error instead of op-geth's.
type refusingProxy struct {
	mu      sync.Mutex
	seen    map[string]int
	canned  map[string]map[int]string // method → call number → the JSON after "id":..,
	target  *url.URL
	forward *httputil.ReverseProxy
}

func (p *refusingProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
	}
	_ = json.Unmarshal(body, &req)
	p.mu.Lock()
	p.seen[req.Method]++
	canned, ok := p.canned[req.Method][p.seen[req.Method]]
	p.mu.Unlock()
	if ok {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,%s}`, req.ID, canned)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	p.forward.ServeHTTP(w, r)
}

// TestEngineDriverRetriesRefusals: an INVALID or SYNCING payload status and
// an Engine API error are logged with the block, the method and op-geth's
// message, and the block is built again after a backoff; the chain goes on.
func TestEngineDriverRetriesRefusals(t *testing.T) {
	cfg := DefaultConfig()
	cfg.BlockTime = time.Second
	cfg.Load.GasPerSecond = 0
	const genesisMillis = 1_700_000_000_000
	g, err := Genesis(cfg, genesisMillis)
	require.NoError(t, err)
	node := opgethtest.Start(t, g)
	target, err := url.Parse(node.AuthURL)
	require.NoError(t, err)
	proxy := &refusingProxy{seen: map[string]int{}, target: target, forward: httputil.NewSingleHostReverseProxy(target), canned: map[string]map[int]string{
		// Block 2's build: op-geth refuses the attributes.
		"engine_forkchoiceUpdatedV3": {3: `"error":{"code":-38003,"message":"Invalid payload attributes","data":{"err":"test refusal"}}`},
		// Block 3's import: SYNCING, then INVALID.
		"engine_newPayloadV4": {
			3: `"result":{"status":"SYNCING","latestValidHash":null,"validationError":null}`,
			4: `"result":{"status":"INVALID","latestValidHash":null,"validationError":"test: invalid block"}`,
		},
	}}
	srv := httptest.NewServer(proxy)
	defer srv.Close()

	var logs bytes.Buffer
	var logMu sync.Mutex
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &logMu}, nil))
	ecfg := DefaultEngineConfig()
	ecfg.URL, ecfg.JWTSecretPath, ecfg.RPCURL = srv.URL, node.JWTPath, node.HTTPURL
	clock := &virtualClock{now: time.UnixMilli(genesisMillis), maxReal: 20 * time.Millisecond}
	ctx := context.Background()
	d, err := newEngineDriver(cfg, ecfg, log, clock)
	require.NoError(t, err)
	err = d.Start(ctx)
	require.NoError(t, err)
	defer d.Close()
	runCtx, stop := context.WithCancel(ctx)
	attempts := map[uint64]int{}
	d.OnBlock(func(info EngineBlockInfo) {
		attempts[info.Number] = info.Attempts
		if info.Number >= 4 {
			stop()
		}
	})
	require.NoError(t, d.Run(runCtx))
	require.Equal(t, map[uint64]int{1: 1, 2: 2, 3: 3, 4: 1}, attempts)
	h, err := ethclient.NewClient(node.RPC).HeaderByNumber(ctx, nil)
	require.NoError(t, err)
	require.Equal(t, uint64(4), h.Number.Uint64())

	logMu.Lock()
	out := logs.String()
	logMu.Unlock()
	t.Log(out)
	for _, want := range []string{
		`msg="op-geth refused the block; retrying" number=2 method=engine_forkchoiceUpdatedV3 status=error message="engine_forkchoiceUpdatedV3 head`,
		`Invalid payload attributes (map[err:test refusal])" attempt=1 backoff=100ms`,
		`number=3 method=engine_newPayloadV4 status=SYNCING message="no validation error given" attempt=1 backoff=100ms`,
		`number=3 method=engine_newPayloadV4 status=INVALID message="test: invalid block" attempt=2 backoff=200ms`,
	} {
		require.Contains(t, out, want)
	}
	stats := d.CallStats()
	require.Equal(t, 1, stats[CallBuild].Errors, "the refused build is a failed call")
	require.Zero(t, stats["engine_newPayloadV4"].Errors, "a payload status is not a failed call")
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
