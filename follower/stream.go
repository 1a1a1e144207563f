package follower

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/strata-chain/strata/catchup"
	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/history/stream"
)

// streamScheme marks an upstream that is another Strata's block stream.
const streamScheme = "strata://"

// startStream connects to another Strata and, on an empty chain, loads its
// genesis state from the stream (checked against its block 0 hash).
func (f *Follower) startStream(ctx context.Context) error {
	c, err := stream.Dial(strings.TrimPrefix(f.cfg.URL, streamScheme), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("dial %s: %w", f.cfg.URL, err)
	}
	f.sc = c
	h0, err := retry(ctx, f, "genesis header", func(ctx context.Context) (*types.Header, error) { return f.sc.Header(ctx, 0) })
	if err != nil {
		return err
	}
	if _, err := f.chain.Head(); errors.Is(err, history.ErrEmpty) {
		start := time.Now()
		src, err := f.sc.Genesis(ctx)
		if err != nil {
			return fmt.Errorf("genesis stream: %w", err)
		}
		hdr := types.CopyHeader(h0)
		hdr.Root = [32]byte{}
		sealed, err := f.chain.LoadGenesis(ctx, src, hdr, nil)
		if err != nil {
			return fmt.Errorf("load genesis from %s: %w", f.cfg.URL, err)
		}
		if sealed.Hash() != h0.Hash() {
			return fmt.Errorf("the genesis state from %s makes block 0 %s, its header says %s", f.cfg.URL, sealed.Hash(), h0.Hash())
		}
		f.log.Info("Loaded the genesis from the upstream Strata", "hash", sealed.Hash(), "took", time.Since(start).Round(time.Millisecond).String())
		return nil
	} else if err != nil {
		return err
	}
	ours, err := f.chain.HeaderByNumber(0)
	if err != nil {
		return err
	}
	if ours.Hash() != h0.Hash() {
		return fmt.Errorf("the store's genesis %s is not the upstream's %s", ours.Hash(), h0.Hash())
	}
	return nil
}

// errBehind ends live consumption when the follower has fallen more than
// CatchupThreshold blocks behind; catch-up takes over.
var errBehind = errors.New("fell behind the upstream")

// runStream follows another Strata's block stream: catch-up replay while
// far behind, then one block at a time.
func (f *Follower) runStream(ctx context.Context) error {
	pollCtx, stopPoll := context.WithCancel(ctx)
	defer stopPoll()
	go f.pollStreamHead(pollCtx)
	wait := f.cfg.RetryInitial
	for ctx.Err() == nil {
		head, err := f.chain.Head()
		if err != nil {
			return err
		}
		if f.behind(head.Number) {
			err = f.catchUp(ctx, head)
			if err == nil || history.ClassOf(err) == history.ClassReorg {
				continue // live ingest resolves a divergence as a reorg
			}
		} else {
			sctx, cancel := context.WithCancel(ctx)
			var recv func() (*history.BlockUpdate, error)
			recv, err = f.sc.Subscribe(sctx, head.Number+1)
			if err == nil {
				err = f.consume(ctx, recv, head)
			}
			cancel()
			if errors.Is(err, errBehind) {
				continue
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		if history.IsCritical(err) {
			return err
		}
		if err != nil {
			f.log.Warn("Upstream stream failed; resubscribing", "class", history.ClassOf(err), "kind", failureKind(err), "backoff", wait.String(), "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
			wait = min(2*wait, f.cfg.RetryMax)
		}
	}
	return nil
}

// behind reports whether the upstream is far enough ahead of head for
// catch-up replay.
func (f *Follower) behind(head uint64) bool {
	t := f.cfg.CatchupThreshold
	return t > 0 && f.upHead.Load() > head+t
}

// pollStreamHead keeps the upstream head current while blocks stream in,
// so a follower that falls behind notices it.
func (f *Follower) pollStreamHead(ctx context.Context) {
	tk := time.NewTicker(max(f.cfg.PollInterval, 10*time.Millisecond))
	defer tk.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, f.cfg.RequestTimeout)
		h, err := f.sc.Head(rctx)
		cancel()
		if err == nil {
			f.seeUpstreamHead(h.Number.Uint64())
		}
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		}
	}
}

// catchUp replays the backlog up to the upstream head in batches.
func (f *Follower) catchUp(ctx context.Context, head history.Head) error {
	target := f.upHead.Load()
	f.mode.Store(ModeCatchup)
	defer f.mode.Store(ModeLive)
	f.log.Info("Catching up", "from", head.Number+1, "to", target, "behind", target-head.Number, "batch", f.cfg.Catchup.BatchBlocks)
	start := time.Now()
	err := catchup.Run(ctx, f.cfg.Catchup, f.chain, streamRange{f.sc}, target, func(b catchup.Batch) {
		if f.onBatch != nil {
			f.onBatch(b)
		}
	})
	var mismatch *history.RootMismatchError
	switch {
	case errors.As(err, &mismatch):
		f.log.Error("State root mismatch: catch-up halted at the last good batch", "block", mismatch.Number, "hash", mismatch.Hash,
			"header_root", mismatch.Want, "computed_root", mismatch.Computed)
		return fmt.Errorf("follower halted: %w", err)
	case history.IsCritical(err):
		f.log.Error("Catch-up halted at the last good batch", "class", history.ClassCritical, "err", err)
		return fmt.Errorf("follower halted: %w", err)
	}
	if err != nil {
		if ctx.Err() == nil {
			f.log.Warn("Catch-up stopped", "err", err)
		}
		return err
	}
	took := time.Since(start)
	f.log.Info("Caught up", "head", target, "blocks", target-head.Number, "took", took.Round(time.Millisecond).String(),
		"blocks_per_s", fmt.Sprintf("%.1f", float64(target-head.Number)/took.Seconds()))
	return nil
}

// streamRange reads catch-up ranges from another Strata.
type streamRange struct{ c *stream.Client }

func (s streamRange) Range(ctx context.Context, from, to uint64) (func() (*history.BlockUpdate, error), error) {
	return s.c.Range(ctx, from, to)
}

// consume ingests streamed blocks until the stream fails or a reorg needs
// a new subscription (then it returns nil), or the follower has fallen
// behind (errBehind).
func (f *Follower) consume(ctx context.Context, recv func() (*history.BlockUpdate, error), head history.Head) error {
	for {
		start := time.Now()
		u, err := recv()
		if err != nil {
			return err
		}
		if u.Header.ParentHash != head.Hash {
			return f.reorg(ctx, head, f.streamHash)
		}
		received := time.Now()
		f.seeUpstreamHead(u.Number())
		if err := f.ingested(f.chain.Ingest(ctx, u), head); err != nil {
			return err
		}
		now := time.Now()
		head = history.Head{Number: u.Number(), Hash: u.Header.Hash(), Root: u.Header.Root}
		if f.onBlock != nil {
			f.onBlock(BlockInfo{Number: head.Number, Hash: head.Hash, Txs: len(u.Transactions), Fetch: received.Sub(start),
				Ingest: now.Sub(received), Committed: now, Seen: received, UpstreamHead: f.upHead.Load(), HeadTime: u.Header.Time})
		}
		if f.behind(head.Number) {
			return errBehind
		}
	}
}

// streamHash is the hash of the upstream Strata's block n.
func (f *Follower) streamHash(ctx context.Context, n uint64) (common.Hash, error) {
	h, err := f.sc.Header(ctx, n)
	if err != nil {
		return common.Hash{}, err
	}
	return h.Hash(), nil
}
