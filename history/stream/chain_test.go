package stream

import (
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/holiman/uint256"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/history/statedb"
)

// testChain makes a few blocks of updates whose roots go-ethereum computes:
// accounts with code and storage, slot writes and clears, an emptied
// (deleted) account.
func testChain(t testing.TB) []*history.BlockUpdate {
	t.Helper()
	db := state.NewDatabaseForTesting()
	root := types.EmptyRootHash
	var parent *types.Header
	var out []*history.BlockUpdate
	a, b := common.HexToAddress("0xa"), common.HexToAddress("0xb")
	steps := []func(*state.StateDB){
		func(s *state.StateDB) {
			s.SetCode(a, []byte{0x60, 0x00}, tracing.CodeChangeUnspecified)
			s.SetNonce(a, 1, tracing.NonceChangeUnspecified)
			s.SetState(a, common.HexToHash("0x1"), common.HexToHash("0x11"))
			s.SetState(a, common.HexToHash("0x2"), common.HexToHash("0x22"))
			s.AddBalance(b, uint256.NewInt(5), tracing.BalanceChangeUnspecified)
		},
		func(s *state.StateDB) {
			s.SetState(a, common.HexToHash("0x1"), common.Hash{})
			s.SetState(a, common.HexToHash("0x3"), common.HexToHash("0x33"))
		},
		func(s *state.StateDB) {
			s.SubBalance(b, uint256.NewInt(5), tracing.BalanceChangeUnspecified) // emptied: deleted (EIP-158)
			s.AddBalance(a, uint256.NewInt(7), tracing.BalanceChangeUnspecified)
		},
	}
	for i, step := range steps {
		sdb, err := state.New(root, db)
		require.NoError(t, err)
		step(sdb)
		n := uint64(i)
		newRoot, su, err := sdb.CommitWithUpdate(n, true, true)
		require.NoError(t, err)
		h := &types.Header{Number: new(big.Int).SetUint64(n), Root: newRoot, Difficulty: new(big.Int)}
		if parent != nil {
			h.ParentHash = parent.Hash()
		}
		u, err := statedb.ToBlockUpdate(h, su)
		require.NoError(t, err)
		u.Transactions, u.Receipts = types.Transactions{}, types.Receipts{}
		out = append(out, u)
		root, parent = newRoot, h
	}
	return out
}
