package chain

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"

	opparams "github.com/ethereum-optimism/optimism/op-core/params"
	"github.com/ethereum-optimism/optimism/op-node/rollup"
	"github.com/ethereum-optimism/optimism/op-service/eth"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
)

// ReadRollupConfig reads an op-node rollup config (rollup.json).
func ReadRollupConfig(path string) (*rollup.Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read rollup config: %w", err)
	}
	rc := new(rollup.Config)
	if err := json.Unmarshal(raw, rc); err != nil {
		return nil, fmt.Errorf("rollup config %s: %w", path, err)
	}
	return rc, nil
}

// CheckRollup checks that an op-node rollup config describes the chain of
// that L2 genesis: the L2 chain ID, the genesis block's hash, number and
// time, every OP fork time op-geth's chain config also carries (Delta is
// consensus-layer only and has no op-geth field), and, when both give them,
// the EIP-1559 parameters of chain_op_config. Every disagreement is
// reported, each naming the rollup.json field and both values. The config
// must also pass op-node's own rollup.Config.Check, which reads nothing but
// the config (no L1): a config built for a chain without an L1 carries a
// placeholder L1 anchor, batcher and inbox to pass it (DevnetRollupConfig
// does).
func CheckRollup(rc *rollup.Config, config *params.ChainConfig, genesis *types.Header) error {
	if rc == nil || config == nil || genesis == nil {
		return errors.New("check rollup config: rollup config, chain config and genesis header are required")
	}
	var errs []error
	differ := func(field string, inRollup, inGenesis any) {
		errs = append(errs, fmt.Errorf("rollup config disagrees with the genesis: %s %v in rollup.json, %v in the genesis", field, inRollup, inGenesis))
	}
	if !sameBig(rc.L2ChainID, config.ChainID) {
		differ("l2_chain_id", bigText(rc.L2ChainID), bigText(config.ChainID))
	}
	if hash := genesis.Hash(); rc.Genesis.L2.Hash != hash {
		differ("genesis.l2.hash", rc.Genesis.L2.Hash, hash)
	}
	if genesis.Number.Cmp(new(big.Int).SetUint64(rc.Genesis.L2.Number)) != 0 {
		differ("genesis.l2.number", rc.Genesis.L2.Number, genesis.Number)
	}
	if rc.Genesis.L2Time != genesis.Time {
		differ("genesis.l2_time", rc.Genesis.L2Time, genesis.Time)
	}
	for _, f := range forkTimes(rc, config) {
		if !sameUint(*f.rollup, *f.geth) {
			differ(f.name, uintText(*f.rollup), uintText(*f.geth))
		}
	}
	if op, geth := rc.ChainOpConfig, config.Optimism; op != nil && geth != nil {
		if op.EIP1559Elasticity != geth.EIP1559Elasticity {
			differ("chain_op_config.eip1559Elasticity", op.EIP1559Elasticity, geth.EIP1559Elasticity)
		}
		if op.EIP1559Denominator != geth.EIP1559Denominator {
			differ("chain_op_config.eip1559Denominator", op.EIP1559Denominator, geth.EIP1559Denominator)
		}
		if !sameUint(op.EIP1559DenominatorCanyon, geth.EIP1559DenominatorCanyon) {
			differ("chain_op_config.eip1559DenominatorCanyon", uintText(op.EIP1559DenominatorCanyon), uintText(geth.EIP1559DenominatorCanyon))
		}
	}
	if err := rc.Check(); err != nil {
		errs = append(errs, fmt.Errorf("rollup config: %w", err))
	}
	return errors.Join(errs...)
}

// forkTime pairs a fork's activation time in the rollup config with op-geth's.
type forkTime struct {
	name         string // the rollup.json field
	rollup, geth **uint64
}

// forkTimes lists the OP forks both configs schedule.
func forkTimes(rc *rollup.Config, config *params.ChainConfig) []forkTime {
	return []forkTime{
		{"regolith_time", &rc.RegolithTime, &config.RegolithTime},
		{"canyon_time", &rc.CanyonTime, &config.CanyonTime},
		{"ecotone_time", &rc.EcotoneTime, &config.EcotoneTime},
		{"fjord_time", &rc.FjordTime, &config.FjordTime},
		{"granite_time", &rc.GraniteTime, &config.GraniteTime},
		{"holocene_time", &rc.HoloceneTime, &config.HoloceneTime},
		{"isthmus_time", &rc.IsthmusTime, &config.IsthmusTime},
		{"jovian_time", &rc.JovianTime, &config.JovianTime},
		{"karst_time", &rc.KarstTime, &config.KarstTime},
		{"lagoon_time", &rc.LagoonTime, &config.LagoonTime},
	}
}

func sameUint(a, b *uint64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func uintText(v *uint64) string {
	if v == nil {
		return "unset"
	}
	return fmt.Sprint(*v)
}

func sameBig(a, b *big.Int) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Cmp(b) == 0
}

func bigText(v *big.Int) string {
	if v == nil {
		return "unset"
	}
	return v.String()
}

// Devnet values of the rollup config of a chain Strata's own sequencer
// makes. There is no L1 behind them: no portal, system config or inbox is
// deployed at these addresses, they only fill the fields op-node requires.
var (
	DevnetL1ChainID              = big.NewInt(900)
	DevnetDepositContractAddress = common.HexToAddress("0x5700000000000000000000000000000000100001")
	DevnetSystemConfigAddress    = common.HexToAddress("0x5700000000000000000000000000000000100002")
	DevnetBatchInboxAddress      = common.HexToAddress("0xff57000000000000000000000000000000000000")
)

// Derivation windows of a devnet rollup config, op-deployer's defaults.
const (
	DevnetSeqWindowSize     = 3600
	DevnetChannelTimeout    = 300
	DevnetMaxSequencerDrift = 1800
)

// DevnetRollupConfig is the op-node rollup config of a chain Strata's own
// sequencer makes from that chain config and genesis header. l1 is the L1
// block the chain is anchored after: a devnet without an L1 gives any
// non-zero placeholder. sys is the genesis system config; a zero gas limit
// is taken from the genesis header. The L1 chain ID is the fixed devnet ID
// 900 (DevnetL1ChainID), so the L2 chain must not be 900 (op-node's Check,
// and so CheckRollup, reject equal IDs); the deposit contract, system
// config and batch inbox are the fixed Devnet addresses.
//
// Fork times are the chain config's; Delta, which op-geth does not
// schedule, activates with Canyon. BlockTime is 1: op-node's config counts
// whole seconds, so a Strata chain with a sub-second cadence (200 ms) cannot
// be expressed, and op-node's block-time arithmetic (TimestampForBlock, fork
// activation blocks) does not hold for it. The genesis time is the header's
// as it is; under the milliseconds timestamp policy it is milliseconds,
// which op-node would read as seconds.
func DevnetRollupConfig(config *params.ChainConfig, genesis *types.Header, l1 eth.BlockID, sys eth.SystemConfig) *rollup.Config {
	if sys.GasLimit == 0 {
		sys.GasLimit = genesis.GasLimit
	}
	rc := &rollup.Config{
		Genesis: rollup.Genesis{
			L1:           l1,
			L2:           eth.BlockID{Hash: genesis.Hash(), Number: genesis.Number.Uint64()},
			L2Time:       genesis.Time,
			SystemConfig: sys,
		},
		BlockTime:              1,
		MaxSequencerDrift:      DevnetMaxSequencerDrift,
		SeqWindowSize:          DevnetSeqWindowSize,
		ChannelTimeoutBedrock:  DevnetChannelTimeout,
		L1ChainID:              new(big.Int).Set(DevnetL1ChainID),
		L2ChainID:              new(big.Int).Set(config.ChainID),
		BatchInboxAddress:      DevnetBatchInboxAddress,
		DepositContractAddress: DevnetDepositContractAddress,
		L1SystemConfigAddress:  DevnetSystemConfigAddress,
	}
	for _, f := range forkTimes(rc, config) {
		*f.rollup = copyUint(*f.geth)
	}
	rc.DeltaTime = copyUint(config.CanyonTime)
	if op := config.Optimism; op != nil {
		rc.ChainOpConfig = &opparams.OptimismConfig{
			EIP1559Elasticity:        op.EIP1559Elasticity,
			EIP1559Denominator:       op.EIP1559Denominator,
			EIP1559DenominatorCanyon: copyUint(op.EIP1559DenominatorCanyon),
		}
	}
	return rc
}

func copyUint(p *uint64) *uint64 {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
