package follower

import (
	"context"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/consensus"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/holiman/uint256"

	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/history/statedb"
)

// headerSource gives BLOCKHASH and the system calls their headers.
type headerSource interface {
	HeaderByNumber(n uint64) (*types.Header, error)
}

// buildUpdate turns an upstream block, its receipts and its per-transaction
// diffs into the block's BlockUpdate on the parent state st. It applies, in
// the order the block does: the pre-transaction system calls (EIP-4788,
// EIP-2935), every transaction's post values, then withdrawals and the
// post-transaction system calls (EIP-7002/7251 queues), with go-ethereum's
// own functions.
func buildUpdate(ctx context.Context, config *params.ChainConfig, headers headerSource, st history.State, parent *types.Header, b *types.Block, receipts types.Receipts, diffs []txDiff) (*history.BlockUpdate, error) {
	header := b.Header()
	n := header.Number
	sdb, err := state.New(parent.Root, statedb.New(st))
	if err != nil {
		return nil, fmt.Errorf("open state of block %d: %w", parent.Number, err)
	}
	rules := config.Rules(n, true, header.Time)
	blkCtx := core.NewEVMBlockContext(header, chainContext{config, headers}, &header.Coinbase)
	evm := vm.NewEVM(blkCtx, sdb, config, vm.Config{})
	defer evm.Release()
	core.PreExecution(ctx, header.ParentBeaconRoot, parent, config, evm, n, header.Time)
	sdb.Finalise(rules)
	for i, d := range diffs {
		if err := applyDiff(sdb, d); err != nil {
			return nil, fmt.Errorf("block %d transaction %d: %w", n, i, err)
		}
		sdb.Finalise(rules)
	}
	var logs []*types.Log
	for _, r := range receipts {
		logs = append(logs, r.Logs...)
	}
	if _, _, err := core.PostExecution(ctx, config, n, header.Time, logs, b.Withdrawals(), evm, uint32(len(b.Transactions())+1)); err != nil {
		return nil, fmt.Errorf("block %d: %w", n, err)
	}
	_, su, err := sdb.CommitWithUpdate(rules, n.Uint64())
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

// chainContext is core.ChainContext over held headers, for BLOCKHASH.
type chainContext struct {
	config  *params.ChainConfig
	headers headerSource
}

func (c chainContext) Config() *params.ChainConfig  { return c.config }
func (c chainContext) CurrentHeader() *types.Header { return nil }
func (c chainContext) GetHeader(hash common.Hash, number uint64) *types.Header {
	h := c.GetHeaderByNumber(number)
	if h == nil || h.Hash() != hash {
		return nil
	}
	return h
}
func (c chainContext) GetHeaderByNumber(number uint64) *types.Header {
	h, err := c.headers.HeaderByNumber(number)
	if err != nil {
		return nil
	}
	return h
}
func (c chainContext) GetHeaderByHash(common.Hash) *types.Header { return nil }
func (c chainContext) Engine() consensus.Engine                  { return nil }

var _ = crypto.Keccak256Hash
