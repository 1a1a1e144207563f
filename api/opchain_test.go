package api

import (
	"context"
	"math/big"
	"testing"

	"github.com/ethereum-optimism/optimism/op-e2e/bindings"
	"github.com/ethereum-optimism/optimism/op-node/rollup"
	"github.com/ethereum-optimism/optimism/op-node/rollup/derive"
	"github.com/ethereum-optimism/optimism/op-service/eth"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/consensus/misc/eip1559"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/vm/runtime"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/history/chain"
	"github.com/strata-chain/strata/history/store"
	"github.com/strata-chain/strata/sequencer"
)

// The OP chain's schedule: one block a second from opGenesisTime, Isthmus
// and Jovian activating at blocks 4 and 7, three L2 blocks per L1 epoch.
const (
	opGenesisTime   = 1_700_000_000
	opIsthmusBlock  = 4
	opJovianBlock   = 7
	opBlocks        = 10
	opEpochLength   = 3
	opBaseFeeScalar = 1368
	opBlobScalar    = 810949
	opOperatorScale = 1000
	opOperatorConst = 2000
)

// opChain is an OP Stack chain as op-node and op-geth make one, executed by
// Strata's executor into a store: every block starts with op-node's
// L1-attributes deposit (derive.L1InfoDepositBytes) for a synthetic L1
// origin; the first block of each epoch carries user deposits (one minting
// ETH, one creating a contract), and the other blocks signed transfers,
// except at a fork's activation block, which op-node fills with deposits
// only. Forks through Holocene are active at genesis; Isthmus and Jovian
// activate later, so the deposit's calldata changes format.
type opChain struct {
	store  *store.Store
	config *params.ChainConfig
	rollup *rollup.Config
	sys    eth.SystemConfig
	client *rpc.Client
	l1     []*types.Header  // the L1 origins, by epoch
	refs   []eth.L2BlockRef // what op-node says of each block
	// nonces is the nonce each deposit takes, which only its receipt records.
	nonces map[common.Hash]uint64
}

func opChainConfig() *params.ChainConfig {
	zero := uint64(0)
	at := func(t uint64) *uint64 { return &t }
	return &params.ChainConfig{
		ChainID:                 big.NewInt(901),
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
		PragueTime:              at(opGenesisTime + opIsthmusBlock),
		BedrockBlock:            big.NewInt(0),
		RegolithTime:            &zero,
		CanyonTime:              &zero,
		EcotoneTime:             &zero,
		FjordTime:               &zero,
		GraniteTime:             &zero,
		HoloceneTime:            &zero,
		IsthmusTime:             at(opGenesisTime + opIsthmusBlock),
		JovianTime:              at(opGenesisTime + opJovianBlock),
		Optimism:                &params.OptimismConfig{EIP1559Elasticity: 6, EIP1559Denominator: 50, EIP1559DenominatorCanyon: at(250)},
	}
}

// opL1Header is the synthetic L1 block of epoch k.
func opL1Header(k uint64) *types.Header {
	return &types.Header{
		ParentHash:  crypto.Keccak256Hash([]byte("opchain l1"), new(big.Int).SetUint64(k).Bytes()),
		UncleHash:   types.EmptyUncleHash,
		Root:        crypto.Keccak256Hash([]byte("opchain l1 state"), new(big.Int).SetUint64(k).Bytes()),
		TxHash:      types.EmptyTxsHash,
		ReceiptHash: types.EmptyReceiptsHash,
		Difficulty:  new(big.Int),
		Number:      new(big.Int).SetUint64(20_000_000 + k),
		GasLimit:    36_000_000,
		Time:        opGenesisTime - 6 + opEpochLength*k,
		BaseFee:     big.NewInt(int64(params.GWei) + int64(k)*7_000_001),
	}
}

func newOPChain(t *testing.T) *opChain {
	t.Helper()
	return newOPChainIn(t, store.DefaultConfig())
}

// newOPChainIn makes the chain in a store with that configuration
// (retention, for instance).
func newOPChainIn(t *testing.T, scfg store.Config) *opChain {
	t.Helper()
	ctx := context.Background()
	config := opChainConfig()
	key := sequencer.DevKeys(1)[0]
	dev := crypto.PubkeyToAddress(key.PublicKey)
	l1Block, _, _, err := runtime.Create(common.FromHex(bindings.L1BlockMetaData.Bin), nil)
	require.NoError(t, err)
	alloc := sequencer.SystemContractAllocs()
	alloc[sequencer.MessagePasserAddress] = types.Account{Nonce: 1, Code: sequencer.MessagePasserCode(), Balance: new(big.Int)}
	alloc[types.L1BlockAddr] = types.Account{Nonce: 1, Code: l1Block, Balance: new(big.Int)}
	alloc[dev] = types.Account{Balance: new(big.Int).Mul(big.NewInt(1_000_000), big.NewInt(params.Ether))}
	zero := uint64(0)
	g := &core.Genesis{
		Config: config, Timestamp: opGenesisTime, GasLimit: 30_000_000, Difficulty: big.NewInt(0),
		BaseFee: big.NewInt(params.InitialBaseFee), ExtraData: eip1559.EncodeOptimismExtraData(config, opGenesisTime, 250, 6, &zero),
		Alloc: alloc,
	}
	gu, err := sequencer.GenesisUpdate(g)
	require.NoError(t, err)
	s, err := store.OpenMem(scfg)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	require.NoError(t, s.Ingest(ctx, gu))

	c := &opChain{store: s, config: config, nonces: map[common.Hash]uint64{}}
	for k := uint64(0); k <= opBlocks/opEpochLength; k++ {
		c.l1 = append(c.l1, opL1Header(k))
	}
	c.sys = eth.SystemConfig{
		BatcherAddr:       common.HexToAddress("0xba7c4e5000000000000000000000000000000000"),
		Scalar:            eth.EncodeScalar(eth.EcotoneScalars{BlobBaseFeeScalar: opBlobScalar, BaseFeeScalar: opBaseFeeScalar}),
		GasLimit:          g.GasLimit,
		EIP1559Params:     eth.Bytes8(eip1559.EncodeHolocene1559Params(250, 6)),
		OperatorFeeParams: eth.EncodeOperatorFeeParams(eth.OperatorFeeParams{Scalar: opOperatorScale, Constant: opOperatorConst}),
	}
	c.rollup = chain.DevnetRollupConfig(config, gu.Header, eth.BlockID{Hash: c.l1[0].Hash(), Number: c.l1[0].Number.Uint64()}, c.sys)
	require.NoError(t, chain.CheckRollup(c.rollup, config, gu.Header))
	c.refs = append(c.refs, eth.L2BlockRef{Hash: gu.Header.Hash(), Number: 0, Time: opGenesisTime, L1Origin: c.rollup.Genesis.L1})

	depositNonce := map[common.Address]uint64{}
	deposit := func(tx *types.Transaction) *types.Transaction {
		from, err := types.Sender(types.LatestSigner(config), tx)
		require.NoError(t, err)
		c.nonces[tx.Hash()] = depositNonce[from]
		depositNonce[from]++
		return tx
	}
	ex := sequencer.NewExecutor(config, s)
	signer := types.LatestSigner(config)
	var devNonce uint64
	for n := uint64(1); n <= opBlocks; n++ {
		parent, err := s.HeaderByNumber(n - 1)
		require.NoError(t, err)
		ts := opGenesisTime + n
		k, seq := n/opEpochLength, n%opEpochLength
		origin := c.l1[k]
		raw, err := derive.L1InfoDepositBytes(c.rollup, params.MainnetChainConfig, c.sys, seq, eth.HeaderBlockInfo(origin), ts)
		require.NoError(t, err)
		info := new(types.Transaction)
		require.NoError(t, info.UnmarshalBinary(raw))
		txs := types.Transactions{deposit(info)}
		if seq == 0 {
			src := derive.UserDepositSource{L1BlockHash: origin.Hash(), LogIndex: 0}
			to := common.BigToAddress(new(big.Int).SetUint64(0x30000 + n))
			txs = append(txs, deposit(types.NewTx(&types.DepositTx{
				SourceHash: src.SourceHash(), From: common.HexToAddress("0x1111000000000000000000000000000000002222"), To: &to,
				Mint: big.NewInt(params.Ether), Value: big.NewInt(params.Ether / 2), Gas: 100_000,
			})))
			src.LogIndex = 1
			txs = append(txs, deposit(types.NewTx(&types.DepositTx{
				SourceHash: src.SourceHash(), From: common.HexToAddress("0x3333000000000000000000000000000000004444"),
				Value: new(big.Int), Gas: 300_000, Data: sequencer.CreationCode(sequencer.StorageContractCode(), 1),
			})))
		}
		if n != opIsthmusBlock && n != opJovianBlock {
			for i := uint64(0); i < 2; i++ {
				to := common.BigToAddress(new(big.Int).SetUint64(0x40000 + n*16 + i))
				txs = append(txs, types.MustSignNewTx(key, signer, &types.DynamicFeeTx{
					ChainID: config.ChainID, Nonce: devNonce, GasTipCap: big.NewInt(params.GWei), GasFeeCap: big.NewInt(100 * params.GWei),
					Gas: 21_000, To: &to, Value: big.NewInt(int64(1 + i)), Data: nil,
				}))
				devNonce++
			}
		}
		beacon := crypto.Keccak256Hash([]byte("beacon"), origin.Hash().Bytes())
		excess := uint64(0)
		h := &types.Header{
			ParentHash: parent.Hash(), Number: new(big.Int).SetUint64(n), Time: ts, GasLimit: g.GasLimit,
			Coinbase: common.HexToAddress("0x4200000000000000000000000000000000000011"),
			BaseFee:  eip1559.CalcBaseFee(config, parent, ts), Difficulty: new(big.Int),
			Extra:     eip1559.EncodeOptimismExtraData(config, ts, 250, 6, &zero),
			MixDigest: crypto.Keccak256Hash([]byte("randao"), origin.Hash().Bytes()), ParentBeaconRoot: &beacon, ExcessBlobGas: &excess,
		}
		st, err := s.StateAt(n - 1)
		require.NoError(t, err)
		built, err := ex.Build(ctx, st, parent, h, txs)
		st.Close()
		require.NoError(t, err, "block %d", n)
		require.Empty(t, built.Dropped, "block %d", n)
		for _, r := range built.Receipts {
			require.Equal(t, types.ReceiptStatusSuccessful, r.Status, "block %d", n)
		}
		require.NoError(t, s.Ingest(ctx, built.Update))
		c.refs = append(c.refs, eth.L2BlockRef{
			Hash: built.Block.Hash(), Number: n, ParentHash: parent.Hash(), Time: ts,
			L1Origin: eth.BlockID{Hash: origin.Hash(), Number: origin.Number.Uint64()}, SequenceNumber: seq,
		})
	}
	c.refs[0].ParentHash = gu.Header.ParentHash
	srv, err := NewRPCServer(Config{ChainConfig: config, RollupConfig: c.rollup, Reader: s})
	require.NoError(t, err)
	t.Cleanup(srv.Stop)
	c.client = rpc.DialInProc(srv)
	t.Cleanup(c.client.Close)
	return c
}

// block reads block n back from the store.
func (c *opChain) block(t *testing.T, n uint64) (*types.Block, types.Receipts) {
	t.Helper()
	h, err := c.store.HeaderByNumber(n)
	require.NoError(t, err)
	txs, err := c.store.Body(n)
	require.NoError(t, err)
	receipts, err := c.store.Receipts(n)
	require.NoError(t, err)
	return types.NewBlockWithHeader(h).WithBody(types.Body{Transactions: txs, Withdrawals: types.Withdrawals{}}), receipts
}
