package sequencer

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/strata-chain/strata/history/store"
)

// stepFed makes the next block after handing the pool its load the way the
// load generator's goroutine does when the block's time comes, but on the
// caller's goroutine, so tests make blocks one by one and deterministically.
func (s *Sequencer) stepFed(ctx context.Context, due time.Time) (BlockInfo, error) {
	if s.load != nil {
		if err := s.load.feed(ctx); err != nil {
			return BlockInfo{}, err
		}
	}
	return s.step(ctx, due)
}

// generatorState is what generating load changes in the generator.
type generatorState struct {
	nonces    []uint64
	fresh     uint64
	next      int
	ratio     float64
	buffered  int
	fed, feed uint64
}

func stateOf(f *loadFeeder) generatorState {
	return generatorState{slices.Clone(f.g.nonces), f.g.fresh, f.g.next, f.g.ratio, len(f.buf), uint64(len(f.fed)), f.next}
}

// TestStepNeverCallsTheGenerator: making a block takes the load the
// generator queued and leaves the generator as it was; a block whose load
// was not queued is made without it and says so, and the next block's load
// is taken as usual.
func TestStepNeverCallsTheGenerator(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Load.Accounts = 4
	s, err := store.OpenMem(store.DefaultConfig())
	require.NoError(t, err)
	defer s.Close()
	seq := newTestSequencer(t, cfg, s)
	ctx := context.Background()
	due := func(n uint64) time.Time { return seq.blockDue(n) }
	target := float64(cfg.Load.GasPerSecond) * cfg.BlockTime.Seconds()

	for _, tc := range []struct {
		feed   bool
		missed bool
	}{
		{feed: true}, {feed: true}, {feed: false, missed: true}, {feed: true}, {feed: false, missed: true}, {feed: true},
	} {
		n := seq.Head().Number.Uint64() + 1
		if tc.feed {
			require.NoError(t, seq.load.feed(ctx))
			require.Positive(t, seq.PoolLen())
		}
		before := stateOf(seq.load)
		info, err := seq.step(ctx, due(n))
		require.NoError(t, err)
		require.Equal(t, before, stateOf(seq.load), "block %d: step left the generator alone", n)
		require.Equal(t, tc.missed, info.LoadMissed, "block %d", n)
		if tc.missed {
			require.Equal(t, 1, info.Txs, "block %d: only the L1-attributes deposit", n)
		} else {
			require.Greater(t, info.Txs, 1, "block %d carries its load", n)
			require.InDelta(t, target, float64(info.GasUsed), target*0.5, "block %d", n)
		}
		require.Zero(t, seq.PoolLen(), "block %d took everything queued for it", n)
	}
}

// TestLoadQueuedAheadWaitsForItsBlock: the load the generator queues for
// the block after next stays in the pool until that block.
func TestLoadQueuedAheadWaitsForItsBlock(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Load.Accounts = 4
	s, err := store.OpenMem(store.DefaultConfig())
	require.NoError(t, err)
	defer s.Close()
	seq := newTestSequencer(t, cfg, s)
	ctx := context.Background()
	require.NoError(t, seq.load.feed(ctx))
	first := seq.PoolLen()
	require.NoError(t, seq.load.feed(ctx))
	second := seq.PoolLen() - first
	require.Positive(t, second)
	info, err := seq.step(ctx, seq.blockDue(1))
	require.NoError(t, err)
	require.Equal(t, 1+first, info.Txs, "block 1 takes its own load only")
	require.Equal(t, second, seq.PoolLen(), "block 2's load waits")
	info, err = seq.step(ctx, seq.blockDue(2))
	require.NoError(t, err)
	require.Equal(t, 1+second, info.Txs)
	require.False(t, info.LoadMissed)
	require.Zero(t, seq.PoolLen())
}

// TestLoadGeneratorStoppedMidRun: the generator feeds the pool from its
// goroutine while Run makes blocks; stopped in the middle, it stops feeding
// (its goroutine ends) and Run goes on making blocks without load.
func TestLoadGeneratorStoppedMidRun(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent(),
		goleak.IgnoreTopFunction("github.com/ethereum/go-ethereum/core.(*txSenderCacher).cache"))
	// Opened by hand, not by openLoaded: goleak's check runs before
	// t.Cleanup, so the store must close in this function.
	cfg := DefaultConfig()
	cfg.BlockTime = 20 * time.Millisecond
	cfg.Load.Accounts = 4
	cfg.Load.Prefill = 2
	s, err := store.OpenMem(store.DefaultConfig())
	require.NoError(t, err)
	defer s.Close()
	seq, err := Open(cfg, s, quiet)
	require.NoError(t, err)
	defer func() { _ = seq.Stop(context.Background()) }()
	const stopAt, last = 5, 15
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var infos []BlockInfo
	var stopErr error
	seq.OnBlock(func(info BlockInfo) {
		infos = append(infos, info)
		switch info.Number {
		case stopAt:
			stopErr = seq.load.Stop(context.Background())
		case last:
			cancel()
		}
	})
	require.NoError(t, seq.Run(ctx))
	require.NoError(t, stopErr)
	require.False(t, seq.load.Running())
	withLoad := 0
	for _, info := range infos {
		if info.Txs > 1 {
			withLoad++
		}
		if info.Number > stopAt+seq.load.lead {
			// The generator had queued at most the blocks it leads the
			// head by when it stopped.
			require.Equal(t, 1, info.Txs, "block %d: no load after the generator stopped", info.Number)
			require.True(t, info.LoadMissed, "block %d", info.Number)
		}
	}
	require.Positive(t, withLoad, "the generator fed blocks before it stopped")
	require.GreaterOrEqual(t, len(infos), last)
	require.Zero(t, seq.PoolLen())
}

// TestLoadGeneratorKeepsTheRate: fed from the generator's goroutine, blocks
// carry about Load.GasPerSecond × BlockTime each, as when the load was
// generated inside the block's making.
func TestLoadGeneratorKeepsTheRate(t *testing.T) {
	seq := openLoaded(t, 50*time.Millisecond, 8, 2)
	const blocks = 30
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var gas uint64
	var made int
	seq.OnBlock(func(info BlockInfo) {
		gas += info.GasUsed
		if made++; made == blocks {
			cancel()
		}
	})
	require.NoError(t, seq.Run(ctx))
	target := float64(seq.cfg.Load.GasPerSecond) * seq.cfg.BlockTime.Seconds()
	require.InDelta(t, target, float64(gas)/blocks, target*0.5, "mean gas per block")
}

// TestLoadGeneratorResyncsNonces: when the pool refuses the generator's
// transactions (here: nonces the chain has used), the generator reads its
// nonces at the head again and the next block carries load again.
func TestLoadGeneratorResyncsNonces(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Load.Accounts = 4
	s, err := store.OpenMem(store.DefaultConfig())
	require.NoError(t, err)
	defer s.Close()
	seq := newTestSequencer(t, cfg, s)
	ctx := context.Background()
	for n := uint64(1); n <= 2; n++ {
		info, err := seq.stepFed(ctx, seq.blockDue(n))
		require.NoError(t, err)
		require.Greater(t, info.Txs, 1)
	}
	clear(seq.load.g.nonces) // stale: every load account has sent transactions
	info, err := seq.stepFed(ctx, seq.blockDue(3))
	require.NoError(t, err)
	require.Equal(t, 1, info.Txs, "the pool refused the stale load")
	require.True(t, seq.load.resync)
	info, err = seq.stepFed(ctx, seq.blockDue(4))
	require.NoError(t, err)
	require.Greater(t, info.Txs, 1, "the load resumes from the chain's nonces")
	require.False(t, seq.load.resync)
	require.Zero(t, seq.PoolLen())
}

// openLoaded opens a sequencer on an in-memory store with the built-in load
// generator on (accounts senders, prefill blocks generated ahead); the
// store and the generator are released when the test ends.
func openLoaded(t *testing.T, blockTime time.Duration, accounts, prefill int) *Sequencer {
	t.Helper()
	cfg := DefaultConfig()
	cfg.BlockTime = blockTime
	cfg.Load.Accounts = accounts
	cfg.Load.Prefill = prefill
	s, err := store.OpenMem(store.DefaultConfig())
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	seq, err := Open(cfg, s, quiet)
	require.NoError(t, err)
	t.Cleanup(func() { _ = seq.Stop(context.Background()) })
	return seq
}
