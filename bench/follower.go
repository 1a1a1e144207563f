package bench

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/strata-chain/strata/follower"
	"github.com/strata-chain/strata/sequencer"
)

// liveFollower follows a bench node's block stream into a store of its own
// in a temporary directory and records, per block, when the sequencer and
// the follower committed it. stop ends following (idempotent); close also
// releases the follower and removes its store.
type liveFollower struct {
	dir   string
	store Store
	f     *follower.Follower
	done  chan error
	halt  context.CancelFunc

	mu     sync.Mutex
	seqAt  map[uint64]time.Time // sequencer commit time by block
	blocks []followedBlock
}

type followedBlock struct {
	number    uint64
	committed time.Time
	ingest    time.Duration
	seqHead   uint64
}

// startLiveFollower starts following n, which must serve its block stream
// and not run yet: it registers a block hook on n.
func startLiveFollower(ctx context.Context, w Wiring, n Node, log *slog.Logger) (*liveFollower, error) {
	dir, err := os.MkdirTemp("", "strata-bench-follower-")
	if err != nil {
		return nil, fmt.Errorf("follower store directory: %w", err)
	}
	b := &liveFollower{dir: dir, seqAt: map[uint64]time.Time{}, done: make(chan error, 1)}
	n.OnBlock(func(info sequencer.BlockInfo) {
		b.mu.Lock()
		b.seqAt[info.Number] = info.Committed
		b.mu.Unlock()
	})
	if b.store, err = w.OpenStore(dir, log.With("module", "follower-history")); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("open the follower's store: %w", err)
	}
	fcfg := follower.DefaultConfig()
	fcfg.URL, fcfg.ChainConfig = n.StreamURL(), n.ChainConfig()
	if b.f, err = follower.New(fcfg, b.store, log.With("module", "follower")); err == nil {
		err = b.f.Start(ctx)
	}
	if err != nil {
		b.store.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start the follower: %w", err)
	}
	b.f.OnBlock(func(info follower.BlockInfo) {
		seqHead := n.Head()
		b.mu.Lock()
		b.blocks = append(b.blocks, followedBlock{number: info.Number, committed: info.Committed, ingest: info.Ingest, seqHead: seqHead})
		b.mu.Unlock()
	})
	fctx, halt := context.WithCancel(ctx)
	b.halt = halt
	go func() { b.done <- b.f.Run(fctx) }()
	return b, nil
}

func (b *liveFollower) stop() {
	if b.halt != nil {
		b.halt()
		<-b.done
		b.halt = nil
	}
}

func (b *liveFollower) close() {
	b.stop()
	b.f.Stop()
	b.store.Close()
	os.RemoveAll(b.dir)
}

// stats summarises the blocks the follower committed within [from, to].
func (b *liveFollower) stats(from, to time.Time) *FollowerStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	var lag, ingest []time.Duration
	var lagBlocks []uint64
	for _, fb := range b.blocks {
		seq, ok := b.seqAt[fb.number]
		if !ok || fb.committed.Before(from) || fb.committed.After(to) {
			continue
		}
		lag = append(lag, fb.committed.Sub(seq))
		ingest = append(ingest, fb.ingest)
		behind := uint64(0)
		if fb.seqHead > fb.number {
			behind = fb.seqHead - fb.number
		}
		lagBlocks = append(lagBlocks, behind)
	}
	st := &FollowerStats{Blocks: len(lag), Lag: Summarize(lag), Ingest: Summarize(ingest)}
	if len(lagBlocks) > 0 {
		slices.Sort(lagBlocks)
		pick := func(p float64) uint64 {
			i := int(p/100*float64(len(lagBlocks))+0.999999) - 1
			return lagBlocks[max(0, min(len(lagBlocks)-1, i))]
		}
		st.LagBlocks.P50, st.LagBlocks.P99, st.LagBlocks.Max = pick(50), pick(99), lagBlocks[len(lagBlocks)-1]
	}
	return st
}
