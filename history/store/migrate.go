package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/strata-chain/strata/history"
)

// MigrateResult says what one Migrate call did (history.MigrateResult).
type MigrateResult = history.MigrateResult

// MigrateChunk is the most changeset entries one migration batch examines:
// small enough that a batch takes a few milliseconds, so a step never holds
// the CPU or the commit pipeline for long beside ingest.
const MigrateChunk = 512

// yieldEvery is how many entries migration works between looks at whether
// a block started ingesting.
const yieldEvery = 64

// Migrate moves blocks down the tiers, examining at most budget changeset
// entries: the tasks Config.Policy names (checked against the boundaries;
// a task that breaks the policy contract is an error), whole checkpoint
// intervals from the recent tier into the window (their superseded node
// versions deleted) and blocks from the window below it (everything but
// headers and pinned history deleted). It works
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
	if err := s.writeErr(); err != nil {
		return res, err // a store that stopped writing migrates nothing
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
	if s.task == nil {
		next, err := s.due()
		if err != nil {
			return res, err
		}
		res.More = next != nil
	} else {
		res.More = true
	}
	return res, ctx.Err()
}

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

// startTask moves the boundary for the next due task and records the task,
// in one batch.
func (s *Store) startTask() (*migrateTask, error) {
	t, err := s.due()
	if t == nil || err != nil {
		return nil, err
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
	err = b.Set(metaKey(metaTierB), s.bytes.encode(), nil)
	s.bytes.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := s.commit(b, pebble.NoSync); err != nil {
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
	if err := s.commit(b, pebble.NoSync); err != nil {
		return 0, 0, fmt.Errorf("migrate blocks %d-%d at block %d: %w", t.from, t.to, t.blk, err)
	}
	if done {
		s.task, s.plan = nil, nil
	} else {
		s.task = &t
	}
	return examined, count, nil
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
