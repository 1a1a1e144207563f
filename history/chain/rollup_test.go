package chain

import (
	"encoding/json"
	"math/big"
	"os"
	"strings"
	"testing"

	"github.com/ethereum-optimism/optimism/op-node/rollup"
	"github.com/ethereum-optimism/optimism/op-service/eth"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
	"github.com/stretchr/testify/require"
)

func u64(v uint64) *uint64 { return &v }

// testOPConfig is an OP Stack chain config with every fork through
// Holocene at genesis and Isthmus and Jovian scheduled later, so that each
// fork time has its own value.
func testOPConfig() *params.ChainConfig {
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
		TerminalTotalDifficulty: big.NewInt(0),
		ShanghaiTime:            u64(0),
		CancunTime:              u64(0),
		PragueTime:              u64(1_700_000_010),
		BedrockBlock:            big.NewInt(0),
		RegolithTime:            u64(0),
		CanyonTime:              u64(0),
		EcotoneTime:             u64(0),
		FjordTime:               u64(0),
		GraniteTime:             u64(0),
		HoloceneTime:            u64(0),
		IsthmusTime:             u64(1_700_000_010),
		JovianTime:              u64(1_700_000_020),
		Optimism:                &params.OptimismConfig{EIP1559Elasticity: 6, EIP1559Denominator: 50, EIP1559DenominatorCanyon: u64(250)},
	}
}

func testGenesisHeader(config *params.ChainConfig) *types.Header {
	g := &core.Genesis{Config: config, Timestamp: 1_700_000_000, GasLimit: 30_000_000, BaseFee: big.NewInt(params.InitialBaseFee), Difficulty: big.NewInt(0), Alloc: types.GenesisAlloc{}}
	return g.ToBlock().Header()
}

var testL1 = eth.BlockID{Hash: common.HexToHash("0x1111111111111111111111111111111111111111111111111111111111111111"), Number: 100}

func testSystemConfig() eth.SystemConfig {
	return eth.SystemConfig{
		BatcherAddr: common.HexToAddress("0xba7c4e5000000000000000000000000000000001"),
		Scalar:      eth.Bytes32(common.HexToHash("0x010000000000000000000000000000000000000000000000000c5fc500000558")),
	}
}

func TestDevnetRollupConfigPassesCheck(t *testing.T) {
	config := testOPConfig()
	header := testGenesisHeader(config)
	rc := DevnetRollupConfig(config, header, testL1, testSystemConfig())
	require.NoError(t, CheckRollup(rc, config, header))

	require.Equal(t, header.Hash(), rc.Genesis.L2.Hash)
	require.Equal(t, uint64(0), rc.Genesis.L2.Number)
	require.Equal(t, header.Time, rc.Genesis.L2Time)
	require.Equal(t, testL1, rc.Genesis.L1)
	require.Equal(t, header.GasLimit, rc.Genesis.SystemConfig.GasLimit, "a zero gas limit is the genesis header's")
	require.Equal(t, uint64(1), rc.BlockTime)
	require.Equal(t, uint64(3600), rc.SeqWindowSize)
	require.Equal(t, uint64(300), rc.ChannelTimeoutBedrock)
	require.Equal(t, uint64(1800), rc.MaxSequencerDrift)
	require.Equal(t, int64(900), rc.L1ChainID.Int64())
	require.Equal(t, int64(901), rc.L2ChainID.Int64())
	require.Equal(t, rc.CanyonTime, rc.DeltaTime, "delta activates with canyon")
	require.Equal(t, uint64(1_700_000_010), *rc.IsthmusTime)
	require.Equal(t, uint64(1_700_000_020), *rc.JovianTime)
	require.Nil(t, rc.KarstTime)
	require.Equal(t, uint64(250), *rc.ChainOpConfig.EIP1559DenominatorCanyon)

	// Nothing is shared with the chain config.
	*config.IsthmusTime = 5
	*config.Optimism.EIP1559DenominatorCanyon = 7
	require.Equal(t, uint64(1_700_000_010), *rc.IsthmusTime)
	require.Equal(t, uint64(250), *rc.ChainOpConfig.EIP1559DenominatorCanyon)

	// Its JSON is op-node's: it reads back to the same config.
	raw, err := json.Marshal(rc)
	require.NoError(t, err)
	var back rollup.Config
	require.NoError(t, json.Unmarshal(raw, &back))
	require.Equal(t, rc, &back)
}

func TestCheckRollupMismatches(t *testing.T) {
	header := testGenesisHeader(testOPConfig())
	hash := header.Hash().Hex()
	other := common.HexToHash("0xabcdef")
	for _, tc := range []struct {
		name   string
		mutate func(rc *rollup.Config, config *params.ChainConfig)
		want   []string
	}{
		{"consistent", func(*rollup.Config, *params.ChainConfig) {}, nil},
		{"no chain_op_config", func(rc *rollup.Config, _ *params.ChainConfig) { rc.ChainOpConfig = nil }, nil},
		{"no optimism config in the genesis", func(_ *rollup.Config, c *params.ChainConfig) { c.Optimism = nil }, nil},
		{"l2 chain id", func(_ *rollup.Config, c *params.ChainConfig) { c.ChainID = big.NewInt(902) },
			[]string{"rollup config disagrees with the genesis: l2_chain_id 901 in rollup.json, 902 in the genesis"}},
		{"l2 chain id unset", func(rc *rollup.Config, _ *params.ChainConfig) { rc.L2ChainID = nil },
			[]string{"rollup config disagrees with the genesis: l2_chain_id unset in rollup.json, 901 in the genesis", "rollup config: L2 chain ID must not be nil"}},
		{"genesis hash", func(rc *rollup.Config, _ *params.ChainConfig) { rc.Genesis.L2.Hash = other },
			[]string{"rollup config disagrees with the genesis: genesis.l2.hash " + other.Hex() + " in rollup.json, " + hash + " in the genesis"}},
		{"genesis number", func(rc *rollup.Config, _ *params.ChainConfig) { rc.Genesis.L2.Number = 5 },
			[]string{"rollup config disagrees with the genesis: genesis.l2.number 5 in rollup.json, 0 in the genesis"}},
		{"genesis time", func(rc *rollup.Config, _ *params.ChainConfig) { rc.Genesis.L2Time = 1_700_000_001 },
			[]string{"rollup config disagrees with the genesis: genesis.l2_time 1700000001 in rollup.json, 1700000000 in the genesis"}},
		{"regolith", func(_ *rollup.Config, c *params.ChainConfig) { c.RegolithTime = u64(1) },
			[]string{"rollup config disagrees with the genesis: regolith_time 0 in rollup.json, 1 in the genesis"}},
		{"canyon", func(_ *rollup.Config, c *params.ChainConfig) { c.CanyonTime = u64(2) },
			[]string{"rollup config disagrees with the genesis: canyon_time 0 in rollup.json, 2 in the genesis"}},
		{"ecotone", func(_ *rollup.Config, c *params.ChainConfig) { c.EcotoneTime = u64(3) },
			[]string{"rollup config disagrees with the genesis: ecotone_time 0 in rollup.json, 3 in the genesis"}},
		{"fjord", func(_ *rollup.Config, c *params.ChainConfig) { c.FjordTime = u64(4) },
			[]string{"rollup config disagrees with the genesis: fjord_time 0 in rollup.json, 4 in the genesis"}},
		{"granite", func(_ *rollup.Config, c *params.ChainConfig) { c.GraniteTime = u64(5) },
			[]string{"rollup config disagrees with the genesis: granite_time 0 in rollup.json, 5 in the genesis"}},
		{"holocene", func(_ *rollup.Config, c *params.ChainConfig) { c.HoloceneTime = u64(6) },
			[]string{"rollup config disagrees with the genesis: holocene_time 0 in rollup.json, 6 in the genesis"}},
		{"isthmus", func(_ *rollup.Config, c *params.ChainConfig) { c.IsthmusTime = u64(1_700_000_020) },
			[]string{"rollup config disagrees with the genesis: isthmus_time 1700000010 in rollup.json, 1700000020 in the genesis"}},
		{"isthmus in rollup.json", func(rc *rollup.Config, _ *params.ChainConfig) { rc.IsthmusTime = u64(1_700_000_012) },
			[]string{"rollup config disagrees with the genesis: isthmus_time 1700000012 in rollup.json, 1700000010 in the genesis"}},
		{"jovian unset in the genesis", func(_ *rollup.Config, c *params.ChainConfig) { c.JovianTime = nil },
			[]string{"rollup config disagrees with the genesis: jovian_time 1700000020 in rollup.json, unset in the genesis"}},
		{"karst unset in rollup.json", func(_ *rollup.Config, c *params.ChainConfig) { c.KarstTime = u64(1_700_000_030) },
			[]string{"rollup config disagrees with the genesis: karst_time unset in rollup.json, 1700000030 in the genesis"}},
		{"lagoon", func(rc *rollup.Config, _ *params.ChainConfig) { rc.LagoonTime = u64(1_700_000_040) },
			[]string{"rollup config disagrees with the genesis: lagoon_time 1700000040 in rollup.json, unset in the genesis"}},
		{"eip1559 elasticity", func(_ *rollup.Config, c *params.ChainConfig) { c.Optimism.EIP1559Elasticity = 10 },
			[]string{"rollup config disagrees with the genesis: chain_op_config.eip1559Elasticity 6 in rollup.json, 10 in the genesis"}},
		{"eip1559 denominator", func(rc *rollup.Config, _ *params.ChainConfig) { rc.ChainOpConfig.EIP1559Denominator = 250 },
			[]string{"rollup config disagrees with the genesis: chain_op_config.eip1559Denominator 250 in rollup.json, 50 in the genesis"}},
		{"eip1559 canyon denominator", func(_ *rollup.Config, c *params.ChainConfig) { c.Optimism.EIP1559DenominatorCanyon = nil },
			[]string{"rollup config disagrees with the genesis: chain_op_config.eip1559DenominatorCanyon 250 in rollup.json, unset in the genesis"}},
		{"op-node's own check", func(rc *rollup.Config, _ *params.ChainConfig) { rc.BlockTime = 0 },
			[]string{"rollup config: block time cannot be 0"}},
		{"every mismatch at once", func(rc *rollup.Config, c *params.ChainConfig) {
			rc.Genesis.L2Time = 1
			c.FjordTime, c.Optimism.EIP1559Denominator = nil, 8
		}, []string{
			"rollup config disagrees with the genesis: genesis.l2_time 1 in rollup.json, 1700000000 in the genesis",
			"rollup config disagrees with the genesis: fjord_time 0 in rollup.json, unset in the genesis",
			"rollup config disagrees with the genesis: chain_op_config.eip1559Denominator 50 in rollup.json, 8 in the genesis",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			config := testOPConfig()
			rc := DevnetRollupConfig(config, header, testL1, testSystemConfig())
			tc.mutate(rc, config)
			err := CheckRollup(rc, config, header)
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, strings.Join(tc.want, "\n"))
		})
	}
	require.Error(t, CheckRollup(nil, testOPConfig(), header))
	require.Error(t, CheckRollup(new(rollup.Config), nil, header))
	require.Error(t, CheckRollup(new(rollup.Config), testOPConfig(), nil))
}

// TestRollupJSONFromTestdata reads an op-deployer-shaped rollup.json and the
// L2 genesis it was made with: they agree, and the config marshals back to
// the same JSON.
func TestRollupJSONFromTestdata(t *testing.T) {
	rc, err := ReadRollupConfig("testdata/rollup.json")
	require.NoError(t, err)
	raw, err := os.ReadFile("testdata/genesis.json")
	require.NoError(t, err)
	var g core.Genesis
	require.NoError(t, json.Unmarshal(raw, &g))
	header := g.ToBlock().Header()
	require.NoError(t, CheckRollup(rc, g.Config, header))

	require.Equal(t, int64(11155111), rc.L1ChainID.Int64())
	require.Equal(t, uint64(1764691201), *rc.JovianTime)
	require.Equal(t, uint64(60_000_000), rc.Genesis.SystemConfig.GasLimit)
	require.Equal(t, uint64(250), *rc.ChainOpConfig.EIP1559DenominatorCanyon)

	file, err := os.ReadFile("testdata/rollup.json")
	require.NoError(t, err)
	out, err := json.Marshal(rc)
	require.NoError(t, err)
	require.JSONEq(t, string(file), string(out))

	// A rollup.json for another chain is refused.
	g.Config.IsthmusTime = nil
	require.ErrorContains(t, CheckRollup(rc, g.Config, header), "isthmus_time 0 in rollup.json, unset in the genesis")

	_, err = ReadRollupConfig("testdata/missing.json")
	require.Error(t, err)
}
