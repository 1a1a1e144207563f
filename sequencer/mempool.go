package sequencer

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
	"github.com/holiman/uint256"
)

// Pool errors carry geth's messages, which clients match on.
var (
	ErrAlreadyKnown = errors.New("already known")
	ErrPoolFull     = errors.New("txpool is full")
	ErrNonceGap     = errors.New("nonce too high: more than the pool keeps ahead of the account nonce")
)

// maxNonceAhead bounds how far ahead of its account nonce a sender may queue.
const maxNonceAhead = 1024

// AccountReader reads an account at the head: zero nonce and balance if absent.
type AccountReader func(addr common.Address) (nonce uint64, balance *uint256.Int, err error)

// HeadEnv is what Add checks a transaction against: the next block's rules,
// gas limit and base fee, and the head's accounts.
type HeadEnv struct {
	Rules    params.Rules
	GasLimit uint64
	BaseFee  *uint256.Int
	Account  AccountReader
}

// Pool holds transactions waiting for a block: per sender, ordered by nonce;
// senders are served in the order they first arrived. A transaction may be
// queued for a block (AddFor, as op-geth's conditional transactions carry a
// minimum block number): it and its sender's later nonces wait until that
// block. It is safe for concurrent use.
type Pool struct {
	signer types.Signer
	limit  int

	mu      sync.Mutex
	senders map[common.Address][]pooled // sorted by nonce
	order   []common.Address            // arrival order of senders with txs
	known   map[common.Hash]struct{}
	count   int
	watched map[common.Address]bool // senders whose dropped transactions are counted
	dropped int                     // watched senders' transactions Prune dropped as invalid
}

// pooled is a queued transaction and the first block it may go into.
type pooled struct {
	tx   *types.Transaction
	from uint64
}

// NewPool returns a pool that holds at most limit transactions.
func NewPool(signer types.Signer, limit int) *Pool {
	return &Pool{
		signer:  signer,
		limit:   limit,
		senders: make(map[common.Address][]pooled),
		known:   make(map[common.Hash]struct{}),
	}
}

// Len is the number of transactions held.
func (p *Pool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.count
}

// Add validates tx against the head account state and the chain rules and
// queues it for the next block. The checks follow geth's txpool: signature
// and chain ID, intrinsic gas, gas limit, nonce and balance.
func (p *Pool) Add(tx *types.Transaction, env HeadEnv) error { return p.AddFor(tx, env, 0) }

// AddFor is Add for a transaction that waits until block number from: no
// block before it takes the transaction or its sender's later nonces. The
// load generator queues each block's batch this way, so it can hand the
// pool its batches ahead without an earlier block taking them.
func (p *Pool) AddFor(tx *types.Transaction, env HeadEnv, from uint64) error {
	gasLimit, baseFee := env.GasLimit, env.BaseFee
	if tx.IsDepositTx() {
		return fmt.Errorf("%w: deposit transactions come from L1, not the pool", types.ErrTxTypeNotSupported)
	}
	sender, err := types.Sender(p.signer, tx)
	if err != nil {
		return fmt.Errorf("invalid sender: %w", err)
	}
	if tx.Type() == types.BlobTxType {
		return fmt.Errorf("%w: blob transactions are not accepted", types.ErrTxTypeNotSupported)
	}
	if tx.Gas() > gasLimit {
		return fmt.Errorf("exceeds block gas limit")
	}
	intrinsic, err := core.IntrinsicGas(tx.Data(), tx.AccessList(), tx.SetCodeAuthorizations(), tx.To() == nil, env.Rules.IsHomestead, env.Rules.IsIstanbul, env.Rules.IsShanghai)
	if err != nil {
		return err
	}
	if tx.Gas() < intrinsic {
		return fmt.Errorf("%w: gas %v, minimum needed %v", core.ErrIntrinsicGas, tx.Gas(), intrinsic)
	}
	if tx.GasFeeCapIntCmp(tx.GasTipCap()) < 0 {
		return core.ErrTipAboveFeeCap
	}
	if baseFee != nil && tx.GasFeeCap().Cmp(baseFee.ToBig()) < 0 {
		return fmt.Errorf("%w: address %v, maxFeePerGas: %s, baseFee: %s", core.ErrFeeCapTooLow, sender, tx.GasFeeCap(), baseFee)
	}
	nonce, balance, err := env.Account(sender)
	if err != nil {
		return fmt.Errorf("read account %s: %w", sender, err)
	}
	if tx.Nonce() < nonce {
		return fmt.Errorf("%w: next nonce %v, tx nonce %v", core.ErrNonceTooLow, nonce, tx.Nonce())
	}
	if tx.Nonce() >= nonce+maxNonceAhead {
		return fmt.Errorf("%w: next nonce %v, tx nonce %v", ErrNonceGap, nonce, tx.Nonce())
	}
	cost, overflow := uint256.FromBig(tx.Cost())
	if overflow || balance == nil || balance.Lt(cost) {
		return fmt.Errorf("%w: address %v", core.ErrInsufficientFunds, sender)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.known[tx.Hash()]; ok {
		return ErrAlreadyKnown
	}
	q := p.senders[sender]
	i, found := slices.BinarySearchFunc(q, tx.Nonce(), func(t pooled, n uint64) int {
		return cmpUint64(t.tx.Nonce(), n)
	})
	if found {
		// Replacement: geth wants a 10% higher fee; we take any higher fee cap.
		if tx.GasFeeCap().Cmp(q[i].tx.GasFeeCap()) <= 0 || tx.GasTipCap().Cmp(q[i].tx.GasTipCap()) <= 0 {
			return fmt.Errorf("replacement transaction underpriced")
		}
		delete(p.known, q[i].tx.Hash())
		q[i] = pooled{tx, from}
		p.known[tx.Hash()] = struct{}{}
		return nil
	}
	if p.count >= p.limit {
		return ErrPoolFull
	}
	if len(q) == 0 {
		p.order = append(p.order, sender)
	}
	p.senders[sender] = slices.Insert(q, i, pooled{tx, from})
	p.known[tx.Hash()] = struct{}{}
	p.count++
	return nil
}

// Pending returns the transactions block number may execute: for each
// sender in arrival order, its queued transactions with consecutive nonces
// from its account nonce, up to the first queued for a later block, stopping
// when their gas limits reach maxGas.
func (p *Pool) Pending(number, maxGas uint64, nonceOf func(common.Address) (uint64, error)) (types.Transactions, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var (
		out types.Transactions
		gas uint64
	)
	for _, from := range p.order {
		next, err := nonceOf(from)
		if err != nil {
			return nil, err
		}
		for _, q := range p.senders[from] {
			tx := q.tx
			if tx.Nonce() < next {
				continue
			}
			if tx.Nonce() > next || q.from > number || gas+tx.Gas() > maxGas {
				break
			}
			out = append(out, tx)
			gas += tx.Gas()
			next++
		}
	}
	return out, nil
}

// Prune drops every transaction whose nonce is below its sender's account
// nonce (included, or replaced on chain) and the given invalid ones, and
// counts those of watched senders (Watch).
func (p *Pool) Prune(nonceOf func(common.Address) (uint64, error), invalid []DroppedTx) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	bad := make(map[common.Hash]bool, len(invalid))
	for _, d := range invalid {
		bad[d.Tx.Hash()] = true
		if len(p.watched) > 0 {
			if from, err := types.Sender(p.signer, d.Tx); err == nil && p.watched[from] {
				p.dropped++
			}
		}
	}
	order := p.order[:0]
	for _, from := range p.order {
		next, err := nonceOf(from)
		if err != nil {
			return err
		}
		q := p.senders[from]
		keep := q[:0]
		for _, t := range q {
			if t.tx.Nonce() < next || bad[t.tx.Hash()] {
				delete(p.known, t.tx.Hash())
				p.count--
				continue
			}
			keep = append(keep, t)
		}
		if len(keep) == 0 {
			delete(p.senders, from)
			continue
		}
		p.senders[from] = keep
		order = append(order, from)
	}
	p.order = order
	return nil
}

func cmpUint64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// RemoveSenders drops every transaction of the given senders.
func (p *Pool) RemoveSenders(addrs []common.Address) {
	p.mu.Lock()
	defer p.mu.Unlock()
	drop := make(map[common.Address]bool, len(addrs))
	for _, a := range addrs {
		drop[a] = true
	}
	order := p.order[:0]
	for _, from := range p.order {
		if !drop[from] {
			order = append(order, from)
			continue
		}
		for _, t := range p.senders[from] {
			delete(p.known, t.tx.Hash())
			p.count--
		}
		delete(p.senders, from)
	}
	p.order = order
}

// Watch has Prune count the transactions of these senders it drops as
// invalid, for TakeDropped.
func (p *Pool) Watch(addrs []common.Address) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.watched == nil {
		p.watched = make(map[common.Address]bool, len(addrs))
	}
	for _, a := range addrs {
		p.watched[a] = true
	}
}

// TakeDropped is the number of watched senders' transactions Prune dropped
// as invalid since the last call.
func (p *Pool) TakeDropped() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.dropped
	p.dropped = 0
	return n
}
