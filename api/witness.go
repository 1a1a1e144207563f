package api

import (
	"context"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/core/stateless"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/proofs"
)

// ExecutionWitness is debug_executionWitness as op-geth serves it: block
// re-executed on its parent's state with op-geth's EVM, answered with
// op-geth's witness (core/stateless.ExtWitness: headers from the parent
// down to the oldest ancestor BLOCKHASH reached, the codes run, the trie
// nodes read and hashed; keys empty, as op-geth leaves them; codes and
// state in no particular order). The witness is served only if the
// re-execution reproduced the header. The call is limited (HeavyConcurrency
// at once, HeavyTimeout each).
func (api *DebugAPI) ExecutionWitness(ctx context.Context, bnh rpc.BlockNumberOrHash) (*stateless.ExtWitness, error) {
	ctx, done, err := api.b.heavy.enter(ctx, "debug_executionWitness")
	if err != nil {
		return nil, err
	}
	w, err := api.b.executionWitness(ctx, bnh)
	return w, done(err)
}

// witnessParentError is a witness asked for a block whose parent state the
// store does not hold.
type witnessParentError struct {
	number uint64
	err    error
}

func (e *witnessParentError) Error() string {
	return fmt.Sprintf("block %d found, but its parent's state is not held: %v", e.number, e.err)
}
func (e *witnessParentError) ErrorCode() int { return -32000 }
func (e *witnessParentError) Unwrap() error  { return e.err }

func (b *backend) executionWitness(ctx context.Context, bnh rpc.BlockNumberOrHash) (*stateless.ExtWitness, error) {
	h, err := b.header(bnh)
	if err != nil {
		return nil, err
	}
	n := h.Number.Uint64()
	if n == 0 {
		return nil, errors.New("block 0 found, but parent missing: the genesis executes nothing")
	}
	block, err := (&EthAPI{b: b}).block(n)
	if err != nil {
		return nil, err
	}
	if block.Hash() != h.Hash() {
		return nil, errHashNotFound // unwound between the reads
	}
	parent, err := b.cfg.Reader.HeaderByNumber(n - 1)
	if err != nil || parent.Hash() != h.ParentHash {
		return nil, &witnessParentError{number: n, err: fmt.Errorf("parent header %d: %v", n-1, err)}
	}
	st, err := b.cfg.Reader.StateAt(n - 1)
	if err != nil {
		var pruned *history.PrunedError
		if errors.As(err, &pruned) {
			return nil, &witnessParentError{number: n, err: err}
		}
		return nil, err
	}
	defer st.Close()
	w, err := proofs.Witness(ctx, b.cfg.ChainConfig, b.cfg.Reader, st, parent, block)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	ext := w.ToExtWitness()
	b.nodes.noteWitness(n-1, parent.Root, ext.State)
	return ext, nil
}
