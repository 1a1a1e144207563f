package main

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

// maxPhaseBlocks bounds `strata catchup --phases`, which holds the whole
// range in memory (a full base-like block's updates and trie nodes take
// about 1.5 MB).
const maxPhaseBlocks = 2048

// phaseTime is what one stage cost: process CPU (every goroutine and
// Pebble's background work) and wall time.
type phaseTime struct{ CPU, Wall time.Duration }

// phaseCost is what catch-up's three stages cost when run one after the
// other instead of overlapped, so each one's CPU is its own: reading the
// source, replaying the tries (the storage tries in parallel across each
// batch, then the account trie), and writing (Pebble's flushes and
// compactions included, up to the store's close, which waits for those
// still running).
type phaseCost struct {
	Blocks                uint64
	Read, Prepare, Commit phaseTime
	Cores                 int
}

// ceiling is the replay speed in blocks per second that all cores kept
// busy would reach if the CPU per block were only that of the given stages.
func (c phaseCost) ceiling(stages ...phaseTime) float64 {
	var cpu time.Duration
	for _, s := range stages {
		cpu += s.CPU
	}
	if cpu <= 0 || c.Blocks == 0 {
		return 0
	}
	return float64(c.Cores) * float64(c.Blocks) / cpu.Seconds()
}

func (c phaseCost) String() string {
	var b strings.Builder
	per := func(d time.Duration) time.Duration {
		return (d / time.Duration(max(c.Blocks, 1))).Round(10 * time.Microsecond)
	}
	fmt.Fprintf(&b, "%d blocks, stages run one after the other on %d cores:\n", c.Blocks, c.Cores)
	for _, s := range []struct {
		name string
		t    phaseTime
	}{{"read source", c.Read}, {"replay tries", c.Prepare}, {"write (flush, compaction)", c.Commit}} {
		fmt.Fprintf(&b, "  %-26s CPU %-9s per block (wall %s)\n", s.name, per(s.t.CPU), s.t.Wall.Round(time.Millisecond))
	}
	fmt.Fprintf(&b, "  ceiling with every core busy: %.1f blocks/s (writing alone %.1f, replay alone %.1f)",
		c.ceiling(c.Read, c.Prepare, c.Commit), c.ceiling(c.Commit), c.ceiling(c.Prepare))
	return b.String()
}

// phaseStore is what measurePhases replays into.
type phaseStore interface {
	catchup.Store
	Close() error
}

// measurePhases replays head+1..to as catch-up does, batch by batch, but
// in three stages that do not overlap: it reads the whole range, then
// replays every batch (each on top of the store's head and the batches
// before it), then writes every batch, then closes the store. cpu reads
// the process's CPU time.
func measurePhases(ctx context.Context, cfg catchup.Config, st phaseStore, src catchup.Source, head, to uint64, cpu func() time.Duration, cores int) (phaseCost, error) {
	res := phaseCost{Cores: cores}
	if to <= head {
		return res, fmt.Errorf("--phases: nothing to replay above head %d", head)
	}
	if to-head > maxPhaseBlocks {
		return res, fmt.Errorf("--phases holds the range in memory: %d blocks above head %d is more than %d (lower --to)", to-head, head, maxPhaseBlocks)
	}
	batch := max(cfg.BatchBlocks, 1)
	stage := func(t *phaseTime, f func() error) error {
		c, w := cpu(), time.Now()
		err := f()
		t.CPU, t.Wall = cpu()-c, time.Since(w)
		return err
	}
	var us []*history.BlockUpdate
	if err := stage(&res.Read, func() error {
		recv, err := src.Range(ctx, head+1, to)
		if err != nil {
			return err
		}
		for {
			u, err := recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			us = append(us, u)
		}
		if uint64(len(us)) != to-head {
			return fmt.Errorf("source gave %d blocks for %d-%d", len(us), head+1, to)
		}
		return nil
	}); err != nil {
		return res, fmt.Errorf("read: %w", err)
	}
	res.Blocks = uint64(len(us))
	if err := stage(&res.Prepare, func() error {
		// Each batch replays on the state after the ones before it: the
		// head's state under a stack of views, one per batch (a view owns
		// and closes what it stacks on).
		state, err := st.StateAt(head)
		if err != nil {
			return err
		}
		defer func() { state.Close() }()
		for i := 0; i < len(us); i += batch {
			run := us[i:min(i+batch, len(us))]
			if err := replay.Prepare(ctx, state, run, cfg.Workers); err != nil {
				return err
			}
			state = replay.View(state, run)
		}
		return nil
	}); err != nil {
		return res, fmt.Errorf("replay: %w", err)
	}
	err := stage(&res.Commit, func() error {
		for i := 0; i < len(us); i += batch {
			if err := st.IngestBatch(ctx, us[i:min(i+batch, len(us))]); err != nil {
				return err
			}
		}
		return st.Close()
	})
	if err != nil {
		return res, fmt.Errorf("write: %w", err)
	}
	return res, nil
}
