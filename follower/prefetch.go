package follower

import (
	"context"

	"github.com/ethereum/go-ethereum/core/types"
)

// A JSON-RPC upstream makes three requests per block (block, receipts,
// prestate diffs), and building a block's update needs the parent's state,
// so blocks are built and ingested one at a time. When the follower is
// more than CatchupThreshold blocks behind, it requests the next blocks
// ahead concurrently (at most prefetchAhead in flight, the memory bound),
// so the round trips overlap the build and ingest of the blocks before
// them. A prefetched block is only a cache: its parent hash is still
// checked against the head, and a reorg drops everything prefetched.

// prefetchAhead is how many blocks past the one being built are requested.
const prefetchAhead = 8

// rpcFetch is one block's upstream data; done closes when it is complete.
type rpcFetch struct {
	b        *types.Block
	receipts types.Receipts
	diffs    []txDiff
	err      error
	done     chan struct{}
}

// startFetch requests block n with its receipts and diffs, retrying as
// the per-block path does, until ctx ends.
func (f *Follower) startFetch(ctx context.Context, n uint64) *rpcFetch {
	fe := &rpcFetch{done: make(chan struct{})}
	go func() {
		defer close(fe.done)
		if fe.b, fe.err = retry(ctx, f, "block", func(ctx context.Context) (*types.Block, error) { return f.up.block(ctx, n) }); fe.err != nil {
			return
		}
		if fe.receipts, fe.err = retry(ctx, f, "receipts", func(ctx context.Context) (types.Receipts, error) { return f.up.receipts(ctx, fe.b) }); fe.err != nil {
			return
		}
		fe.diffs, fe.err = retry(ctx, f, "state diff", func(ctx context.Context) ([]txDiff, error) { return f.up.diffs(ctx, fe.b) })
	}()
	return fe
}

// fetch returns block n's upstream data, prefetched or requested now, and
// whether it was prefetched. When far enough behind it first tops up the
// prefetch window after n. Only the Run goroutine calls it.
func (f *Follower) fetch(ctx context.Context, n uint64) (*rpcFetch, bool, error) {
	up := f.upHead.Load()
	if f.cfg.CatchupThreshold > 0 && up > n+f.cfg.CatchupThreshold {
		if f.pre == nil {
			f.pre = make(map[uint64]*rpcFetch)
			f.preCtx, f.preCancel = context.WithCancel(ctx)
		}
		for k := n + 1; k <= min(n+prefetchAhead, up); k++ {
			if _, ok := f.pre[k]; !ok {
				f.pre[k] = f.startFetch(f.preCtx, k)
			}
		}
	}
	fe, prefetched := f.pre[n]
	if prefetched {
		delete(f.pre, n)
	} else {
		fe = f.startFetch(ctx, n)
	}
	select {
	case <-fe.done:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	return fe, prefetched, fe.err
}

// dropPrefetch forgets every prefetched block (a reorg, or the end of Run).
func (f *Follower) dropPrefetch() {
	if f.preCancel != nil {
		f.preCancel()
	}
	f.pre, f.preCtx, f.preCancel = nil, nil, nil
}
