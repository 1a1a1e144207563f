package chain

import (
	"context"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/params"
)

// Mode is how Apply treats the transactions it is given.
type Mode int

const (
	// Replay applies a block that exists: the list is the block's, and a
	// transaction that cannot be applied is an error.
	Replay Mode = iota
	// Build applies a builder's candidates: a transaction that cannot be
	// applied is reverted and reported in Applied.Dropped (a deposit that
	// cannot be applied is still an error: a block's deposits are not the
	// builder's to drop), and the block ends at the first transaction whose
	// gas limit exceeds the gas left.
	Build
)

// Block is a block to apply on a state: the chain's configuration, the
// canonical headers BLOCKHASH reads, the block's header and the state of its
// parent. Hash is the block's hash, set in the receipts and logs; zero while
// a block is being built. Withdrawals are the block's (none on OP Stack
// chains; non-nil from Shanghai).
type Block struct {
	Config      *params.ChainConfig
	Headers     HeaderReader
	Header      *types.Header
	Hash        common.Hash
	Withdrawals types.Withdrawals
	State       *state.StateDB
}

// DroppedTx is a candidate Build left out, with the reason.
type DroppedTx struct {
	Tx  *types.Transaction
	Err error
}

// Applied is what applying a block's transactions produced.
type Applied struct {
	Transactions types.Transactions // applied, in block order
	Receipts     types.Receipts     // one per applied transaction
	Requests     [][]byte           // EIP-7685 requests; nil before Prague
	GasUsed      uint64             // the block's gas used
	Dropped      []DroppedTx        // Build only: candidates left out
}

// Apply applies a block's transactions to b.State the way op-geth's
// StateProcessor (Replay) and its miner (Build) do: PreExecution, then each
// transaction through core.ApplyTransactionWithEVM on one EVM and one gas
// pool of the header's gas limit, then PostExecution. It leaves hashing the
// state root, committing and sealing to the caller.
//
// Invariants:
//   - The state changes are op-geth's: nothing here re-implements the EVM or
//     a system call; Replay and Build differ only in what happens to a
//     transaction that cannot be applied or does not fit.
//   - A transaction's receipt index is its index among the applied ones.
//   - Replay takes no state snapshots: an error abandons the whole block,
//     so there is nothing to revert; Build snapshots each transaction.
//   - ctx is checked between transactions and cancels the EVM inside one; a
//     cancelled Apply returns ctx's error, never a partial block.
func Apply(ctx context.Context, b Block, txs types.Transactions, mode Mode) (*Applied, error) {
	var (
		config = b.Config
		header = b.Header
		number = header.Number
		sdb    = b.State
		signer = types.MakeSigner(config, number, header.Time)
		blkCtx = core.NewEVMBlockContext(header, NewContext(config, b.Headers), &header.Coinbase, config, sdb)
		evm    = vm.NewEVM(blkCtx, sdb, config, vm.Config{})
		gp     = core.NewGasPool(header.GasLimit)
		out    = &Applied{
			Transactions: make(types.Transactions, 0, len(txs)),
			Receipts:     make(types.Receipts, 0, len(txs)),
		}
	)
	stop := context.AfterFunc(ctx, evm.Cancel)
	defer stop()
	PreExecution(config, header, sdb, evm)
	for i, tx := range txs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if mode == Build && tx.Gas() > gp.Gas() {
			break // full: the rest waits for the next block
		}
		msg, err := core.TransactionToMessage(tx, signer, header.BaseFee)
		if err == nil {
			var (
				snap   int
				gpSnap *core.GasPool
				r      *types.Receipt
			)
			if mode == Build {
				snap, gpSnap = sdb.Snapshot(), gp.Snapshot()
			}
			sdb.SetTxContext(tx.Hash(), len(out.Transactions))
			if r, err = core.ApplyTransactionWithEVM(msg, gp, sdb, number, b.Hash, header.Time, tx, evm); err == nil {
				out.Transactions = append(out.Transactions, tx)
				out.Receipts = append(out.Receipts, r)
				continue
			}
			if mode == Build {
				sdb.RevertToSnapshot(snap)
				gp.Set(gpSnap)
			}
		}
		if mode == Replay || tx.IsDepositTx() {
			// op-geth includes even a failing deposit, so one that cannot
			// be applied at all means the block cannot be made.
			return nil, fmt.Errorf("block %d: transaction %d (%s): %w", number, i, tx.Hash(), err)
		}
		out.Dropped = append(out.Dropped, DroppedTx{Tx: tx, Err: err})
	}
	var logs []*types.Log
	if config.IsPrague(number, header.Time) && !config.IsOptimismIsthmus(header.Time) {
		// Only an Ethereum chain's requests read the logs (deposit requests).
		for _, r := range out.Receipts {
			logs = append(logs, r.Logs...)
		}
	}
	requests, err := PostExecution(config, header, logs, b.Withdrawals, evm)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err // cancelled inside the last transaction: its result is not the block's
	}
	out.Requests = requests
	out.GasUsed = gp.Used()
	return out, nil
}
