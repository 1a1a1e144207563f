package store

import (
	"bytes"

	"github.com/cockroachdb/pebble/v2"
)

// deleteBelow works a pruning's first phase: for up to limit of the items
// the interval writes, in key order, it deletes every version below from
// (superseded: the item has a version in [from, to]). When the last item is
// done the task moves on to the interval's blocks.
func (s *Store) deleteBelow(snap *pebble.Snapshot, b *pebble.Batch, t *migrateTask, limit int, yield func() bool) (examined, count int, deleted uint64, err error) {
	items := s.plan.below
	if t.idx < uint64(len(items)) {
		it, err := snap.NewIter(&pebble.IterOptions{LowerBound: items[t.idx]})
		if err != nil {
			return 0, 0, 0, err
		}
		defer it.Close()
		for ; t.idx < uint64(len(items)) && examined < limit; t.idx++ {
			if examined > 0 && examined%yieldEvery == 0 && yield() {
				break
			}
			examined++
			item := items[t.idx]
			for ok := it.SeekGE(versioned(item, t.from-1)); ok; ok = it.Next() {
				k := it.Key()
				if len(k) != len(item)+8 || !bytes.HasPrefix(k, item) {
					break
				}
				if err := b.Delete(k, nil); err != nil {
					return 0, 0, 0, err
				}
				deleted += uint64(len(k) + len(it.Value()))
				count++
			}
			if err := it.Error(); err != nil {
				return 0, 0, 0, err
			}
		}
	}
	if t.idx == uint64(len(items)) {
		t.below, t.blk, t.idx = false, t.from, 0
	}
	return examined, count, deleted, nil
}
