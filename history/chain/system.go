package chain

import (
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/consensus/misc"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/params"
	"github.com/holiman/uint256"
)

// PreExecution applies what op-geth's StateProcessor applies to a block's
// state before its first transaction: the create2 deployer at the Canyon
// activation block, the EIP-4788 beacon root when the header carries one,
// and the EIP-2935 parent hash from Prague (Isthmus on OP Stack chains).
func PreExecution(config *params.ChainConfig, header *types.Header, sdb *state.StateDB, evm *vm.EVM) {
	misc.EnsureCreate2Deployer(config, header.Time, sdb)
	if header.ParentBeaconRoot != nil {
		core.ProcessBeaconBlockRoot(*header.ParentBeaconRoot, evm)
	}
	if config.IsPrague(header.Number, header.Time) {
		core.ProcessParentBlockHash(header.ParentHash, evm)
	}
}

// PostExecution applies what follows a block's transactions and returns the
// block's EIP-7685 requests (nil before Prague). An Ethereum chain from
// Prague reads the deposit logs and runs the withdrawal and consolidation
// queues; an OP Stack chain from Isthmus has an empty request list and no
// queue calls, as op-geth's miner and StateProcessor do. Withdrawals, which
// OP Stack blocks never carry, credit their recipients as the beacon engine
// does.
func PostExecution(config *params.ChainConfig, header *types.Header, logs []*types.Log, withdrawals types.Withdrawals, evm *vm.EVM) ([][]byte, error) {
	var requests [][]byte
	switch {
	case config.IsOptimismIsthmus(header.Time):
		requests = [][]byte{}
	case config.IsPrague(header.Number, header.Time):
		requests = [][]byte{}
		if err := core.ParseDepositLogs(&requests, logs, config); err != nil {
			return nil, fmt.Errorf("block %d: deposit logs: %w", header.Number, err)
		}
		if err := core.ProcessWithdrawalQueue(&requests, evm); err != nil {
			return nil, fmt.Errorf("block %d: withdrawal queue: %w", header.Number, err)
		}
		if err := core.ProcessConsolidationQueue(&requests, evm); err != nil {
			return nil, fmt.Errorf("block %d: consolidation queue: %w", header.Number, err)
		}
	}
	if len(withdrawals) > 0 && config.IsOptimism() {
		return nil, fmt.Errorf("block %d: an OP Stack block carries %d withdrawals", header.Number, len(withdrawals))
	}
	for _, w := range withdrawals {
		amount := new(uint256.Int).Mul(uint256.NewInt(w.Amount), uint256.NewInt(params.GWei))
		evm.StateDB.AddBalance(w.Address, amount, tracing.BalanceIncreaseWithdrawal)
	}
	return requests, nil
}

// MessagePasser is the OP Stack's L2ToL1MessagePasser predeploy, whose
// storage root is the output root's withdrawal root and, from Isthmus, the
// header's withdrawalsRoot.
var MessagePasser = params.OptimismL2ToL1MessagePasser

// WithdrawalsRoot is the withdrawalsRoot of a header at that time once
// Shanghai is active: on an OP Stack chain from Isthmus the message passer's
// storage root in sdb, which must be hashed (IntermediateRoot) after the
// block's last change, as op-geth's block validator reads it; else the root
// of an empty withdrawal list.
func WithdrawalsRoot(config *params.ChainConfig, time uint64, sdb *state.StateDB) common.Hash {
	if config.IsOptimismIsthmus(time) {
		return sdb.GetStorageRoot(MessagePasser)
	}
	return types.EmptyWithdrawalsHash
}
