package store

import (
	"encoding/binary"
	"errors"

	"github.com/ethereum/go-ethereum/common"

	"github.com/strata-chain/strata/history"
)

// Retention sets the tiers, in blocks: history.Retention (DESIGN §4), the
// type the retention package builds from the operator's spans.
//
// Invariants, with recent and oldest as the store's meta holds them (both
// multiples of Checkpoint once retention ran, and moved in the same batch
// as the data they describe): blocks >= recent are complete; blocks in
// [oldest, recent) hold what the window keeps; blocks < oldest hold what
// the pinned tier keeps. A version is only ever deleted when a newer
// version of the same item exists at or below the interval's checkpoint,
// so reads at any checkpoint >= oldest see exactly that block's state.
type Retention = history.Retention

// metaRecent is the tier boundary the window starts below (the oldest
// block with full state is metaOldest, in schema.go).
var metaRecent = []byte("recent") // block(8): the first block with every node version

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
