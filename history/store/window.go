package store

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"github.com/cockroachdb/pebble/v2"

	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/history/replay"
)

// windowState rebuilds the state of block n, which lies in the window
// between checkpoints: the checkpoint below it read directly, the blocks up
// to n merged into one update and replayed in memory over it, the result's
// root checked against n's header. Should the merged replay fail, the
// blocks are replayed one by one, every root checked (and the fallback
// counted: it means the merge missed a case).
func (s *Store) windowState(snap *pebble.Snapshot, n uint64) (history.State, error) {
	c := n / s.cfg.Retention.Checkpoint * s.cfg.Retention.Checkpoint
	hdr, err := s.HeaderByNumber(c)
	if err != nil {
		snap.Close()
		return nil, err
	}
	base := s.openStateOn(snap, c, hdr.Root)
	us := make([]*history.BlockUpdate, 0, n-c)
	for k := c + 1; k <= n; k++ {
		u, err := s.updateAt(k, false)
		if err != nil {
			base.Close()
			if errors.Is(err, history.ErrNotFound) {
				return nil, &history.PrunedError{Number: n, Oldest: s.oldest.Load()}
			}
			return nil, fmt.Errorf("rebuild block %d from checkpoint %d: %w", n, c, err)
		}
		us = append(us, u)
	}
	workers := runtime.GOMAXPROCS(0)
	s.windowRebuilds.Add(1)
	if len(us) > 1 {
		st, err := replay.Rebuild(context.Background(), base, []*history.BlockUpdate{replay.Merge(us)}, workers)
		if err == nil {
			return st, nil
		}
		s.rebuildFallbacks.Add(1)
		s.log.Warn("Merged rebuild failed; replaying block by block", "block", n, "checkpoint", c, "err", err)
	}
	st, err := replay.Rebuild(context.Background(), base, us, workers)
	if err != nil {
		base.Close()
		return nil, fmt.Errorf("rebuild block %d from checkpoint %d: %w", n, c, err)
	}
	return st, nil
}
