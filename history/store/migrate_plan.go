package store

import (
	"bytes"
	"slices"
	"unsafe"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/cockroachdb/pebble/v2"
)

// taskPlan is what a task deletes, worked out from the changesets of the
// blocks it spans: a block's version of an item is superseded when a later
// block of the task's range, up to and including to, writes the item again
// (every version a block writes is listed in its changeset). A thinning
// looks at trie nodes only; a pruning at every item; neither at pinned
// items. The plan is computed when a task starts or resumes, from the
// changesets of the blocks the cursor has not passed (which the task has
// not rewritten or deleted yet, and which nothing else writes), one block
// per step from to down, and kept in memory until the task ends.
type taskPlan struct {
	prune    bool
	from, to uint64
	first    uint64                     // the first block the plan covers
	entries  map[uint64][]changeEntry   // the changesets of blocks first..to-1
	drop     map[uint64]*roaring.Bitmap // per block: entries whose version goes (deleted, bytes counted)
	quiet    map[uint64]*roaring.Bitmap // per block: earlier entries of an item dropped above, written twice by the block
	below    [][]byte                   // pruning from its start: the items written in from..to, sorted

	ready bool
	next  uint64              // while planning: the block the next step plans
	seen  map[string]struct{} // while planning: items the blocks after next write (keys alias the changesets)
}

func newPlan(t *migrateTask) *taskPlan {
	p := &taskPlan{prune: t.prune, from: t.from, to: t.to, first: t.blk, next: t.to,
		entries: map[uint64][]changeEntry{}, drop: map[uint64]*roaring.Bitmap{}, quiet: map[uint64]*roaring.Bitmap{},
		seen: map[string]struct{}{}}
	if t.below {
		p.first = t.from
	}
	return p
}

func (p *taskPlan) covers(t *migrateTask) bool {
	return p != nil && p.prune == t.prune && p.from == t.from && p.to == t.to && p.first <= t.blk &&
		(!t.below || p.first == t.from)
}

// aliasString views b as a string without copying; b must not change while
// the string is in use (changesets read for a plan never do).
func aliasString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// step plans block p.next and returns its changeset's length.
func (p *taskPlan) step(s *Store, r pebble.Reader) (int, error) {
	blk := p.next
	entries, err := changeEntriesAt(r, blk)
	if err != nil {
		return 0, err
	}
	var drop, quiet *roaring.Bitmap
	written := make(map[string]bool, len(entries)) // item -> dropped, for the block's later entries
	for i := len(entries) - 1; i >= 0; i-- {
		item := entries[i].item
		if (!p.prune && !bytes.HasPrefix(item, nodePrefix)) || s.isPinned(item) {
			continue
		}
		key := aliasString(item)
		if gone, again := written[key]; again {
			if gone {
				if quiet == nil {
					quiet = roaring.New()
				}
				quiet.AddInt(i)
			}
			continue
		}
		_, later := p.seen[key]
		gone := later && blk < p.to
		written[key] = gone
		if gone {
			if drop == nil {
				drop = roaring.New()
			}
			drop.AddInt(i)
		}
	}
	for key := range written {
		p.seen[key] = struct{}{}
	}
	if blk < p.to {
		p.entries[blk], p.drop[blk], p.quiet[blk] = entries, drop, quiet
	}
	if blk > p.first {
		p.next = blk - 1
		return len(entries), nil
	}
	if p.first == p.from && p.prune {
		p.below = make([][]byte, 0, len(p.seen))
		for key := range p.seen {
			p.below = append(p.below, unsafe.Slice(unsafe.StringData(key), len(key)))
		}
		slices.SortFunc(p.below, bytes.Compare)
	}
	p.seen, p.ready = nil, true
	return len(entries), nil
}
