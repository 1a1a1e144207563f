package archive

import (
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// maybeFlush writes the oldest layers into the disk layer once
// Layers+FlushEvery are held, keeping the newest Layers in memory (the
// deepest reorg Unwind can take back). One batch, unsynced: it carries the
// aggregated nodes and flat values, the disk layer's marker and the removal
// of the forward updates it covers, so a crash loses all of it or none and
// the forward updates replay what it lost.
func (s *Store) maybeFlush() error {
	head := s.head.Load()
	if head == nil || uint64(s.live.Layers()) < s.cfg.Layers+s.cfg.FlushEvery {
		return nil
	}
	upTo := head.Number - s.cfg.Layers
	start := time.Now()
	b := s.db.NewBatch()
	defer b.Close()
	written, err := s.live.Flush(b, upTo)
	if err != nil {
		return s.latch(fmt.Errorf("flush layers to block %d: %w", upTo, err))
	}
	if err := b.DeleteRange(blockKey(forwardPrefix, 0), blockKey(forwardPrefix, upTo+1), nil); err != nil {
		return err
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return s.latch(fmt.Errorf("flush layers to block %d: commit: %w", upTo, err))
	}
	s.live.Flushed(upTo)
	s.usage.flush(written, b.Len(), time.Since(start))
	return nil
}
