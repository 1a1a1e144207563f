package store

import (
	"context"

	"github.com/strata-chain/strata/history"
)

// DiskUsage is the bytes the database occupies on disk (sstables, WAL,
// manifests).
func (s *Store) DiskUsage() uint64 {
	if s.closed.Load() {
		return 0
	}
	return s.db.Metrics().DiskSpaceUsage()
}

// Compact compacts the whole key space, so deleted versions free their
// disk (pruning leaves that to Pebble's background compactions otherwise).
func (s *Store) Compact() error {
	if s.closed.Load() {
		return history.ErrClosed
	}
	return s.db.Compact(context.Background(), []byte{0}, []byte{0xff}, true)
}

// LiveTableBytes is the size of the sstables the store's data lives in,
// without WAL and files waiting for deletion: what compaction shrinks.
func (s *Store) LiveTableBytes() uint64 {
	if s.closed.Load() {
		return 0
	}
	return s.db.Metrics().Table.Local.LiveSize
}
