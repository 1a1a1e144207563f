package archive

import (
	"fmt"

	"github.com/strata-chain/strata/history"
)

// Unwind removes blocks above n: their blocks and forward updates and the
// head marker in one synced batch, then the history log's tail and the
// layers. A reorg below the disk layer (deeper than the layers held) is
// refused with the reorg class and changes nothing.
func (s *Store) Unwind(n uint64) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.flushMu.Lock() // a flush in flight ends first; none starts meanwhile
	defer s.flushMu.Unlock()
	if err := s.writeErr(); err != nil {
		return err
	}
	head := s.head.Load()
	if head == nil || n >= head.Number {
		return nil
	}
	if disk, _, ok := s.live.Disk(); ok && n < disk {
		return history.Reorg(fmt.Errorf("unwind to block %d: deeper than the %d blocks held in memory (the disk layer is at block %d)", n, head.Number-disk, disk))
	}
	h, err := s.HeaderByNumber(n)
	if err != nil {
		return fmt.Errorf("unwind to block %d: %w", n, err)
	}
	b := s.db.NewBatch()
	defer b.Close()
	for m := n + 1; m <= head.Number; m++ {
		if err := s.deleteBlock(b, m); err != nil {
			return fmt.Errorf("unwind block %d: %w", m, err)
		}
	}
	newHead := history.Head{Number: n, Hash: h.Hash(), Root: h.Root}
	if err := b.Set(metaKey(metaHead), encodeHead(newHead), nil); err != nil {
		return err
	}
	if err := b.Commit(s.syncOpt()); err != nil {
		return s.latch(fmt.Errorf("unwind to block %d: commit: %w", n, err))
	}
	s.head.Store(&newHead)
	if err := s.hist.TruncateAfter(n); err != nil {
		return s.latch(fmt.Errorf("unwind to block %d: %w", n, err))
	}
	if err := s.live.Unwind(n); err != nil {
		return s.latch(fmt.Errorf("unwind to block %d: %w", n, err))
	}
	return nil
}
