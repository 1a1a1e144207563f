package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/strata-chain/strata/catchup"
	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/history/replay"
)

// MaxPhaseBlocks bounds `strata catchup --phases`, which holds the whole
// range in memory (a full base-like block's updates and trie nodes take
// about 1.5 MB).
const MaxPhaseBlocks = 2048

// PhaseTime is what one stage cost: process CPU (every goroutine and
// Pebble's background work) and wall time.
type PhaseTime struct{ CPU, Wall time.Duration }

// PhaseCost is what catch-up's three stages cost when run one after the
// other instead of overlapped, so each one's CPU is its own: reading the
// source, replaying the tries (the storage tries in parallel across each
// batch, then the account trie), and writing (Pebble's flushes and
// compactions included, up to the store's close, which waits for those
// still running).
type PhaseCost struct {
	Blocks                uint64
	Read, Prepare, Commit PhaseTime
	Cores                 int
}

// Ceiling is the replay speed in blocks per second that all cores kept
// busy would reach if the CPU per block were only that of the given stages.
func (c PhaseCost) Ceiling(stages ...PhaseTime) float64 {
	var cpu time.Duration
	for _, s := range stages {
		cpu += s.CPU
	}
	if cpu <= 0 || c.Blocks == 0 {
		return 0
	}
	return float64(c.Cores) * float64(c.Blocks) / cpu.Seconds()
}

func (c PhaseCost) String() string {
	var b strings.Builder
	per := func(d time.Duration) time.Duration {
		return (d / time.Duration(max(c.Blocks, 1))).Round(10 * time.Microsecond)
	}
	fmt.Fprintf(&b, "%d blocks, stages run one after the other on %d cores:\n", c.Blocks, c.Cores)
	for _, s := range []struct {
		name string
		t    PhaseTime
	}{{"read source", c.Read}, {"replay tries", c.Prepare}, {"write (flush, compaction)", c.Commit}} {
		fmt.Fprintf(&b, "  %-26s CPU %-9s per block (wall %s)\n", s.name, per(s.t.CPU), s.t.Wall.Round(time.Millisecond))
	}
	fmt.Fprintf(&b, "  ceiling with every core busy: %.1f blocks/s (writing alone %.1f, replay alone %.1f)",
		c.Ceiling(c.Read, c.Prepare, c.Commit), c.Ceiling(c.Commit), c.Ceiling(c.Prepare))
	return b.String()
}

// PhaseStore is what MeasurePhases replays into.
type PhaseStore interface {
	catchup.Store
	Close() error
}

// MeasurePhases replays head+1..to as catch-up does, batch by batch, but
// in three stages that do not overlap: it reads the whole range, then
// replays every batch (each on top of the store's head and the batches
// before it), then writes every batch, then closes the store. cpu reads
// the process's CPU time (ProcessCPU). A range of more than MaxPhaseBlocks
// is refused before anything is read.
func MeasurePhases(ctx context.Context, cfg catchup.Config, st PhaseStore, src catchup.Source, head, to uint64, cpu func() time.Duration, cores int) (PhaseCost, error) {
	res := PhaseCost{Cores: cores}
	if to <= head {
		return res, fmt.Errorf("--phases: nothing to replay above head %d", head)
	}
	if to-head > MaxPhaseBlocks {
		return res, fmt.Errorf("--phases holds the range in memory: %d blocks above head %d is more than %d (lower --to)", to-head, head, MaxPhaseBlocks)
	}
	batch := max(cfg.BatchBlocks, 1)
	stage := func(t *PhaseTime, f func() error) error {
		c, w := cpu(), time.Now()
		err := f()
		t.CPU, t.Wall = cpu()-c, time.Since(w)
		return err
	}
	var us []*history.BlockUpdate
	if err := stage(&res.Read, func() (err error) {
		us, err = readRange(ctx, src, head+1, to)
		return err
	}); err != nil {
		return res, fmt.Errorf("read: %w", err)
	}
	res.Blocks = uint64(len(us))
	if err := stage(&res.Prepare, func() error { return prepareBatches(ctx, st, head, us, batch, cfg.Workers) }); err != nil {
		return res, fmt.Errorf("replay: %w", err)
	}
	if err := stage(&res.Commit, func() error { return writeBatches(ctx, st, us, batch) }); err != nil {
		return res, fmt.Errorf("write: %w", err)
	}
	return res, nil
}

// readRange reads blocks from..to of the source into memory.
func readRange(ctx context.Context, src catchup.Source, from, to uint64) ([]*history.BlockUpdate, error) {
	recv, err := src.Range(ctx, from, to)
	if err != nil {
		return nil, err
	}
	var us []*history.BlockUpdate
	for {
		u, err := recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		us = append(us, u)
	}
	if uint64(len(us)) != to-from+1 {
		return nil, fmt.Errorf("source gave %d blocks for %d-%d", len(us), from, to)
	}
	return us, nil
}

// prepareBatches replays the tries of each batch of us on the state after
// the ones before it: the head's state under a stack of views, one per
// batch (a view owns and closes what it stacks on).
func prepareBatches(ctx context.Context, st catchup.Store, head uint64, us []*history.BlockUpdate, batch, workers int) error {
	state, err := st.StateAt(head)
	if err != nil {
		return err
	}
	defer func() { state.Close() }()
	for i := 0; i < len(us); i += batch {
		run := us[i:min(i+batch, len(us))]
		if err := replay.Prepare(ctx, state, run, workers); err != nil {
			return err
		}
		state = replay.View(state, run)
	}
	return nil
}

// writeBatches ingests us batch by batch and closes the store, which waits
// for the flushes and compactions still running.
func writeBatches(ctx context.Context, st PhaseStore, us []*history.BlockUpdate, batch int) error {
	for i := 0; i < len(us); i += batch {
		if err := st.IngestBatch(ctx, us[i:min(i+batch, len(us))]); err != nil {
			return err
		}
	}
	return st.Close()
}
