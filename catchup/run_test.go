package catchup

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/history/historytest"
	"github.com/strata-chain/strata/history/store"
)

// chainSource serves a generated chain's updates by range, each range read
// from its own generator so concurrent ranges share nothing.
type chainSource struct {
	seed uint64
	mu   sync.Mutex
	max  uint64
}

func (c *chainSource) Range(ctx context.Context, from, to uint64) (func() (*history.BlockUpdate, error), error) {
	g := historytest.NewChain(c.seed)
	for range from {
		g.Next()
	}
	n := from
	return func() (*history.BlockUpdate, error) {
		if n > to {
			return nil, io.EOF
		}
		n++
		c.mu.Lock()
		c.max = max(c.max, n-1)
		c.mu.Unlock()
		return g.Next(), nil
	}, nil
}

func TestRunCatchesUp(t *testing.T) {
	ctx := context.Background()
	const seed, target = 5, 300
	ref, err := store.OpenMem(store.DefaultConfig())
	require.NoError(t, err)
	defer ref.Close()
	g := historytest.NewChain(seed)
	for range target + 1 {
		require.NoError(t, ref.Ingest(ctx, g.Next()))
	}
	s, err := store.OpenMem(store.DefaultConfig())
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Ingest(ctx, historytest.NewChain(seed).Next()))

	var batches []Batch
	cfg := Config{BatchBlocks: 32, Fetchers: 3, Workers: 2}
	require.NoError(t, Run(ctx, cfg, s, &chainSource{seed: seed}, target, func(b Batch) { batches = append(batches, b) }))
	head, _ := s.Head()
	require.Equal(t, uint64(target), head.Number)
	require.Len(t, batches, (target+31)/32)
	require.Equal(t, uint64(target), batches[len(batches)-1].Done)
	require.Equal(t, batches[len(batches)-1].Elapsed, WallTime(batches))
	d1, _ := ref.Digest()
	d2, _ := s.Digest()
	require.Equal(t, d1, d2)

	// Already there: nothing to do.
	require.NoError(t, Run(ctx, cfg, s, &chainSource{seed: seed}, target, nil))
}

func TestRunDiverged(t *testing.T) {
	ctx := context.Background()
	s, err := store.OpenMem(store.DefaultConfig())
	require.NoError(t, err)
	defer s.Close()
	g := historytest.NewChain(5)
	for range 10 {
		require.NoError(t, s.Ingest(ctx, g.Next()))
	}
	// Another chain's blocks from 10 on do not build on this head.
	err = Run(ctx, Config{BatchBlocks: 8}, s, &chainSource{seed: 6}, 40, nil)
	require.True(t, errors.Is(err, ErrDiverged), "got %v", err)
	head, _ := s.Head()
	require.Equal(t, uint64(9), head.Number)
}

func TestRunCancelled(t *testing.T) {
	s, err := store.OpenMem(store.DefaultConfig())
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Ingest(context.Background(), historytest.NewChain(5).Next()))
	ctx, cancel := context.WithCancel(context.Background())
	err = Run(ctx, Config{BatchBlocks: 16, Fetchers: 2}, s, &chainSource{seed: 5}, 1000, func(b Batch) {
		if b.Done >= 32 {
			cancel()
		}
	})
	require.ErrorIs(t, err, context.Canceled)
	head, _ := s.Head()
	require.GreaterOrEqual(t, head.Number, uint64(32), "finished batches stay committed")
	require.Zero(t, head.Number%16)
}

func TestWallTime(t *testing.T) {
	s := time.Second
	tests := []struct {
		name    string
		batches []Batch
		want    time.Duration
	}{
		{"none", nil, 0},
		// Batches overlap: the second's replay ran during the first's
		// write, so the wall time is the last Elapsed, not a sum.
		{"one run", []Batch{{From: 1, To: 32, Done: 32, Elapsed: 2 * s}, {From: 33, To: 64, Done: 64, Elapsed: 3 * s}}, 3 * s},
		{"two runs", []Batch{
			{From: 1, To: 32, Done: 32, Elapsed: 2 * s}, {From: 33, To: 40, Done: 40, Elapsed: 3 * s},
			{From: 41, To: 72, Done: 32, Elapsed: s}, {From: 73, To: 80, Done: 40, Elapsed: 4 * s},
		}, 7 * s},
		{"runs of one batch", []Batch{{From: 1, To: 1, Done: 1, Elapsed: s}, {From: 2, To: 3, Done: 2, Elapsed: s}}, 2 * s},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { require.Equal(t, tt.want, WallTime(tt.batches)) })
	}
}
