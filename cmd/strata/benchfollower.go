package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/strata-chain/strata/bench"
	"github.com/strata-chain/strata/follower"
	"github.com/strata-chain/strata/history/store"
	"github.com/strata-chain/strata/sequencer"
)

// benchFollower follows a bench node's block stream into a store of its own
// and records, per block, when the sequencer and the follower committed it.
type benchFollower struct {
	dir   string
	store *store.Store
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

func freeTCPPort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func startBenchFollower(ctx context.Context, n *node, cfg nodeConfig, log *slog.Logger) (*benchFollower, error) {
	dir, err := os.MkdirTemp("", "strata-bench-follower-")
	if err != nil {
		return nil, err
	}
	b := &benchFollower{dir: dir, seqAt: map[uint64]time.Time{}, done: make(chan error, 1)}
	n.onBlock(func(info sequencer.BlockInfo) {
		b.mu.Lock()
		b.seqAt[info.Number] = info.Committed
		b.mu.Unlock()
	})
	if b.store, err = store.Open(dir, store.DefaultConfig(), log.With("module", "follower-history")); err != nil {
		return nil, err
	}
	fcfg := follower.DefaultConfig()
	fcfg.URL = fmt.Sprintf("strata://%s", n.grpc.Addr())
	fcfg.ChainConfig = n.seq.ChainConfig()
	if b.f, err = follower.New(fcfg, b.store, log.With("module", "follower")); err != nil {
		b.store.Close()
		return nil, err
	}
	if err = b.f.Start(ctx); err != nil {
		b.store.Close()
		return nil, err
	}
	b.f.OnBlock(func(info follower.BlockInfo) {
		seqHead := n.seq.Head().Number.Uint64()
		b.mu.Lock()
		b.blocks = append(b.blocks, followedBlock{number: info.Number, committed: info.Committed, ingest: info.Ingest, seqHead: seqHead})
		b.mu.Unlock()
	})
	fctx, halt := context.WithCancel(ctx)
	b.halt = halt
	go func() { b.done <- b.f.Run(fctx) }()
	return b, nil
}

func (b *benchFollower) stop() {
	if b.halt != nil {
		b.halt()
		<-b.done
		b.halt = nil
	}
}

func (b *benchFollower) close() {
	b.stop()
	b.f.Stop()
	b.store.Close()
	os.RemoveAll(b.dir)
}

// stats summarises the blocks the follower committed within [from, to].
func (b *benchFollower) stats(from, to time.Time) *bench.FollowerStats {
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
	st := &bench.FollowerStats{Blocks: len(lag), Lag: bench.Summarize(lag), Ingest: bench.Summarize(ingest)}
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
