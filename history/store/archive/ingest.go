package archive

import (
	"context"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/history/store/live"
)

// Ingest implements history.Ingester: it applies u to the head view with
// go-ethereum's trie, checks the root against the header, appends and syncs
// the block's history record, commits the block and the head marker in one
// synced Pebble batch, and only then pushes the block's diff layer and
// publishes the head. On any error before the commit nothing of u is
// visible; a write the disk failed is latched.
func (s *Store) Ingest(ctx context.Context, u *history.BlockUpdate) error {
	if err := u.Check("ingest"); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.writeErr(); err != nil {
		return err
	}
	start := time.Now()
	n := u.Number()
	parentRoot := types.EmptyRootHash
	switch head := s.head.Load(); {
	case head == nil && n != 0:
		return &history.NotNextError{Number: n, ParentHash: u.Header.ParentHash}
	case head != nil && (n != head.Number+1 || u.Header.ParentHash != head.Hash):
		return &history.NotNextError{Head: *head, Number: n, ParentHash: u.Header.ParentHash}
	case head != nil:
		parentRoot = head.Root
	}
	c, err := applyUpdate(s.live, parentRoot, u)
	if err != nil {
		return history.Critical(fmt.Errorf("ingest block %d: %w", n, err))
	}
	s.usage.phase("apply", time.Since(start))
	hash := u.Header.Hash()
	if c.root != u.Header.Root {
		return history.Critical(&history.RootMismatchError{Number: n, Hash: hash, Want: u.Header.Root, Computed: c.root})
	}
	if err := s.commitBlock(u, c, hash, true); err != nil {
		return err
	}
	return s.afterCommit()
}

// commitBlock makes block u durable and visible: its history record
// appended and synced (unless the log already holds it, on a replay), the
// block and head marker committed (withBlock; a replay has them), the
// layer pushed and the head published.
func (s *Store) commitBlock(u *history.BlockUpdate, c *change, hash common.Hash, withBlock bool) error {
	n := u.Number()
	if _, last, ok := s.hist.Bounds(); !ok || last < n {
		t := time.Now()
		payload, keys, st, err := buildRecord(s.live, c.read, n, s.cfg.FullEvery, c.nodes)
		if err != nil {
			return history.Critical(fmt.Errorf("ingest block %d: %w", n, err))
		}
		t = s.usage.since("record", t)
		if err := s.hist.Append(n, payload, keys); err != nil {
			return s.latch(fmt.Errorf("ingest block %d: %w", n, err))
		}
		t = s.usage.since("append", t)
		if !s.cfg.NoSync {
			if err := s.hist.Sync(); err != nil {
				return s.latch(fmt.Errorf("ingest block %d: %w", n, err))
			}
		}
		s.usage.since("sync", t)
		s.usage.record(len(payload), st)
	}
	head := history.Head{Number: n, Hash: hash, Root: c.root}
	if withBlock {
		t := time.Now()
		b := s.db.NewBatch()
		defer b.Close()
		chainBytes, err := writeBlock(b, u, hash)
		if err != nil {
			return fmt.Errorf("ingest block %d: %w", n, err)
		}
		fwd, err := encodeForward(u)
		if err != nil {
			return fmt.Errorf("ingest block %d: %w", n, err)
		}
		if err := b.Set(blockKey(forwardPrefix, n), fwd, nil); err != nil {
			return err
		}
		if err := b.Set(metaKey(metaHead), encodeHead(head), nil); err != nil {
			return err
		}
		if err := b.Commit(s.syncOpt()); err != nil {
			return s.latch(fmt.Errorf("ingest block %d: commit: %w", n, err))
		}
		s.usage.block(chainBytes, len(fwd))
		s.usage.since("commit", t)
	}
	if err := s.live.Push(&live.Layer{Block: n, Root: c.root, Nodes: c.nodes, Accounts: c.accounts, Storage: c.storage}); err != nil {
		return s.latch(fmt.Errorf("ingest block %d: push layer: %w", n, err))
	}
	s.head.Store(&head)
	return nil
}

// afterCommit runs the background-of-ingest duties due after a block: the
// aggregated flush of the oldest layers and the recent tier's pruning.
func (s *Store) afterCommit() error {
	defer s.usage.since("flush and prune", time.Now())
	if err := s.requestFlush(); err != nil {
		return err
	}
	return s.maybePrune()
}
