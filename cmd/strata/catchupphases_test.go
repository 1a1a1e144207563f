package main

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/catchup"
	"github.com/strata-chain/strata/history/store"
	"github.com/strata-chain/strata/sequencer"
)

// TestMeasurePhases replays a devnet's datadir into a new one stage by
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
	n, err := newNode(cfg, slog.New(slog.DiscardHandler))
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

	_, err = measurePhases(ctx, pcfg, st, src, 0, 0, clock, 2)
	require.ErrorContains(t, err, "nothing to replay above head 0")
	_, err = measurePhases(ctx, pcfg, st, src, 0, maxPhaseBlocks+1, clock, 2)
	require.ErrorContains(t, err, "lower --to")
	require.Zero(t, ticks, "refused ranges read nothing")

	res, err := measurePhases(ctx, pcfg, st, src, 0, srcHead.Number, clock, 2)
	require.NoError(t, err)
	require.Equal(t, srcHead.Number, res.Blocks)
	for _, p := range []phaseTime{res.Read, res.Prepare, res.Commit} {
		require.Equal(t, time.Second, p.CPU)
		require.Positive(t, p.Wall)
	}
	// Two cores, three seconds for all blocks: 2·blocks/3 blocks a second.
	require.InDelta(t, 2*float64(res.Blocks)/3, res.ceiling(res.Read, res.Prepare, res.Commit), 1e-9)
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

func TestPhaseCostString(t *testing.T) {
	c := phaseCost{Blocks: 100, Cores: 2,
		Read:    phaseTime{CPU: time.Second, Wall: time.Second},
		Prepare: phaseTime{CPU: 4 * time.Second, Wall: 2 * time.Second},
		Commit:  phaseTime{CPU: 5 * time.Second, Wall: 3 * time.Second}}
	require.Equal(t, `100 blocks, stages run one after the other on 2 cores:
  read source                CPU 10ms      per block (wall 1s)
  replay tries               CPU 40ms      per block (wall 2s)
  write (flush, compaction)  CPU 50ms      per block (wall 3s)
  ceiling with every core busy: 20.0 blocks/s (writing alone 40.0, replay alone 50.0)`, c.String())
	require.Zero(t, phaseCost{Cores: 2}.ceiling(phaseTime{}))
}
