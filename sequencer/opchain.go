package sequencer

import (
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/ethereum-optimism/optimism/op-core/predeploys"
	"github.com/ethereum-optimism/optimism/op-e2e/bindings"
	"github.com/ethereum-optimism/optimism/op-node/rollup"
	"github.com/ethereum-optimism/optimism/op-service/eth"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/consensus/misc/eip1559"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/vm/runtime"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"

	"github.com/strata-chain/strata/history/chain"
)

// The OP Stack parameters of the devnet chain. The scalars are Base's
// mainnet values; the operator fee is small but non-zero, so that every
// fee op-geth charges shows up in balances and receipts.
const (
	// EIP1559Denominator and EIP1559Elasticity are the base-fee parameters
	// (Canyon's denominator), carried in every header's extraData from
	// Holocene on.
	EIP1559Denominator = 250
	EIP1559Elasticity  = 6

	BaseFeeScalar       = 1368
	BlobBaseFeeScalar   = 810949
	OperatorFeeScalar   = 1000
	OperatorFeeConstant = 1000
)

// BatcherAddress is the devnet's batcher in the system config. Nothing
// batches: there is no L1; op-node's L1-info transaction carries it.
var BatcherAddress = common.HexToAddress("0xba7c4e5000000000000000000000000000000000")

// Forks is the OP fork schedule in seconds after genesis. Bedrock through
// Isthmus are always active at genesis; Jovian is scheduled by JovianAfter
// (nil: never).
type Forks struct {
	JovianAfter *uint64
}

// ChainConfig is the devnet's chain configuration for a genesis at
// genesisTime: an OP Stack chain with Bedrock, Regolith, Canyon, Ecotone,
// Fjord, Granite, Holocene and Isthmus at genesis (so Shanghai, Cancun and
// Prague too) and Jovian as forks schedules it.
func ChainConfig(chainID uint64, genesisTime uint64, forks Forks) *params.ChainConfig {
	zero := uint64(0)
	at := func(t uint64) *uint64 { return &t }
	c := ethereumThroughPrague(new(big.Int).SetUint64(chainID))
	c.BlobScheduleConfig = nil // op-geth refuses one on an OP chain
	c.BedrockBlock = big.NewInt(0)
	c.RegolithTime, c.CanyonTime, c.EcotoneTime, c.FjordTime = &zero, &zero, &zero, &zero
	c.GraniteTime, c.HoloceneTime, c.IsthmusTime = &zero, &zero, &zero
	c.Optimism = &params.OptimismConfig{
		EIP1559Elasticity:        EIP1559Elasticity,
		EIP1559Denominator:       50,
		EIP1559DenominatorCanyon: at(EIP1559Denominator),
	}
	if forks.JovianAfter != nil {
		c.JovianTime = at(genesisTime + *forks.JovianAfter)
	}
	return c
}

// ethereumThroughPrague is a chain configuration with every Ethereum fork
// through Prague active at genesis (blob schedules for Cancun and Prague).
func ethereumThroughPrague(chainID *big.Int) *params.ChainConfig {
	zero := uint64(0)
	return &params.ChainConfig{
		ChainID:                 chainID,
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
		PragueTime:              &zero,
		BlobScheduleConfig: &params.BlobScheduleConfig{
			Cancun: params.DefaultCancunBlobConfig,
			Prague: params.DefaultPragueBlobConfig,
		},
	}
}

// SystemConfig is the devnet's genesis system config, as op-node reads it
// from L1: batcher, Ecotone scalars, operator fee, EIP-1559 parameters.
func SystemConfig(gasLimit uint64) eth.SystemConfig {
	return eth.SystemConfig{
		BatcherAddr:       BatcherAddress,
		Scalar:            eth.EncodeScalar(eth.EcotoneScalars{BlobBaseFeeScalar: BlobBaseFeeScalar, BaseFeeScalar: BaseFeeScalar}),
		GasLimit:          gasLimit,
		EIP1559Params:     eth.Bytes8(eip1559.EncodeHolocene1559Params(EIP1559Denominator, EIP1559Elasticity)),
		OperatorFeeParams: eth.EncodeOperatorFeeParams(eth.OperatorFeeParams{Scalar: OperatorFeeScalar, Constant: OperatorFeeConstant}),
	}
}

// ExtraData is the extraData of a header at time t: from Holocene the
// EIP-1559 parameters (and from Jovian the minimum base fee, zero here), as
// op-geth's block builder writes them.
func ExtraData(config *params.ChainConfig, t uint64) []byte {
	if !config.IsHolocene(t) {
		return nil
	}
	minBaseFee := uint64(0)
	return eip1559.EncodeOptimismExtraData(config, t, EIP1559Denominator, EIP1559Elasticity, &minBaseFee)
}

// l1BlockCode is the L1Block predeploy's runtime code: the contract the
// L1-attributes deposit calls, whose storage op-geth's fee functions read.
// It comes from the optimism module's bindings, run through op-geth's EVM
// to strip the constructor.
var l1BlockCode = sync.OnceValues(func() ([]byte, error) {
	code, _, _, err := runtime.Create(common.FromHex(bindings.L1BlockMetaData.Bin), nil)
	if err != nil {
		return nil, fmt.Errorf("deploy the L1Block predeploy: %w", err)
	}
	return code, nil
})

// L1BlockAddress is the L1Block predeploy.
var L1BlockAddress = predeploys.L1BlockAddr

// L1 is the devnet's synthetic L1: block k is made at genesis time + k·Every
// (Every is 12 s by default), with a base fee that varies with k and no
// blobs. Its headers are real Ethereum headers, hashed as such, so each L2
// block's L1-attributes deposit names an L1 block the way op-node's do.
type L1 struct {
	Genesis uint64 // the L2 genesis time, seconds: L1 block 0's time
	Every   time.Duration
	Config  *params.ChainConfig // the L1's own fork schedule (Cancun, Prague)
}

// L1ChainConfig is the synthetic L1's fork schedule: an Ethereum chain with
// every fork through Prague at genesis.
func L1ChainConfig() *params.ChainConfig {
	return ethereumThroughPrague(new(big.Int).Set(chain.DevnetL1ChainID))
}

// Header is L1 block k. Its parent hash chains to block k-1's hash through
// a keccak of the number (the synthetic L1 keeps no headers), so every hash
// is fixed by (Genesis, Every, k).
func (l L1) Header(k uint64) *types.Header {
	zero := uint64(0)
	beacon := crypto.Keccak256Hash([]byte("strata synthetic L1 beacon"), new(big.Int).SetUint64(k).Bytes())
	parent := common.Hash{}
	if k > 0 {
		parent = crypto.Keccak256Hash([]byte("strata synthetic L1"), new(big.Int).SetUint64(k-1).Bytes())
	}
	return &types.Header{
		ParentHash:       parent,
		UncleHash:        types.EmptyUncleHash,
		Root:             crypto.Keccak256Hash([]byte("strata synthetic L1 state"), new(big.Int).SetUint64(k).Bytes()),
		TxHash:           types.EmptyTxsHash,
		ReceiptHash:      types.EmptyReceiptsHash,
		Difficulty:       new(big.Int),
		Number:           new(big.Int).SetUint64(k),
		GasLimit:         36_000_000,
		Time:             l.Genesis + k*uint64(l.Every/time.Second),
		BaseFee:          big.NewInt(int64(params.GWei) + int64(k%16)*int64(params.GWei)/8),
		WithdrawalsHash:  &types.EmptyWithdrawalsHash,
		BlobGasUsed:      &zero,
		ExcessBlobGas:    &zero,
		ParentBeaconRoot: &beacon,
		RequestsHash:     &types.EmptyRequestsHash,
	}
}

// Origin is the L1 block an L2 block made at blockMillis (Unix
// milliseconds) takes as its origin, and its sequence number: how many L2
// blocks since the first one of that origin. millisOf gives the make time of
// an L2 block by number; genesisMillis is block 0's.
func (l L1) Origin(n uint64, millisOf func(uint64) uint64) (k, seq uint64) {
	g := millisOf(0)
	every := uint64(l.Every / time.Millisecond)
	k = (millisOf(n) - g) / every
	first := n
	for first > 0 && (millisOf(first-1)-g)/every == k {
		first--
	}
	return k, n - first
}

// rollupConfig is the op-node rollup config of a devnet chain.
func rollupConfig(config *params.ChainConfig, genesis *types.Header, l1 L1) *rollup.Config {
	h0 := l1.Header(0)
	return chain.DevnetRollupConfig(config, genesis, eth.BlockID{Hash: h0.Hash(), Number: 0}, SystemConfig(genesis.GasLimit))
}
