package store

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"

	"github.com/strata-chain/strata/history"
)

// Retention sets the tiers, in blocks: history.Retention (DESIGN §4), the
// type the retention package builds from the operator's spans. The store
// does not schedule the tiers: Config.Policy (a history.TierPolicy, which
// the retention package implements) names each task, and the store checks
// it against the boundaries and carries it out (migrate.go).
//
// Invariants, with recent and oldest as the store's meta holds them (once
// retention ran, oldest a checkpoint and recent the block after one, both
// moved in the same batch as the data they describe): blocks >= recent are complete; blocks in
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
	var pinned []common.Hash
	if s.cfg.Policy != nil {
		pinned = s.cfg.Policy.Pinned()
	}
	s.pinned = make(map[common.Hash][]byte, len(pinned))
	for _, a := range pinned {
		s.pinned[a] = keyNibbles(a)
	}
	return nil
}

// due asks the policy for the next task, nil when the tiers are where they
// should be. The policy's task is checked against the boundaries before the
// store acts on it (history.TierPolicy's invariants); one that breaks them
// is refused with an error naming it, and nothing moves.
func (s *Store) due() (*migrateTask, error) {
	h := s.head.Load()
	if h == nil {
		return nil, nil
	}
	b := history.TierBounds{Head: h.Number, Recent: s.recent.Load(), Oldest: s.oldest.Load()}
	t, ok := s.cfg.Policy.Due(b)
	if !ok {
		return nil, nil
	}
	if err := checkTask(t, b, s.cfg.Retention.Checkpoint); err != nil {
		return nil, err
	}
	return &migrateTask{prune: t.Prune, below: t.Prune && t.From > 0, from: t.From, to: t.To, blk: t.From}, nil
}

// checkTask reports why a policy's task cannot be carried out at bounds b
// with checkpoint interval C, nil when it can: a thinning must be the one
// interval starting at the recent tier's first block and end below the
// head; a pruning must start at the oldest block and end, past it, below
// the recent tier.
func checkTask(t history.TierTask, b history.TierBounds, C uint64) error {
	var why string
	switch recent := max(b.Recent, 1); {
	case !t.Prune && t.From != recent:
		why = fmt.Sprintf("it does not start at the recent tier's first block %d", recent)
	case !t.Prune && t.To != t.From+C-1:
		why = fmt.Sprintf("it is not one checkpoint interval of %d blocks", C)
	case !t.Prune && t.To >= b.Head:
		why = fmt.Sprintf("it reaches the head %d", b.Head)
	case t.Prune && t.From != b.Oldest:
		why = fmt.Sprintf("it does not start at the oldest block %d", b.Oldest)
	case t.Prune && t.To <= t.From:
		why = "it is empty"
	case t.Prune && t.To >= b.Recent:
		why = fmt.Sprintf("it reaches the recent tier at block %d", b.Recent)
	default:
		return nil
	}
	return fmt.Errorf("retention policy named %s at head %d (recent %d, oldest %d): %s", t, b.Head, b.Recent, b.Oldest, why)
}
