package follower

import (
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/params"
	"github.com/holiman/uint256"

	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/history/chain"
	"github.com/strata-chain/strata/history/statedb"
)

// headerSource gives BLOCKHASH and the system calls their headers.
type headerSource interface {
	HeaderByNumber(n uint64) (*types.Header, error)
}

// buildUpdate turns an upstream block, its receipts and its per-transaction
// diffs into the block's BlockUpdate on the parent state st. It applies, in
// the order the block does: the pre-transaction system calls op-geth makes
// (chain.PreExecution), every transaction's post values, then what follows
// the transactions (chain.PostExecution). From Isthmus it checks the
// header's withdrawalsRoot against the message passer's storage root; the
// state root is checked by ingest.
func buildUpdate(config *params.ChainConfig, headers headerSource, st history.State, parent *types.Header, b *types.Block, receipts types.Receipts, diffs []txDiff) (*history.BlockUpdate, error) {
	header := b.Header()
	n := header.Number
	sdb, err := state.New(parent.Root, statedb.New(st))
	if err != nil {
		return nil, fmt.Errorf("open state of block %d: %w", parent.Number, err)
	}
	blkCtx := core.NewEVMBlockContext(header, chain.NewContext(config, headers), &header.Coinbase, config, sdb)
	evm := vm.NewEVM(blkCtx, sdb, config, vm.Config{})
	chain.PreExecution(config, header, sdb, evm)
	sdb.Finalise(true)
	fees := newUntracedFees(config, header, sdb)
	for i, d := range diffs {
		if err := applyDiff(sdb, d); err != nil {
			return nil, fmt.Errorf("block %d transaction %d: %w", n, i, err)
		}
		if err := fees.credit(b.Transactions()[i], receipts[i], d); err != nil {
			return nil, fmt.Errorf("block %d transaction %d: %w", n, i, err)
		}
		sdb.Finalise(true)
	}
	var logs []*types.Log
	for _, r := range receipts {
		logs = append(logs, r.Logs...)
	}
	if _, err := chain.PostExecution(config, header, logs, b.Withdrawals(), evm); err != nil {
		return nil, err
	}
	sdb.IntermediateRoot(true)
	if config.IsOptimismIsthmus(header.Time) {
		got := chain.WithdrawalsRoot(config, header.Time, sdb)
		if want := header.WithdrawalsHash; want == nil || *want != got {
			have := "none"
			if want != nil {
				have = want.Hex()
			}
			return nil, history.Critical(fmt.Errorf("block %d (%s): header withdrawalsRoot %s, the message passer's storage root is %s", n, b.Hash(), have, got))
		}
	}
	_, su, err := sdb.CommitWithUpdate(n.Uint64(), true, true)
	if err != nil {
		return nil, fmt.Errorf("block %d: commit: %w", n, err)
	}
	u, err := statedb.ToBlockUpdate(header, su)
	if err != nil {
		return nil, fmt.Errorf("block %d: %w", n, err)
	}
	u.Transactions, u.Receipts = b.Transactions(), receipts
	if u.Transactions == nil {
		u.Transactions = types.Transactions{}
	}
	if u.Receipts == nil {
		u.Receipts = types.Receipts{}
	}
	return u, nil
}

// applyDiff sets the post values of one transaction's diff: changed
// balance, nonce, code and slots (a slot in pre but not in post was
// cleared); an account in pre but not in post was deleted.
func applyDiff(sdb *state.StateDB, d txDiff) error {
	for addr, pre := range d.Pre {
		post, ok := d.Post[addr]
		if !ok {
			// Deleted. Since Cancun only an account created in the same
			// transaction can self-destruct, and those never show in pre;
			// older chains' deletions are applied as self-destructs.
			sdb.SelfDestruct(addr)
			continue
		}
		for slot := range pre.Storage {
			if _, set := post.Storage[slot]; !set {
				sdb.SetState(addr, slot, common.Hash{})
			}
		}
	}
	for addr, post := range d.Post {
		if post == nil {
			return fmt.Errorf("%w: null post state of %s", errMalformed, addr)
		}
		if !sdb.Exist(addr) {
			sdb.CreateAccount(addr)
		}
		if post.Balance != nil {
			bal, overflow := uint256.FromBig(post.Balance.ToInt())
			if overflow || post.Balance.ToInt().Sign() < 0 {
				return fmt.Errorf("%w: balance of %s out of range", errMalformed, addr)
			}
			sdb.SetBalance(addr, bal, tracing.BalanceChangeUnspecified)
		}
		if post.Nonce != nil {
			sdb.SetNonce(addr, *post.Nonce, tracing.NonceChangeUnspecified)
		}
		if post.Code != nil {
			sdb.SetCode(addr, *post.Code, tracing.CodeChangeUnspecified)
		}
		for slot, v := range post.Storage {
			sdb.SetState(addr, slot, v)
		}
	}
	return nil
}

// untracedFees credits what op-geth's prestateTracer leaves out of its
// diffs: it looks up the base-fee vault for every transaction but not the
// L1-fee and operator-fee vaults, which op-geth's state transition credits
// after execution, so a block whose transactions pay L1 or operator fees
// would not reach its state root from the diffs alone. For each
// non-deposit transaction whose diff does not set a vault's balance (a diff
// that does holds its final value, fees included), the fee is added with
// op-geth's own cost functions over the state as the block has it so far
// (the L1-attributes deposit has set the L1Block values they read).
type untracedFees struct {
	config   *params.ChainConfig
	time     uint64
	l1Cost   types.L1CostFunc
	operator types.OperatorCostFunc
	sdb      *state.StateDB
}

func newUntracedFees(config *params.ChainConfig, header *types.Header, sdb *state.StateDB) *untracedFees {
	f := &untracedFees{config: config, time: header.Time, sdb: sdb}
	if config.IsOptimismBedrock(header.Number) {
		f.l1Cost = types.NewL1CostFunc(config, sdb)
		if config.IsOptimismIsthmus(header.Time) {
			f.operator = types.NewOperatorCostFunc(config, sdb)
		}
	}
	return f
}

func (f *untracedFees) credit(tx *types.Transaction, r *types.Receipt, d txDiff) error {
	if f.l1Cost == nil || tx.IsDepositTx() {
		return nil
	}
	traced := func(a common.Address) bool {
		post, ok := d.Post[a]
		return ok && post != nil && post.Balance != nil
	}
	if !traced(params.OptimismL1FeeRecipient) {
		if c := f.l1Cost(tx.RollupCostData(), f.time); c != nil && c.Sign() > 0 {
			amount, overflow := uint256.FromBig(c)
			if overflow {
				return fmt.Errorf("%w: L1 fee %s overflows", errMalformed, c)
			}
			f.sdb.AddBalance(params.OptimismL1FeeRecipient, amount, tracing.BalanceIncreaseRewardTransactionFee)
		}
	}
	if f.operator != nil && !traced(params.OptimismOperatorFeeRecipient) {
		if c := f.operator(r.GasUsed, f.time); c != nil && !c.IsZero() {
			f.sdb.AddBalance(params.OptimismOperatorFeeRecipient, c, tracing.BalanceIncreaseRewardTransactionFee)
		}
	}
	return nil
}
