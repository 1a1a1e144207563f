package store

import (
	"context"
	"fmt"

	"github.com/strata-chain/strata/history"
)

// Unwind removes every block above n and makes n the head again, in one
// atomic batch: the versions each block wrote (from its changeset), its
// header, body, receipts and lookups. Code stays (it is content-addressed).
// It is how a reorg is undone before the new branch is ingested.
func (s *Store) Unwind(ctx context.Context, n uint64) error {
	unlock, err := s.lockWrites()
	if err != nil {
		return err
	}
	defer unlock()
	head := s.head.Load()
	if head == nil {
		return history.ErrEmpty
	}
	if n >= head.Number {
		return nil
	}
	if oldest := s.oldest.Load(); n < oldest {
		return &history.PrunedError{Number: n, Oldest: oldest}
	}
	if recent := s.recent.Load(); n+1 < recent {
		return fmt.Errorf("unwind to %d: blocks below %d are already compacted into the window tier", n, recent)
	}
	ingested := s.bytes.ingested.Load()
	target, err := s.HeaderByNumber(n)
	if err != nil {
		return fmt.Errorf("unwind to %d: %w", n, err)
	}
	b := s.db.NewBatch()
	defer b.Close()
	for blk := head.Number; blk > n; blk-- {
		if err := ctx.Err(); err != nil {
			return err
		}
		raw, err := s.get(blockKey(changePrefix, blk))
		if err != nil {
			return fmt.Errorf("unwind block %d: changeset: %w", blk, err)
		}
		items, err := decodeChangeset(raw)
		if err != nil {
			return fmt.Errorf("unwind block %d: %w", blk, err)
		}
		for _, it := range items {
			if err := b.Delete(versioned(it, blk), nil); err != nil {
				return err
			}
		}
		hdr, err := s.HeaderByNumber(blk)
		if err != nil {
			return fmt.Errorf("unwind block %d: %w", blk, err)
		}
		txs, err := s.Body(blk)
		if err != nil {
			return fmt.Errorf("unwind block %d: %w", blk, err)
		}
		for _, tx := range txs {
			if err := b.Delete(hashKey(txPrefix, tx.Hash()), nil); err != nil {
				return err
			}
		}
		size, err := blockSize(s.db, blk)
		if err != nil {
			return err
		}
		ingested = sub(ingested, size)
		for _, k := range [][]byte{blockKey(headerPrefix, blk), blockKey(bodyPrefix, blk), blockKey(receiptPrefix, blk), blockKey(changePrefix, blk), blockKey(sizePrefix, blk), hashKey(hashPrefix, hdr.Hash())} {
			if err := b.Delete(k, nil); err != nil {
				return err
			}
		}
	}
	newHead := history.Head{Number: n, Hash: target.Hash(), Root: target.Root}
	if err := b.Set(metaKey(metaHead), encodeHead(newHead), nil); err != nil {
		return err
	}
	if err := b.Set(metaKey(metaIngested), encodeBlock(ingested), nil); err != nil {
		return err
	}
	if err := s.commit(b, s.writeOpts()); err != nil {
		return fmt.Errorf("unwind to %d: commit: %w", n, err)
	}
	s.head.Store(&newHead)
	s.bytes.ingested.Store(ingested)
	s.log.Info("Unwound history", "from", head.Number, "to", n, "hash", newHead.Hash)
	return nil
}
