package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/cockroachdb/pebble/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/history/replay"
)

// Retention sets the tiers, in blocks (DESIGN §5).
//
// Blocks in the recent tier (the newest Recent blocks, rounded to whole
// checkpoint intervals) keep every trie-node version. Blocks in the window
// tier keep every flat account and slot version and every changeset, but
// trie-node versions only as of each checkpoint (every Checkpoint-th block):
// within an interval (c-C, c] only the newest version of each node
// survives. A proof at a checkpoint reads its nodes directly; one between
// checkpoints is rebuilt in memory from the checkpoint below it and the
// blocks' flat diffs, every rebuilt root checked against its header. Below
// the window only headers and the pinned accounts' full history (their
// flat values, storage tries and the account-trie nodes on their paths)
// survive, so withdrawal proofs work at any age.
//
// Invariants, with recent and oldest as the store's meta holds them (both
// multiples of Checkpoint once retention ran, and moved in the same batch
// as the data they describe): blocks >= recent are complete; blocks in
// [oldest, recent) hold what the window keeps; blocks < oldest hold what
// the pinned tier keeps. A version is only ever deleted when a newer
// version of the same item exists at or below the interval's checkpoint,
// so reads at any checkpoint >= oldest see exactly that block's state.
type Retention struct {
	Recent     uint64        // 0 keeps every version of every block (retention off)
	Window     uint64        // blocks below the recent tier kept compact
	Checkpoint uint64        // C; the window keeps the trie at every C-th block
	Pinned     []common.Hash // keccak256 of the pinned accounts' addresses
}

// Enabled reports whether retention moves or drops anything.
func (r Retention) Enabled() bool { return r.Recent > 0 }

func (r Retention) validate() error {
	if !r.Enabled() {
		return nil
	}
	if r.Checkpoint == 0 || r.Recent < r.Checkpoint || (r.Window > 0 && r.Window < r.Checkpoint) {
		return fmt.Errorf("retention: checkpoint %d must be at least 1 and at most the recent (%d) and window (%d) spans", r.Checkpoint, r.Recent, r.Window)
	}
	return nil
}

// Meta names of the tier boundaries and byte counters.
var (
	metaRecent = []byte("recent")     // block(8): the first block with every node version
	metaTierB  = []byte("tier-bytes") // moved(8) thinned(8) prunedRest(8) prunedDeleted(8)
	sizePrefix = []byte("z")          // z + block(8) -> logical bytes the block holds (8)
)

// tierBytes counts logical (uncompressed key + value) bytes as blocks move
// down the tiers. Ingest adds to ingested; Migrate owns the rest.
type tierBytes struct {
	ingested      atomic.Uint64 // everything ingest ever wrote for the blocks it holds
	moved         uint64        // bytes of blocks when they left the recent tier
	thinned       uint64        // deleted while thinning
	prunedRest    uint64        // bytes of blocks when they left the window
	prunedDeleted uint64        // deleted while pruning
	mu            sync.Mutex    // guards the four above against Tiers
}

// TierStatus is what each tier holds.
type TierStatus struct {
	Name     string // recent, window, pinned
	Earliest uint64 // first block the tier serves
	Latest   uint64 // last block the tier serves
	// Bytes counts the logical bytes (uncompressed keys and values) of
	// the blocks in the tier. A block's versions count where the block is,
	// so pinned also counts, besides headers and pinned history, the
	// versions below the oldest block that the window's oldest state still
	// reads (one per item at most: the base the window builds on).
	Bytes uint64
	Empty bool // the tier holds no block yet
}

// Tiers reports the blocks and logical bytes of each tier.
func (s *Store) Tiers() []TierStatus {
	h := s.head.Load()
	if h == nil {
		return nil
	}
	recent, oldest := s.recent.Load(), s.oldest.Load()
	s.bytes.mu.Lock()
	moved, thinned, prunedRest, prunedDeleted := s.bytes.moved, s.bytes.thinned, s.bytes.prunedRest, s.bytes.prunedDeleted
	s.bytes.mu.Unlock()
	ingested := s.bytes.ingested.Load()
	out := []TierStatus{
		{Name: "recent", Earliest: recent, Latest: h.Number, Bytes: sub(ingested, moved)},
		{Name: "window", Earliest: oldest, Latest: recent - 1, Bytes: sub(moved, thinned+prunedRest), Empty: recent == oldest},
		{Name: "pinned", Earliest: 0, Latest: h.Number, Bytes: sub(prunedRest, prunedDeleted)},
	}
	if recent == 0 {
		out[1].Latest = 0
	}
	return out
}

func sub(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}

func (s *Store) loadRetentionMeta() error {
	if v, err := s.get(metaKey(metaRecent)); err == nil && len(v) == 8 {
		s.recent.Store(binary.BigEndian.Uint64(v))
	} else if err != nil && !errors.Is(err, history.ErrNotFound) {
		return err
	}
	if v, err := s.get(metaKey(metaTierB)); err == nil && len(v) == 32 {
		s.bytes.moved = binary.BigEndian.Uint64(v)
		s.bytes.thinned = binary.BigEndian.Uint64(v[8:])
		s.bytes.prunedRest = binary.BigEndian.Uint64(v[16:])
		s.bytes.prunedDeleted = binary.BigEndian.Uint64(v[24:])
	} else if err != nil && !errors.Is(err, history.ErrNotFound) {
		return err
	}
	if v, err := s.get(metaKey(metaIngested)); err == nil && len(v) == 8 {
		s.bytes.ingested.Store(binary.BigEndian.Uint64(v))
	} else if err != nil && !errors.Is(err, history.ErrNotFound) {
		return err
	}
	if v, err := s.get(metaKey(metaTask)); err == nil {
		if s.task, err = decodeTask(v); err != nil {
			return err
		}
	} else if !errors.Is(err, history.ErrNotFound) {
		return err
	}
	s.pinned = make(map[common.Hash][]byte, len(s.cfg.Retention.Pinned))
	for _, a := range s.cfg.Retention.Pinned {
		s.pinned[a] = keyNibbles(a)
	}
	return nil
}

// metaIngested holds tierBytes.ingested; ingest writes it in each block's batch.
var metaIngested = []byte("ingested-bytes")

func keyNibbles(h common.Hash) []byte {
	out := make([]byte, 64)
	for i, b := range h {
		out[2*i], out[2*i+1] = b>>4, b&0x0f
	}
	return out
}

// isPinned reports whether an unversioned item belongs to a pinned account:
// its flat values, its storage trie, or an account-trie node on its path.
func (s *Store) isPinned(item []byte) bool {
	if len(s.pinned) == 0 {
		return false
	}
	switch {
	case bytes.HasPrefix(item, nodePrefix) && len(item) >= 34:
		owner := common.BytesToHash(item[1:33])
		if owner != (common.Hash{}) {
			_, ok := s.pinned[owner]
			return ok
		}
		path := item[34:]
		for _, nib := range s.pinned {
			if len(path) <= len(nib) && bytes.Equal(nib[:len(path)], path) {
				return true
			}
		}
		return false
	case (bytes.HasPrefix(item, accountPrefix) || bytes.HasPrefix(item, slotPrefix)) && len(item) >= 33:
		_, ok := s.pinned[common.BytesToHash(item[1:33])]
		return ok
	}
	return false
}

// MigrateResult says what one Migrate call did.
type MigrateResult struct {
	Thinned, Pruned uint64 // blocks moved to the window, and below it
	Deleted         int    // versions deleted
	Examined        int    // changeset entries examined (the unit of budget)
	More            bool   // more work is due now
	Yielded         bool   // the step stopped early because a block started ingesting
}

// MigrateChunk is the most changeset entries one migration batch examines:
// small enough that a batch takes a few milliseconds, so a step never holds
// the CPU or the commit pipeline for long beside ingest.
const MigrateChunk = 512

// A migration task moves one checkpoint interval down a tier. Starting it
// moves the boundary (meta recent or oldest) and the byte counters and
// records the task in meta, all in one batch: from then on readers treat
// the interval as the lower tier, which is correct whether or not its
// superseded versions are gone yet (a window read rebuilds from the
// checkpoint below, whose versions are never deleted; a read below the
// window only touches pinned items, which are never deleted). Working it
// deletes the superseded versions in batches of at most MigrateChunk
// entries, each batch also advancing the cursor in meta, so a crash resumes
// where the last batch ended; a delete replayed after a crash is a no-op.
//
// What a task deletes follows from the changesets of the blocks it spans
// (see taskPlan), so deleting a block's superseded versions needs no read.
// A pruning has two phases: first every version below from of each item
// the interval writes (one seek per item, in key order), then, block by
// block, the interval's own superseded versions and block data.
type migrateTask struct {
	prune    bool   // below the window (else: recent tier into the window)
	below    bool   // prune, first phase: idx counts the plan's items whose versions below from go
	from, to uint64 // thin: blocks from..to, to the checkpoint; prune: from..to-1, to the new oldest block
	blk      uint64 // cursor: the block being worked
	idx      uint64 // cursor: the next changeset entry of blk (or item of the plan, in the first phase of a pruning)
	gone     uint64 // bytes deleted so far from blk (thin: its size shrinks by this)
}

// metaTask: kind(1) from(8) to(8) blk(8) idx(8) gone(8); kind t = thin,
// p = prune, b = prune in its first phase. (Stores written by earlier
// builds may append a bitmap; it is ignored: the plan recomputes it.)
var metaTask = []byte("migrate-task")

func (t *migrateTask) encode() []byte {
	kind := byte('t')
	switch {
	case t.prune && t.below:
		kind = 'b'
	case t.prune:
		kind = 'p'
	}
	out := []byte{kind}
	for _, v := range []uint64{t.from, t.to, t.blk, t.idx, t.gone} {
		out = binary.BigEndian.AppendUint64(out, v)
	}
	return out
}

func decodeTask(v []byte) (*migrateTask, error) {
	if len(v) < 41 || (v[0] != 't' && v[0] != 'p' && v[0] != 'b') {
		return nil, fmt.Errorf("migration task in meta: %d bytes, kind %q", len(v), v[:min(len(v), 1)])
	}
	u := func(i int) uint64 { return binary.BigEndian.Uint64(v[1+8*i:]) }
	return &migrateTask{prune: v[0] != 't', below: v[0] == 'b', from: u(0), to: u(1), blk: u(2), idx: u(3), gone: u(4)}, nil
}

// lastBlock is the last block whose changeset the task works through: a
// pruning's to is the new oldest block; a thinning's is the checkpoint,
// whose versions are the newest in the interval and stay.
func (t *migrateTask) lastBlock() uint64 { return t.to - 1 }

// Migrate moves blocks down the tiers, examining at most budget changeset
// entries: whole checkpoint intervals from the recent tier into the window
// (their superseded node versions deleted), then blocks from the window
// below it (everything but headers and pinned history deleted). It works
// in batches of at most MigrateChunk entries and stops early when ctx ends
// (callers bound a step by time with a deadline) or, after its first
// batch, as soon as a block starts ingesting: migration only uses the time
// ingest leaves, and still makes progress when ingest never pauses. Every batch also moves
// the boundary or the task's cursor in meta, so a crash leaves a
// consistent store. It runs beside ingest and reads without blocking either.
func (s *Store) Migrate(ctx context.Context, budget int) (MigrateResult, error) {
	var res MigrateResult
	if !s.cfg.Retention.Enabled() {
		return res, nil
	}
	s.migrateMu.Lock()
	defer s.migrateMu.Unlock()
	if s.head.Load() == nil || s.closed.Load() {
		return res, nil
	}
	s.expireViews(time.Now())
	for budget > 0 && ctx.Err() == nil {
		if res.Examined > 0 && s.ingesting.Load() > 0 {
			res.Yielded = true
			break
		}
		if s.task == nil {
			t, err := s.startTask()
			if err != nil {
				return res, err
			}
			if t == nil {
				return res, nil // nothing is due
			}
			if t.prune {
				res.Pruned += t.to - t.from
			} else {
				res.Thinned += t.to - t.from + 1
			}
		}
		examined, deleted, err := s.workTask(min(budget, MigrateChunk), func() bool { return s.ingesting.Load() > 0 })
		if err != nil {
			return res, err
		}
		res.Examined += examined
		res.Deleted += deleted
		budget -= max(examined, 1)
	}
	res.More = s.task != nil || s.due() != nil
	return res, ctx.Err()
}

// due returns the next task, nil when the tiers are where they should be.
func (s *Store) due() *migrateTask {
	r := s.cfg.Retention
	h := s.head.Load()
	if h == nil {
		return nil
	}
	C := r.Checkpoint
	// The recent tier keeps at least Recent blocks; it gives up whole
	// intervals (c-C, c], so the new boundary is c+1 for a checkpoint c.
	recentTarget := uint64(0)
	if h.Number > r.Recent {
		recentTarget = (h.Number-r.Recent)/C*C + 1
	}
	recent := max(s.recent.Load(), 1) // block 0 is a checkpoint; nothing below it
	if recent+C <= recentTarget+1 && recent+C-1 <= h.Number {
		return &migrateTask{from: recent, to: recent + C - 1, blk: recent}
	}
	// No window: the recent tier's lower edge is also the oldest block.
	oldestTarget := s.recent.Load() - min(s.recent.Load(), 1)
	if r.Window > 0 {
		oldestTarget = 0
		if recent := s.recent.Load(); recent > r.Window {
			oldestTarget = recent - r.Window
		}
	}
	oldestTarget = oldestTarget / C * C
	if oldest := s.oldest.Load(); oldest < oldestTarget {
		to := max((oldest+C)/C*C, oldest+1) // the next checkpoint: oldest stays one
		return &migrateTask{prune: true, below: oldest > 0, from: oldest, to: min(to, oldestTarget), blk: oldest}
	}
	return nil
}

// startTask moves the boundary for the next due task and records the task,
// in one batch.
func (s *Store) startTask() (*migrateTask, error) {
	t := s.due()
	if t == nil {
		return nil, nil
	}
	var size uint64
	last := t.to
	if t.prune {
		last = t.to - 1
	}
	for blk := t.from; blk <= last; blk++ {
		n, err := blockSize(s.db, blk)
		if err != nil {
			return nil, err
		}
		size += n
	}
	b := s.db.NewBatch()
	defer b.Close()
	boundary, next := metaRecent, t.to+1
	if t.prune {
		boundary, next = metaOldest, t.to
	}
	if err := b.Set(metaKey(boundary), encodeBlock(next), nil); err != nil {
		return nil, err
	}
	if err := b.Set(metaKey(metaTask), t.encode(), nil); err != nil {
		return nil, err
	}
	s.bytes.mu.Lock()
	if t.prune {
		s.bytes.prunedRest += size
	} else {
		s.bytes.moved += size
	}
	err := b.Set(metaKey(metaTierB), s.bytes.encode(), nil)
	s.bytes.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return nil, fmt.Errorf("start migrating blocks %d-%d: %w", t.from, t.to, err)
	}
	if t.prune {
		s.oldest.Store(next)
	} else {
		s.recent.Store(next)
	}
	s.task = t
	return t, nil
}

// workTask examines up to limit changeset entries (or, in a pruning's first
// phase, items) of the current task and deletes what its plan says is
// superseded, in one batch that also advances the cursor (or clears the
// task when it is done). A thinning deletes node versions superseded at or
// below the checkpoint; a pruning deletes every item version superseded at
// or below the new oldest block, then the block's changeset, body,
// receipts and transaction lookups. Pinned items keep every version.
//
// The plan is worked out first, a block's changeset per round (see
// taskPlan); planning and deleting both stop early, keeping what is done,
// once yield reports that a block started ingesting (checked every
// yieldEvery entries, after the first ones), so a step hands the CPU back
// within a fraction of a millisecond.
func (s *Store) workTask(limit int, yield func() bool) (examined, count int, err error) {
	t := *s.task // s.task stays as committed should the batch fail
	snap := s.db.NewSnapshot()
	defer snap.Close()
	if !s.plan.covers(&t) {
		s.plan = newPlan(&t)
	}
	for !s.plan.ready {
		if examined >= yieldEvery && yield() || examined >= limit {
			return examined, 0, nil // nothing deleted yet: nothing to commit
		}
		n, err := s.plan.step(s, snap)
		if err != nil {
			s.plan = nil
			return 0, 0, err
		}
		examined += max(n, 1)
	}
	interrupted := func() bool { return examined%yieldEvery == 0 && examined >= yieldEvery && yield() }
	p := s.plan
	b := s.db.NewBatch()
	defer b.Close()
	var deleted uint64
	if t.below {
		n, c, d, err := s.deleteBelow(snap, b, &t, limit-examined, yield)
		if err != nil {
			return 0, 0, err
		}
		examined, count, deleted = examined+n, c, d
	}
	for !t.below && examined < limit && t.blk <= t.lastBlock() {
		entries, drop := p.entries[t.blk], p.drop[t.blk]
		for ; t.idx < uint64(len(entries)) && examined < limit && !interrupted(); t.idx++ {
			examined++
			if drop == nil || !drop.Contains(uint32(t.idx)) {
				continue
			}
			e := entries[t.idx]
			size := e.size()
			if size < 0 { // a changeset without value lengths
				v, err := getFrom(snap, versioned(e.item, t.blk))
				if err != nil && !errors.Is(err, history.ErrNotFound) {
					return 0, 0, err
				}
				size = len(e.item) + 8 + len(v)
			}
			if err := b.Delete(versioned(e.item, t.blk), nil); err != nil {
				return 0, 0, err
			}
			t.gone += uint64(size)
			deleted += uint64(size)
			count++
		}
		if t.idx < uint64(len(entries)) {
			break // the budget ran out inside this block
		}
		if err := s.finishBlock(snap, b, &t, &deleted); err != nil {
			return 0, 0, err
		}
		t.blk, t.idx, t.gone = t.blk+1, 0, 0
	}
	done := t.blk > t.lastBlock()
	if done {
		err = b.Delete(metaKey(metaTask), nil)
	} else {
		err = b.Set(metaKey(metaTask), t.encode(), nil)
	}
	if err != nil {
		return 0, 0, err
	}
	s.bytes.mu.Lock()
	if t.prune {
		s.bytes.prunedDeleted = min(s.bytes.prunedDeleted+deleted, s.bytes.prunedRest)
	} else {
		s.bytes.thinned += deleted
	}
	err = b.Set(metaKey(metaTierB), s.bytes.encode(), nil)
	s.bytes.mu.Unlock()
	if err != nil {
		return 0, 0, err
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return 0, 0, fmt.Errorf("migrate blocks %d-%d at block %d: %w", t.from, t.to, t.blk, err)
	}
	if done {
		s.task, s.plan = nil, nil
	} else {
		s.task = &t
	}
	return examined, count, nil
}

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

// yieldEvery is how many entries migration works between looks at whether
// a block started ingesting.
const yieldEvery = 64

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

// finishBlock writes what a block's finished migration leaves: a thinned
// block's changeset without the entries whose versions went, and its
// smaller size; a pruned block's changeset, body, receipts, transaction
// lookups and size gone (the genesis keeps its marker).
func (s *Store) finishBlock(snap *pebble.Snapshot, b *pebble.Batch, t *migrateTask, deleted *uint64) error {
	if !t.prune {
		drop, quiet := s.plan.drop[t.blk], s.plan.quiet[t.blk]
		if drop != nil {
			entries := s.plan.entries[t.blk]
			kept := make([]changeEntry, 0, len(entries)-int(drop.GetCardinality()))
			for i, e := range entries {
				if !drop.ContainsInt(i) && (quiet == nil || !quiet.ContainsInt(i)) {
					kept = append(kept, e)
				}
			}
			raw, err := getFrom(snap, blockKey(changePrefix, t.blk))
			if err != nil {
				return fmt.Errorf("changeset of block %d: %w", t.blk, err)
			}
			short := encodeChangeset(kept)
			if err := b.Set(blockKey(changePrefix, t.blk), short, nil); err != nil {
				return err
			}
			shrunk := uint64(max(len(raw)-len(short), 0))
			t.gone += shrunk
			*deleted += shrunk
		}
		size, err := blockSize(snap, t.blk)
		if err != nil {
			return err
		}
		return b.Set(blockKey(sizePrefix, t.blk), encodeBlock(size-min(size, t.gone)), nil)
	}
	if t.blk == 0 {
		return nil
	}
	if body, err := getFrom(snap, blockKey(bodyPrefix, t.blk)); err == nil {
		var txs types.Transactions
		if err := rlp.DecodeBytes(body, &txs); err == nil {
			for _, tx := range txs {
				if err := b.Delete(hashKey(txPrefix, tx.Hash()), nil); err != nil {
					return err
				}
			}
		}
		*deleted += uint64(len(body))
	}
	for _, k := range [][]byte{blockKey(bodyPrefix, t.blk), blockKey(receiptPrefix, t.blk), blockKey(changePrefix, t.blk), blockKey(sizePrefix, t.blk)} {
		if err := b.Delete(k, nil); err != nil {
			return err
		}
	}
	return nil
}

func (t *tierBytes) encode() []byte {
	out := binary.BigEndian.AppendUint64(nil, t.moved)
	out = binary.BigEndian.AppendUint64(out, t.thinned)
	out = binary.BigEndian.AppendUint64(out, t.prunedRest)
	return binary.BigEndian.AppendUint64(out, t.prunedDeleted)
}

// changeEntriesAt reads and decodes block blk's changeset from r; the
// entries alias a copy of the stored value.
func changeEntriesAt(r pebble.Reader, blk uint64) ([]changeEntry, error) {
	raw, err := getFrom(r, blockKey(changePrefix, blk))
	if errors.Is(err, history.ErrNotFound) {
		return nil, nil // the bulk-loaded genesis has none
	}
	if err != nil {
		return nil, fmt.Errorf("changeset of block %d: %w", blk, err)
	}
	entries, err := decodeChangesetEntries(raw)
	if err != nil {
		return nil, fmt.Errorf("changeset of block %d: %w", blk, err)
	}
	return entries, nil
}

// changesetAt is changeEntriesAt's items alone.
func changesetAt(r pebble.Reader, blk uint64) ([][]byte, error) {
	entries, err := changeEntriesAt(r, blk)
	if err != nil {
		return nil, err
	}
	return changeItems(entries), nil
}

func blockSize(r pebble.Reader, blk uint64) (uint64, error) {
	v, err := getFrom(r, blockKey(sizePrefix, blk))
	if errors.Is(err, history.ErrNotFound) {
		return 0, nil
	}
	if err != nil || len(v) != 8 {
		return 0, fmt.Errorf("size of block %d: %v", blk, err)
	}
	return binary.BigEndian.Uint64(v), nil
}

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

// pinnedState is the state of a block below the window: only pinned
// accounts can be read and proven; anything else is a PrunedError naming
// the oldest block with full state.
type pinnedState struct {
	*state
	oldest uint64
}

func (p *pinnedState) refuse() error { return &history.PrunedError{Number: p.block, Oldest: p.oldest} }

func (p *pinnedState) Account(a common.Hash) (*types.StateAccount, error) {
	if _, ok := p.s.pinned[a]; !ok {
		return nil, p.refuse()
	}
	return p.state.Account(a)
}

func (p *pinnedState) Storage(a, slot common.Hash) (common.Hash, error) {
	if _, ok := p.s.pinned[a]; !ok {
		return common.Hash{}, p.refuse()
	}
	return p.state.Storage(a, slot)
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
