package archive

import "fmt"

// maybePrune ends the recent tier: once the history log holds whole files
// below head-Recent, the oldest block moves up to the block before the
// first one it keeps, and those files are deleted. The oldest block moves
// (meta and memory) before the files go, so a state is never opened on
// history that is about to disappear; one already open fails its reads.
func (s *Store) maybePrune() error {
	head := s.head.Load()
	if s.cfg.Recent == 0 || head == nil || head.Number <= s.cfg.Recent {
		return nil
	}
	below := head.Number - s.cfg.Recent
	keep := uint64(0)
	for _, f := range s.hist.Files() {
		if f.Last >= below {
			keep = f.First
			break
		}
	}
	if keep == 0 || keep-1 <= s.oldest.Load() {
		return nil
	}
	oldest := keep - 1
	if err := s.db.Set(metaKey(metaOldest), encodeUint64(oldest), s.syncOpt()); err != nil {
		return s.latch(fmt.Errorf("prune below block %d: %w", keep, err))
	}
	s.oldest.Store(oldest)
	removed, err := s.hist.PruneBefore(keep)
	if err != nil {
		return s.latch(fmt.Errorf("prune below block %d: %w", keep, err))
	}
	s.usage.pruned(removed)
	return nil
}
