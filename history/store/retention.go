package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

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
	Bytes    uint64 // logical bytes (uncompressed keys and values)
	Empty    bool   // the tier holds no block yet
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
	More            bool   // more work is due now
}

// Migrate moves at most budget blocks down the tiers: whole checkpoint
// intervals from the recent tier into the window (their superseded node
// versions deleted), then blocks from the window below it (everything but
// headers and pinned history deleted). Each step is one batch that also
// moves the boundary in meta, so a crash leaves a consistent store. It runs
// beside ingest and reads without blocking either.
func (s *Store) Migrate(ctx context.Context, budget int) (MigrateResult, error) {
	var res MigrateResult
	r := s.cfg.Retention
	if !r.Enabled() {
		return res, nil
	}
	s.migrateMu.Lock()
	defer s.migrateMu.Unlock()
	h := s.head.Load()
	if h == nil || s.closed.Load() {
		return res, nil
	}
	C := r.Checkpoint
	// The recent tier keeps at least Recent blocks; it gives up whole
	// intervals (c-C, c], so the new boundary is c+1 for a checkpoint c.
	recentTarget := uint64(0)
	if h.Number > r.Recent {
		recentTarget = (h.Number-r.Recent)/C*C + 1
	}
	for budget > 0 && ctx.Err() == nil {
		recent := s.recent.Load()
		if recent == 0 {
			recent = 1 // block 0 is a checkpoint; nothing below it
		}
		if recent+C > recentTarget+1 || recent+C-1 > h.Number {
			break
		}
		n, del, err := s.thinInterval(recent, recent+C-1)
		if err != nil {
			return res, err
		}
		res.Thinned += n
		res.Deleted += del
		budget -= int(n)
	}
	if r.Window == 0 && ctx.Err() == nil {
		// No window: the recent tier's lower edge is also the oldest block.
		return s.pruneUpTo(ctx, s.recent.Load()-min(s.recent.Load(), 1), budget, res)
	}
	recent := s.recent.Load()
	oldestTarget := uint64(0)
	if recent > r.Window {
		oldestTarget = (recent - r.Window) / C * C
	}
	return s.pruneUpTo(ctx, oldestTarget, budget, res)
}

func (s *Store) pruneUpTo(ctx context.Context, target uint64, budget int, res MigrateResult) (MigrateResult, error) {
	C := s.cfg.Retention.Checkpoint
	target = target / C * C
	for budget > 0 && ctx.Err() == nil && s.oldest.Load() < target {
		oldest := s.oldest.Load()
		to := min(target, oldest+uint64(budget))
		to = max(to/C*C, min(target, oldest+C)) // oldest stays a checkpoint
		n, del, err := s.prune(oldest, to)
		if err != nil {
			return res, err
		}
		res.Pruned += n
		res.Deleted += del
		budget -= int(n)
	}
	h := s.head.Load()
	res.More = budget <= 0 && h != nil
	return res, ctx.Err()
}

// thinInterval moves blocks from..to (an interval (c-C, c], c = to) into the
// window: for each node version a block wrote, it is deleted when a newer
// version of the node exists at or below c. Pinned items keep every version.
func (s *Store) thinInterval(from, to uint64) (uint64, int, error) {
	snap := s.db.NewSnapshot()
	defer snap.Close()
	it, err := snap.NewIter(nil)
	if err != nil {
		return 0, 0, err
	}
	defer it.Close()
	b := s.db.NewBatch()
	defer b.Close()
	var moved, deleted uint64
	count := 0
	for blk := from; blk <= to; blk++ {
		size, err := blockSize(snap, blk)
		if err != nil {
			return 0, 0, err
		}
		moved += size
		if blk == to {
			continue // the checkpoint: its versions are the newest in the interval
		}
		items, err := changesetAt(snap, blk)
		if err != nil {
			return 0, 0, err
		}
		var gone uint64
		for _, item := range items {
			if !bytes.HasPrefix(item, nodePrefix) || s.isPinned(item) {
				continue
			}
			newer, sz, err := supersededBy(it, item, blk, to)
			if err != nil {
				return 0, 0, err
			}
			if newer {
				if err := b.Delete(versioned(item, blk), nil); err != nil {
					return 0, 0, err
				}
				gone += sz
				count++
			}
		}
		deleted += gone
		if err := b.Set(blockKey(sizePrefix, blk), encodeBlock(size-min(size, gone)), nil); err != nil {
			return 0, 0, err
		}
	}
	if err := b.Set(metaKey(metaRecent), encodeBlock(to+1), nil); err != nil {
		return 0, 0, err
	}
	s.bytes.mu.Lock()
	s.bytes.moved += moved
	s.bytes.thinned += deleted
	err = b.Set(metaKey(metaTierB), s.bytes.encode(), nil)
	s.bytes.mu.Unlock()
	if err != nil {
		return 0, 0, err
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return 0, 0, fmt.Errorf("thin blocks %d-%d: %w", from, to, err)
	}
	s.recent.Store(to + 1)
	return to - from + 1, count, nil
}

// prune drops blocks from..to-1 below the window, making to the oldest
// block with full state: a version is deleted when a newer version of the
// item exists at or below to; changesets, bodies, receipts and transaction
// lookups go too. Headers and pinned items stay.
func (s *Store) prune(from, to uint64) (uint64, int, error) {
	snap := s.db.NewSnapshot()
	defer snap.Close()
	it, err := snap.NewIter(nil)
	if err != nil {
		return 0, 0, err
	}
	defer it.Close()
	b := s.db.NewBatch()
	defer b.Close()
	var rest, deleted uint64
	count := 0
	for blk := from; blk < to; blk++ {
		size, err := blockSize(snap, blk)
		if err != nil {
			return 0, 0, err
		}
		rest += size
		items, err := changesetAt(snap, blk)
		if err != nil {
			return 0, 0, err
		}
		for _, item := range items {
			if s.isPinned(item) {
				continue
			}
			newer, sz, err := supersededBy(it, item, blk, to)
			if err != nil {
				return 0, 0, err
			}
			if newer {
				if err := b.Delete(versioned(item, blk), nil); err != nil {
					return 0, 0, err
				}
				deleted += sz
				count++
			}
		}
		if blk == 0 {
			continue // the genesis keeps its (empty) changeset and marker
		}
		if body, err := getFrom(snap, blockKey(bodyPrefix, blk)); err == nil {
			var txs types.Transactions
			if err := rlp.DecodeBytes(body, &txs); err == nil {
				for _, tx := range txs {
					if err := b.Delete(hashKey(txPrefix, tx.Hash()), nil); err != nil {
						return 0, 0, err
					}
				}
			}
			deleted += uint64(len(body))
		}
		for _, k := range [][]byte{blockKey(bodyPrefix, blk), blockKey(receiptPrefix, blk), blockKey(changePrefix, blk), blockKey(sizePrefix, blk)} {
			if err := b.Delete(k, nil); err != nil {
				return 0, 0, err
			}
		}
	}
	if err := b.Set(metaKey(metaOldest), encodeBlock(to), nil); err != nil {
		return 0, 0, err
	}
	s.bytes.mu.Lock()
	s.bytes.prunedRest += rest
	s.bytes.prunedDeleted += min(deleted, rest)
	err = b.Set(metaKey(metaTierB), s.bytes.encode(), nil)
	s.bytes.mu.Unlock()
	if err != nil {
		return 0, 0, err
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return 0, 0, fmt.Errorf("prune blocks %d-%d: %w", from, to-1, err)
	}
	s.oldest.Store(to)
	return to - from, count, nil
}

func (t *tierBytes) encode() []byte {
	out := binary.BigEndian.AppendUint64(nil, t.moved)
	out = binary.BigEndian.AppendUint64(out, t.thinned)
	out = binary.BigEndian.AppendUint64(out, t.prunedRest)
	return binary.BigEndian.AppendUint64(out, t.prunedDeleted)
}

// supersededBy reports whether item has a version newer than blk at or
// below limit, and the size of its version at blk (0 if already gone).
func supersededBy(it *pebble.Iterator, item []byte, blk, limit uint64) (bool, uint64, error) {
	if !it.SeekGE(versioned(item, limit)) {
		return false, 0, it.Error()
	}
	k := it.Key()
	if len(k) != len(item)+8 || !bytes.HasPrefix(k, item) {
		return false, 0, nil
	}
	if ^binary.BigEndian.Uint64(k[len(item):]) <= blk {
		return false, 0, nil // blk's version is the newest at or below limit
	}
	var size uint64
	if it.SeekGE(versioned(item, blk)) && bytes.Equal(it.Key(), versioned(item, blk)) {
		size = uint64(len(it.Key()) + len(it.Value()))
	}
	return true, size, it.Error()
}

func getFrom(r pebble.Reader, key []byte) ([]byte, error) {
	v, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, history.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	out := bytes.Clone(v)
	closer.Close()
	return out, nil
}

func changesetAt(r pebble.Reader, blk uint64) ([][]byte, error) {
	raw, err := getFrom(r, blockKey(changePrefix, blk))
	if errors.Is(err, history.ErrNotFound) {
		return nil, nil // the bulk-loaded genesis has none
	}
	if err != nil {
		return nil, fmt.Errorf("changeset of block %d: %w", blk, err)
	}
	return decodeChangeset(raw)
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
// to n replayed in memory from their flat diffs, every root checked.
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
		u, err := s.UpdateAt(k)
		if err != nil {
			base.Close()
			if errors.Is(err, history.ErrNotFound) {
				return nil, &history.PrunedError{Number: n, Oldest: s.oldest.Load()}
			}
			return nil, fmt.Errorf("rebuild block %d from checkpoint %d: %w", n, c, err)
		}
		u.Transactions, u.Receipts = nil, nil // the state is all a rebuild needs
		us = append(us, u)
	}
	st, err := replay.Rebuild(context.Background(), base, us, 1)
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
