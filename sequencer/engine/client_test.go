package engine_test

import (
	"context"
	"crypto/ecdsa"
	"encoding/binary"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum-optimism/optimism/op-core/predeploys"
	"github.com/ethereum-optimism/optimism/op-node/rollup"
	"github.com/ethereum-optimism/optimism/op-node/rollup/derive"
	"github.com/ethereum-optimism/optimism/op-service/eth"
	beacon "github.com/ethereum/go-ethereum/beacon/engine"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/consensus/misc/eip1559"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/sequencer/engine"
	"github.com/strata-chain/strata/sequencer/engine/opgethtest"
)

func ptr[T any](v T) *T { return &v }

const (
	chainID  = 901
	gasLimit = 30_000_000
	// The Holocene EIP-1559 parameters the sequencer asks for.
	denominator = 250
	elasticity  = 6
)

// senderKey funds the test's transfers. Public knowledge: test use only.
var senderKey = func() *ecdsa.PrivateKey {
	k, err := crypto.HexToECDSA("8f2a55949038a9610f50fb23b5883af3b4ecb3c3bb792cbcefbd1542c692be63")
	if err != nil {
		panic(err)
	}
	return k
}()

var recipient = common.HexToAddress("0x5700000000000000000000000000000000000099")

// opGenesis is an OP Stack genesis with every Ethereum fork through Prague
// and every OP fork through Isthmus active (Jovian not); without isthmus,
// every fork through Cancun and Holocene.
func opGenesis(genesisTime uint64, isthmus bool) *core.Genesis {
	zero := uint64(0)
	var prague *uint64
	if isthmus {
		prague = &zero
	}
	cfg := &params.ChainConfig{
		ChainID:                 big.NewInt(chainID),
		HomesteadBlock:          big.NewInt(0),
		EIP150Block:             big.NewInt(0),
		EIP155Block:             big.NewInt(0),
		EIP158Block:             big.NewInt(0),
		ByzantiumBlock:          big.NewInt(0),
		ConstantinopleBlock:     big.NewInt(0),
		PetersburgBlock:         big.NewInt(0),
		IstanbulBlock:           big.NewInt(0),
		MuirGlacierBlock:        big.NewInt(0),
		BerlinBlock:             big.NewInt(0),
		LondonBlock:             big.NewInt(0),
		ArrowGlacierBlock:       big.NewInt(0),
		GrayGlacierBlock:        big.NewInt(0),
		MergeNetsplitBlock:      big.NewInt(0),
		TerminalTotalDifficulty: big.NewInt(0),
		ShanghaiTime:            &zero,
		CancunTime:              &zero,
		PragueTime:              prague,
		BedrockBlock:            big.NewInt(0),
		RegolithTime:            &zero,
		CanyonTime:              &zero,
		EcotoneTime:             &zero,
		FjordTime:               &zero,
		GraniteTime:             &zero,
		HoloceneTime:            &zero,
		IsthmusTime:             prague, // Isthmus is OP's Prague
		Optimism: &params.OptimismConfig{
			EIP1559Elasticity:        6,
			EIP1559Denominator:       50,
			EIP1559DenominatorCanyon: ptr(uint64(250)),
		},
	}
	g := &core.Genesis{
		Config:     cfg,
		Timestamp:  genesisTime,
		GasLimit:   gasLimit,
		Difficulty: big.NewInt(0),
		BaseFee:    big.NewInt(params.InitialBaseFee),
		// From Holocene, a block's EIP-1559 parameters are in its parent's
		// extraData, the genesis's included (op-chain-ops does the same).
		ExtraData:     eip1559.EncodeHoloceneExtraData(250, 6),
		Coinbase:      predeploys.SequencerFeeVaultAddr,
		BlobGasUsed:   ptr(uint64(0)),
		ExcessBlobGas: ptr(uint64(0)),
		Alloc: types.GenesisAlloc{
			params.BeaconRootsAddress:    {Nonce: 1, Code: params.BeaconRootsCode, Balance: common.Big0},
			params.HistoryStorageAddress: {Nonce: 1, Code: params.HistoryStorageCode, Balance: common.Big0},
			crypto.PubkeyToAddress(senderKey.PublicKey): {
				Balance: new(big.Int).Mul(big.NewInt(1_000_000), big.NewInt(params.Ether)),
			},
			// From Isthmus a header's withdrawalsRoot is this contract's
			// storage root: give it a slot so the root is not the empty one.
			predeploys.L2ToL1MessagePasserAddr: {
				Nonce:   1,
				Code:    []byte{0x5f, 0x5f, 0xfd}, // PUSH0 PUSH0 REVERT
				Balance: common.Big0,
				Storage: map[common.Hash]common.Hash{common.BigToHash(big.NewInt(1)): common.BigToHash(big.NewInt(0x57))},
			},
		},
	}
	if !isthmus {
		delete(g.Alloc, params.HistoryStorageAddress) // EIP-2935 comes with Prague
	}
	return g
}

// rollupConfig is the op-node rollup config matching opGenesis.
func rollupConfig(genesisTime uint64, isthmus bool) *rollup.Config {
	zero := uint64(0)
	var isthmusTime *uint64
	if isthmus {
		isthmusTime = &zero
	}
	return &rollup.Config{
		BlockTime:    1,
		L2ChainID:    big.NewInt(chainID),
		Genesis:      rollup.Genesis{L2Time: genesisTime},
		RegolithTime: &zero, CanyonTime: &zero, DeltaTime: &zero, EcotoneTime: &zero, FjordTime: &zero,
		GraniteTime: &zero, HoloceneTime: &zero, IsthmusTime: isthmusTime,
	}
}

// latencies collects OnCall reports.
type latencies struct {
	mu    sync.Mutex
	byM   map[string][]time.Duration
	errs  map[string]int
	calls []string // "method duration", in order
}

func (l *latencies) record(method string, d time.Duration, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byM == nil {
		l.byM, l.errs = map[string][]time.Duration{}, map[string]int{}
	}
	l.byM[method] = append(l.byM[method], d)
	if err != nil {
		l.errs[method]++
	}
	l.calls = append(l.calls, strings.TrimPrefix(method, "engine_")+" "+d.Round(10*time.Microsecond).String())
}

// since returns the calls after the first n and how many there are now.
func (l *latencies) since(n int) ([]string, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.calls[n:]...), len(l.calls)
}

func (l *latencies) report(t *testing.T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	methods := make([]string, 0, len(l.byM))
	for m := range l.byM {
		methods = append(methods, m)
	}
	sort.Strings(methods)
	for _, m := range methods {
		ds := append([]time.Duration(nil), l.byM[m]...)
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		q := func(p float64) time.Duration { return ds[int(p*float64(len(ds)-1)+0.5)] }
		t.Logf("%-28s calls %d errors %d  p50 %-10v p99 %-10v max %v", m, len(ds), l.errs[m], q(0.5), q(0.99), ds[len(ds)-1])
	}
}

// chain drives op-geth through the client the way op-node's sequencer does.
type chain struct {
	t         *testing.T
	cl        *engine.Client
	eth       *ethclient.Client
	node      *opgethtest.Node
	cfg       *params.ChainConfig
	rollupCfg *rollup.Config
	l1        eth.BlockInfo
	head      *types.Header
	genesis   common.Hash
	nonce     uint64
	lat       *latencies
	isthmus   bool
}

// l1Origin is a synthetic L1 block every L2 block of the test is in the
// epoch of.
func l1Origin(l2GenesisTime uint64) eth.BlockInfo {
	return eth.HeaderBlockInfo(&types.Header{
		ParentHash:       common.HexToHash("0x11"),
		Number:           big.NewInt(20_000_000),
		Time:             l2GenesisTime - 12,
		GasLimit:         36_000_000,
		BaseFee:          big.NewInt(3_000_000_000),
		Difficulty:       big.NewInt(0),
		WithdrawalsHash:  &types.EmptyWithdrawalsHash,
		BlobGasUsed:      ptr(uint64(0)),
		ExcessBlobGas:    ptr(uint64(10_000_000)),
		ParentBeaconRoot: ptr(common.HexToHash("0xbeac0")),
		RequestsHash:     &types.EmptyRequestsHash,
	})
}

// attributes are the payload attributes of the next block: the
// L1-attributes deposit and one transfer, nothing from the pool.
func (c *chain) attributes() *beacon.PayloadAttributes {
	t := c.t
	l2Time := c.head.Time + 1
	seq := c.head.Number.Uint64() // one epoch for the whole test
	sysCfg := eth.SystemConfig{
		BatcherAddr:       common.HexToAddress("0xba7c4e5"),
		Scalar:            eth.EncodeScalar(eth.EcotoneScalars{BlobBaseFeeScalar: 810_949, BaseFeeScalar: 1368}),
		GasLimit:          gasLimit,
		EIP1559Params:     eth.Bytes8(eip1559.EncodeHolocene1559Params(denominator, elasticity)),
		OperatorFeeParams: eth.EncodeOperatorFeeParams(eth.OperatorFeeParams{Scalar: 0, Constant: 0}),
	}
	// Mainnet's fork schedule prices the L1 block's blobs.
	l1Info, err := derive.L1InfoDepositBytes(c.rollupCfg, params.MainnetChainConfig, sysCfg, seq, c.l1, l2Time)
	require.NoError(t, err)
	var dep types.Transaction
	require.NoError(t, dep.UnmarshalBinary(l1Info))
	require.True(t, dep.IsDepositTx())
	info, err := derive.L1BlockInfoFromBytes(c.rollupCfg, l2Time, dep.Data())
	require.NoError(t, err)
	require.Equal(t, seq, info.SequenceNumber)
	require.Equal(t, uint32(1368), info.BaseFeeScalar)
	if c.isthmus {
		require.Len(t, dep.Data(), derive.L1InfoIsthmusLen, "not the Isthmus L1-attributes format")
	} else {
		require.Len(t, dep.Data(), derive.L1InfoEcotoneLen, "not the Ecotone L1-attributes format")
	}
	transfer := types.MustSignNewTx(senderKey, types.LatestSigner(c.cfg), &types.DynamicFeeTx{
		ChainID: c.cfg.ChainID, Nonce: c.nonce, GasTipCap: big.NewInt(1_000), GasFeeCap: big.NewInt(10_000_000_000),
		Gas: 21_000, To: &recipient, Value: big.NewInt(1_000_000 + int64(c.nonce)),
	})
	c.nonce++
	raw, err := transfer.MarshalBinary()
	require.NoError(t, err)
	var random common.Hash
	binary.BigEndian.PutUint64(random[24:], l2Time)
	return &beacon.PayloadAttributes{
		Timestamp:             l2Time,
		Random:                crypto.Keccak256Hash(random[:]),
		SuggestedFeeRecipient: predeploys.SequencerFeeVaultAddr,
		Withdrawals:           []*types.Withdrawal{},
		BeaconRoot:            c.l1.ParentBeaconRoot(),
		Transactions:          [][]byte{l1Info, raw},
		NoTxPool:              true,
		GasLimit:              ptr(uint64(gasLimit)),
		EIP1559Params:         eip1559.EncodeHolocene1559Params(denominator, elasticity),
	}
}

// build starts a build on the head and collects the payload.
func (c *chain) build(ctx context.Context) (*beacon.PayloadAttributes, *beacon.ExecutionPayloadEnvelope) {
	t := c.t
	attrs := c.attributes()
	res, err := c.cl.ForkchoiceUpdated(ctx, c.forkchoice(c.head.Hash()), attrs)
	require.NoError(t, err)
	require.Equal(t, beacon.VALID, res.PayloadStatus.Status, "forkchoiceUpdated with attributes: %+v", res.PayloadStatus)
	require.NotNil(t, res.PayloadID, "forkchoiceUpdated with attributes gave no payload ID")
	env, err := c.cl.GetPayload(ctx, *res.PayloadID, c.isthmus)
	require.NoError(t, err)
	return attrs, env
}

func (c *chain) forkchoice(head common.Hash) beacon.ForkchoiceStateV1 {
	return beacon.ForkchoiceStateV1{HeadBlockHash: head, SafeBlockHash: head, FinalizedBlockHash: c.genesis}
}

func newChain(t *testing.T, isthmus bool) *chain {
	genesisTime := uint64(time.Now().Unix()) - 600 // blocks a second apart stay in the past
	genesis := opGenesis(genesisTime, isthmus)
	node := opgethtest.Start(t, genesis)
	lat := &latencies{}
	t.Cleanup(func() { lat.report(t) })
	cl := engine.New(engine.Config{URL: node.AuthURL, JWTSecretPath: node.JWTPath, Timeout: 30 * time.Second, OnCall: lat.record})
	require.NoError(t, cl.Start(context.Background()))
	t.Cleanup(cl.Stop)
	ec := ethclient.NewClient(node.RPC)
	head, err := ec.HeaderByNumber(context.Background(), big.NewInt(0))
	require.NoError(t, err)
	require.Equal(t, genesis.ToBlock().Hash(), head.Hash(), "op-geth's genesis is not the one the test built")
	return &chain{t: t, cl: cl, eth: ec, node: node, cfg: genesis.Config, rollupCfg: rollupConfig(genesisTime, isthmus), l1: l1Origin(genesisTime), head: head, genesis: head.Hash(), lat: lat, isthmus: isthmus}
}

func TestOpGeth(t *testing.T) {
	ctx := context.Background()
	c := newChain(t, true)

	t.Run("BuildsBlocks", func(t *testing.T) {
		c.t = t
		_, mark := c.lat.since(0)
		for i := 1; i <= 3; i++ {
			attrs, env := c.build(ctx)
			p := env.ExecutionPayload
			require.Equal(t, uint64(i), p.Number)
			require.Len(t, p.Transactions, 2)
			require.Equal(t, *attrs.BeaconRoot, *env.ParentBeaconBlockRoot)
			require.NotNil(t, p.WithdrawalsRoot, "an Isthmus payload carries withdrawalsRoot")
			require.Empty(t, p.Withdrawals)
			require.NotNil(t, p.Withdrawals, "withdrawals must be an empty list, not null")
			require.Empty(t, env.Requests, "Isthmus payloads have no execution requests")
			require.Equal(t, eip1559.EncodeHoloceneExtraData(denominator, elasticity), []byte(p.ExtraData))
			require.Equal(t, uint64(gasLimit), p.GasLimit)

			status, err := c.cl.NewPayload(ctx, p, *attrs.BeaconRoot, true)
			require.NoError(t, err)
			require.Equal(t, beacon.VALID, status.Status, "newPayload: %v", status.ValidationError)
			require.Equal(t, p.BlockHash, *status.LatestValidHash)

			res, err := c.cl.ForkchoiceUpdated(ctx, c.forkchoice(p.BlockHash), nil)
			require.NoError(t, err)
			require.Equal(t, beacon.VALID, res.PayloadStatus.Status)
			require.Nil(t, res.PayloadID)

			var calls []string
			calls, mark = c.lat.since(mark)
			t.Logf("block %d: %s", p.Number, strings.Join(calls, ", "))
			c.checkBlock(p)
			_, mark = c.lat.since(0)
		}
		bal, err := c.eth.BalanceAt(ctx, recipient, nil)
		require.NoError(t, err)
		require.Zero(t, bal.Cmp(big.NewInt(3*1_000_000+0+1+2)), "recipient balance %s", bal)
	})

	t.Run("TamperedPayloadIsNotValid", func(t *testing.T) {
		c.t = t
		attrs, env := c.build(ctx)
		good := *env.ExecutionPayload
		tamper := func(name string, change func(p *beacon.ExecutableData), rehash bool) {
			p := good
			change(&p)
			if rehash {
				block, err := beacon.ExecutableDataToBlockNoHash(p, []common.Hash{}, attrs.BeaconRoot, [][]byte{}, c.cfg)
				require.NoError(t, err)
				p.BlockHash = block.Hash()
			}
			status, err := c.cl.NewPayload(ctx, &p, *attrs.BeaconRoot, true)
			require.NoError(t, err, name)
			require.NotEqual(t, beacon.VALID, status.Status, "%s: op-geth accepted it", name)
			require.Equal(t, beacon.INVALID, status.Status, name)
			msg := "<nil>"
			if status.ValidationError != nil {
				msg = *status.ValidationError
			}
			t.Logf("%s: %s: %s", name, status.Status, msg)
		}
		tamper("state root, hash kept", func(p *beacon.ExecutableData) { p.StateRoot[0] ^= 1 }, false)
		tamper("state root, hash recomputed", func(p *beacon.ExecutableData) { p.StateRoot[0] ^= 1 }, true)
		tamper("block hash", func(p *beacon.ExecutableData) { p.BlockHash[31] ^= 1 }, false)
		tamper("withdrawals root, hash recomputed", func(p *beacon.ExecutableData) {
			p.WithdrawalsRoot = ptr(types.EmptyRootHash)
		}, true)
		tamper("transfer dropped, hash recomputed", func(p *beacon.ExecutableData) {
			p.Transactions = p.Transactions[:1]
		}, true)

		// The untampered payload still imports and becomes the head.
		status, err := c.cl.NewPayload(ctx, &good, *attrs.BeaconRoot, true)
		require.NoError(t, err)
		require.Equal(t, beacon.VALID, status.Status, "newPayload: %v", status.ValidationError)
		res, err := c.cl.ForkchoiceUpdated(ctx, c.forkchoice(good.BlockHash), nil)
		require.NoError(t, err)
		require.Equal(t, beacon.VALID, res.PayloadStatus.Status)
		c.checkBlock(&good)
	})

	t.Run("WrongJWTSecret", func(t *testing.T) {
		dir := t.TempDir()
		wrong := filepath.Join(dir, "wrong.hex")
		require.NoError(t, os.WriteFile(wrong, []byte(hexutil.Encode(make([]byte, 32))+"\n"), 0o600))
		cl := engine.New(engine.Config{URL: c.node.AuthURL, JWTSecretPath: wrong})
		err := cl.Start(ctx)
		require.Error(t, err)
		t.Log(err)
		require.Contains(t, err.Error(), "JWT rejected")
		require.Contains(t, err.Error(), wrong)
		var he rpc.HTTPError
		require.ErrorAs(t, err, &he)
		require.Equal(t, 401, he.StatusCode)

		for name, content := range map[string]string{
			"short.hex":   "0x1234",
			"nothex.hex":  strings.Repeat("zz", 32),
			"spaced.hex":  "0x" + strings.Repeat("ab", 31) + " ab",
			"missing.hex": "",
		} {
			path := filepath.Join(dir, name)
			if name != "missing.hex" {
				require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
			}
			err := engine.New(engine.Config{URL: c.node.AuthURL, JWTSecretPath: path}).Start(ctx)
			require.Error(t, err, name)
			require.Contains(t, err.Error(), "JWT secret", name)
			t.Log(err)
		}

		// The right secret, without 0x and with a newline, is accepted.
		plain := filepath.Join(dir, "plain.hex")
		require.NoError(t, os.WriteFile(plain, []byte(common.Bytes2Hex(c.node.JWTSecret[:])+"\n"), 0o600))
		ok := engine.New(engine.Config{URL: c.node.AuthURL, JWTSecretPath: plain})
		require.NoError(t, ok.Start(ctx))
		ok.Stop()
	})

	t.Run("NotStarted", func(t *testing.T) {
		_, err := engine.New(engine.Config{}).NewPayload(ctx, &beacon.ExecutableData{Number: 12}, common.Hash{}, true)
		require.ErrorContains(t, err, "engine_newPayloadV4 block 12")
		require.ErrorContains(t, err, "not started")
	})

	t.Run("WrongForkVersion", func(t *testing.T) {
		c.t = t
		// An Isthmus payload asked for with getPayloadV3 is an "Unsupported
		// fork" error that names the method and the payload.
		attrs := c.attributes()
		c.nonce-- // the transfer is not included
		res, err := c.cl.ForkchoiceUpdated(ctx, c.forkchoice(c.head.Hash()), attrs)
		require.NoError(t, err)
		require.NotNil(t, res.PayloadID)
		_, err = c.cl.GetPayload(ctx, *res.PayloadID, false)
		require.ErrorContains(t, err, "engine_getPayloadV3 payload "+res.PayloadID.String())
		var re rpc.Error
		require.ErrorAs(t, err, &re)
		require.Equal(t, -38005, re.ErrorCode())
		t.Log(err)

		// Attributes op-geth rejects: no gas limit.
		attrs.GasLimit = nil
		_, err = c.cl.ForkchoiceUpdated(ctx, c.forkchoice(c.head.Hash()), attrs)
		require.ErrorContains(t, err, "engine_forkchoiceUpdatedV3 head")
		require.ErrorContains(t, err, "gasLimit parameter is required")
		t.Log(err)
	})
}

// checkBlock checks what op-geth serves for the block p made.
func (c *chain) checkBlock(p *beacon.ExecutableData) {
	t := c.t
	ctx := context.Background()
	num := hexutil.EncodeUint64(p.Number)

	var block struct {
		Hash            common.Hash  `json:"hash"`
		WithdrawalsRoot *common.Hash `json:"withdrawalsRoot"`
		Transactions    []struct {
			Type hexutil.Uint64 `json:"type"`
		} `json:"transactions"`
	}
	require.NoError(t, c.node.RPC.CallContext(ctx, &block, "eth_getBlockByNumber", num, true))
	require.Equal(t, p.BlockHash, block.Hash)
	require.Len(t, block.Transactions, 2)
	require.Equal(t, hexutil.Uint64(types.DepositTxType), block.Transactions[0].Type, "the first transaction is the L1-attributes deposit")
	require.Equal(t, hexutil.Uint64(types.DynamicFeeTxType), block.Transactions[1].Type)

	// The header op-geth serves hashes to the block hash, so every field
	// (withdrawalsRoot, requestsHash, parentBeaconBlockRoot...) is the one
	// the payload committed to.
	header, err := c.eth.HeaderByNumber(ctx, new(big.Int).SetUint64(p.Number))
	require.NoError(t, err)
	require.Equal(t, p.BlockHash, header.Hash())

	if c.isthmus {
		require.Equal(t, types.EmptyRequestsHash, *header.RequestsHash)
		// From Isthmus the withdrawalsRoot is the L2ToL1MessagePasser's storage root.
		var proof struct {
			StorageHash common.Hash `json:"storageHash"`
		}
		require.NoError(t, c.node.RPC.CallContext(ctx, &proof, "eth_getProof", predeploys.L2ToL1MessagePasserAddr, []string{}, num))
		require.NotNil(t, block.WithdrawalsRoot)
		require.Equal(t, proof.StorageHash, *block.WithdrawalsRoot)
		require.Equal(t, proof.StorageHash, *header.WithdrawalsHash)
		require.Equal(t, *p.WithdrawalsRoot, *header.WithdrawalsHash)
		require.NotEqual(t, types.EmptyRootHash, proof.StorageHash)
	} else {
		// Before Isthmus: the root of the (empty) withdrawals list, no requests.
		require.Nil(t, header.RequestsHash)
		require.Equal(t, types.EmptyWithdrawalsHash, *header.WithdrawalsHash)
	}

	// The transactions and receipts op-geth serves hash to the header's roots.
	txs, err := beacon.DecodeTransactions(p.Transactions)
	require.NoError(t, err)
	require.Equal(t, header.TxHash, types.DeriveSha(types.Transactions(txs), trie.NewStackTrie(nil)))
	receipts, err := c.eth.BlockReceipts(ctx, rpc.BlockNumberOrHashWithHash(p.BlockHash, true))
	require.NoError(t, err)
	require.Len(t, receipts, 2)
	for _, r := range receipts {
		require.Equal(t, types.ReceiptStatusSuccessful, r.Status)
	}
	require.NotNil(t, receipts[0].DepositNonce)
	require.Equal(t, header.ReceiptHash, types.DeriveSha(types.Receipts(receipts), trie.NewStackTrie(nil)))
	require.Equal(t, p.ReceiptsRoot, header.ReceiptHash)

	c.head = header
}

// TestOpGethBeforeIsthmus drives a Holocene chain, where the client must use
// engine_getPayloadV3 and engine_newPayloadV3.
func TestOpGethBeforeIsthmus(t *testing.T) {
	ctx := context.Background()
	c := newChain(t, false)
	for i := 1; i <= 2; i++ {
		attrs, env := c.build(ctx)
		p := env.ExecutionPayload
		require.Len(t, p.Transactions, 2)
		require.Nil(t, p.WithdrawalsRoot, "withdrawalsRoot is an Isthmus field")
		require.Equal(t, eip1559.EncodeHoloceneExtraData(denominator, elasticity), []byte(p.ExtraData))

		// engine_newPayloadV4 is for Prague (Isthmus) payloads only.
		_, err := c.cl.NewPayload(ctx, p, *attrs.BeaconRoot, true)
		require.ErrorContains(t, err, "engine_newPayloadV4 block")
		var re rpc.Error
		require.ErrorAs(t, err, &re)
		require.Equal(t, -38005, re.ErrorCode())

		status, err := c.cl.NewPayload(ctx, p, *attrs.BeaconRoot, false)
		require.NoError(t, err)
		require.Equal(t, beacon.VALID, status.Status, "newPayload: %v", status.ValidationError)
		res, err := c.cl.ForkchoiceUpdated(ctx, c.forkchoice(p.BlockHash), nil)
		require.NoError(t, err)
		require.Equal(t, beacon.VALID, res.PayloadStatus.Status)
		c.checkBlock(p)
	}
}
