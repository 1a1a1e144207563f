package archive

import (
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/core/types"

	"github.com/strata-chain/strata/history"
)

// restart brings a reopened store back to its head h (the Pebble head
// marker, the last block reported): the history log is cut back to h (a
// tail past it was appended by an ingest that never committed), and the
// blocks between the disk layer and h, whose layers lived only in memory,
// are replayed from their forward updates. A block whose record the log
// lost (NoSync) gets it again: the replay writes what ingest wrote.
func (s *Store) restart() error {
	head := s.head.Load()
	if head == nil {
		if _, _, ok := s.hist.Bounds(); ok {
			// A first block appended but never committed: no block was
			// reported, and the log starts over.
			return s.resetHistory()
		}
		return nil
	}
	if _, last, ok := s.hist.Bounds(); ok && last > head.Number {
		s.log.Info("Cutting the history log back to the head", "head", head.Number, "log_last", last)
		if err := s.hist.TruncateAfter(head.Number); err != nil {
			return fmt.Errorf("archive: cut history log to block %d: %w", head.Number, err)
		}
	}
	from := uint64(0)
	root := types.EmptyRootHash
	if disk, diskRoot, ok := s.live.Disk(); ok {
		from, root = disk+1, diskRoot
	}
	if from > head.Number+1 {
		return fmt.Errorf("archive: the disk layer (block %d) is past the head (block %d)", from-1, head.Number)
	}
	if from <= head.Number {
		s.log.Info("Replaying blocks above the disk layer", "from", from, "to", head.Number)
	}
	for n := from; n <= head.Number; n++ {
		raw, err := s.get(blockKey(forwardPrefix, n))
		if errors.Is(err, history.ErrNotFound) {
			return fmt.Errorf("archive: block %d is above the disk layer but its forward update is gone", n)
		} else if err != nil {
			return err
		}
		u, err := decodeForward(raw)
		if err != nil {
			return fmt.Errorf("archive: block %d: %w", n, err)
		}
		c, err := applyUpdate(s.live, root, u)
		if err != nil {
			return fmt.Errorf("archive: replay block %d: %w", n, err)
		}
		if c.root != u.Header.Root {
			return history.Critical(&history.RootMismatchError{Number: n, Hash: u.Header.Hash(), Want: u.Header.Root, Computed: c.root})
		}
		if err := s.commitBlock(u, c, u.Header.Hash(), false); err != nil {
			return err
		}
		root = c.root
	}
	s.head.Store(head)
	return nil
}

// resetHistory empties the history log of a store without a head.
func (s *Store) resetHistory() error {
	if err := s.hist.Close(); err != nil {
		return fmt.Errorf("archive: close the history log: %w", err)
	}
	s.hist = nil
	if err := s.fs.RemoveAll(s.histDir); err != nil {
		return fmt.Errorf("archive: empty the history log of an empty store: %w", err)
	}
	return s.openHistory()
}
