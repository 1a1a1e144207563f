package main

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/bench"
	"github.com/strata-chain/strata/catchup"
	"github.com/strata-chain/strata/history/store"
	"github.com/strata-chain/strata/sequencer"
)

// TestMeasurePhases replays, with bench.MeasurePhases, a devnet's datadir into a new one stage by
// stage: the target must end holding exactly the source's bytes, each
// stage's CPU is what the clock advanced during it, and bad ranges are
// refused before anything is read.
func TestMeasurePhases(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a devnet")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srcDir, dst := t.TempDir(), t.TempDir()
	cfg := testNodeConfig(srcDir)
	cfg.Sequencer.BlockTime = 10 * time.Millisecond
	n, err := startNode(ctx, cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	runUntil(t, n, func(info sequencer.BlockInfo) bool { return info.Number >= 50 })
	require.NoError(t, n.Close())
	source, err := store.Open(srcDir, store.DefaultConfig(), nil)
	require.NoError(t, err)
	want, err := source.Digest()
	require.NoError(t, err)
	srcHead, err := source.Head()
	require.NoError(t, err)
	require.NoError(t, source.Close())

	src, err := openCatchupSource(srcDir)
	require.NoError(t, err)
	defer src.Close()
	st, err := store.Open(dst, store.DefaultConfig(), nil)
	require.NoError(t, err)
	defer st.Close()
	require.NoError(t, ensureGenesis(ctx, st, src, slog.New(slog.DiscardHandler)))

	// A clock that advances one second per reading: every stage reads it
	// twice, so each costs exactly one second.
	var ticks time.Duration
	clock := func() time.Duration { ticks += time.Second; return ticks }
	pcfg := catchup.Config{BatchBlocks: 7, Workers: 2}

	_, err = bench.MeasurePhases(ctx, pcfg, st, src, 0, 0, clock, 2)
	require.ErrorContains(t, err, "nothing to replay above head 0")
	_, err = bench.MeasurePhases(ctx, pcfg, st, src, 0, bench.MaxPhaseBlocks+1, clock, 2)
	require.ErrorContains(t, err, "lower --to")
	require.Zero(t, ticks, "refused ranges read nothing")

	res, err := bench.MeasurePhases(ctx, pcfg, st, src, 0, srcHead.Number, clock, 2)
	require.NoError(t, err)
	require.Equal(t, srcHead.Number, res.Blocks)
	for _, p := range []bench.PhaseTime{res.Read, res.Prepare, res.Commit} {
		require.Equal(t, time.Second, p.CPU)
		require.Positive(t, p.Wall)
	}
	// Two cores, three seconds for all blocks: 2·blocks/3 blocks a second.
	require.InDelta(t, 2*float64(res.Blocks)/3, res.Ceiling(res.Read, res.Prepare, res.Commit), 1e-9)
	require.Contains(t, res.String(), "writing alone")

	// measurePhases closed the store after writing; it reopens at the
	// source's head with the source's bytes.
	got, err := store.Open(dst, store.DefaultConfig(), nil)
	require.NoError(t, err)
	defer got.Close()
	head, err := got.Head()
	require.NoError(t, err)
	require.Equal(t, srcHead, head)
	digest, err := got.Digest()
	require.NoError(t, err)
	require.Equal(t, want, digest)
}
