package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/strata-chain/strata/history"
)

// Ingest implements history.Ingester: it applies u to the tries as of the
// head with go-ethereum's trie package, checks the resulting root against
// u.Header.Root and, only then, commits every new version, the block and the
// head marker in one batch. Its errors are classed (classifyIngest).
func (s *Store) Ingest(ctx context.Context, u *history.BlockUpdate) error {
	return classifyIngest(s.ingest(ctx, u))
}

func (s *Store) ingest(ctx context.Context, u *history.BlockUpdate) error {
	if err := u.Check("ingest"); err != nil {
		return err
	}
	start := time.Now()
	end, err := s.beginIngest(ctx)
	if err != nil {
		return err
	}
	defer end()
	n := u.Number()
	parentRoot := types.EmptyRootHash
	head := s.head.Load()
	switch {
	case head == nil && n != 0:
		return &history.NotNextError{Head: history.Head{}, Number: n, ParentHash: u.Header.ParentHash}
	case head != nil && (n != head.Number+1 || u.Header.ParentHash != head.Hash):
		return &history.NotNextError{Head: *head, Number: n, ParentHash: u.Header.ParentHash}
	case head != nil:
		parentRoot = head.Root
	}
	var parent *state
	if head != nil {
		if parent, err = s.openState(head.Number, head.Root); err != nil {
			return err
		}
		defer parent.Close()
	}
	b := s.db.NewBatchWithSize(estimateBatchSize([]*history.BlockUpdate{u}))
	defer b.Close()
	w := newBlockWriter(b, n, u)
	fast, err := canUsePrecomputed(parent, u)
	if err != nil {
		return fmt.Errorf("ingest block %d: %w", n, err)
	}
	var root common.Hash
	if fast {
		root, err = w.applyPrecomputed(parent, parentRoot, u)
	} else {
		root, err = w.applyState(parent, parentRoot, u)
	}
	if err != nil {
		return fmt.Errorf("ingest block %d: %w", n, err)
	}
	newHead, err := w.seal(u, root)
	if err != nil {
		return err
	}
	if err := b.Set(metaKey(metaHead), encodeHead(newHead), nil); err != nil {
		return err
	}
	ingested, err := s.countBlockBytes(b, n, uint64(b.Len()), s.bytes.ingested.Load())
	if err != nil {
		return err
	}
	if err := s.commitBlocks(b, n, newHead, ingested, w.fresh); err != nil {
		return err
	}
	s.observeIngest(time.Since(start), w.nodes)
	return nil
}

// classifyIngest classes an ingest error for the producers (history.ClassOf):
// a block that does not extend the head stays a reorg, a cancelled context,
// a closed store and an error already classed keep their class, and every
// other error is critical: a root mismatch, an update that cannot be applied,
// a read or a write the disk failed. Retrying the same block would fail the
// same way.
func classifyIngest(err error) error {
	var notNext *history.NotNextError
	switch {
	case err == nil, errors.As(err, &notNext), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, history.ErrClosed), history.IsCritical(err):
		return err
	}
	return history.Critical(err)
}

// lockWrites takes the lock that serialises everything that moves the head
// (Ingest, IngestBatch, Unwind, LoadGenesis) and checks that the store is
// still open and can write (no fault, not read-only); unlock releases the
// lock.
func (s *Store) lockWrites() (unlock func(), err error) {
	s.ingestMu.Lock()
	if s.closed.Load() {
		s.ingestMu.Unlock()
		return nil, history.ErrClosed
	}
	if err := s.writeErr(); err != nil {
		s.ingestMu.Unlock()
		return nil, err
	}
	return s.ingestMu.Unlock, nil
}

// beginIngest starts writing blocks: it announces the ingest, so migration
// steps give way between their batches, and takes the write lock. end
// undoes both.
func (s *Store) beginIngest(ctx context.Context) (end func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.ingesting.Add(1)
	unlock, err := s.lockWrites()
	if err != nil {
		s.ingesting.Add(-1)
		return nil, err
	}
	return func() {
		unlock()
		s.ingesting.Add(-1)
	}, nil
}

// commitBlocks commits b, which holds blocks from..head.Number and the head
// marker, and then publishes it: the new head, the ingested byte count and
// the trie nodes the blocks wrote (for the node cache).
func (s *Store) commitBlocks(b *pebble.Batch, from uint64, head history.Head, ingested uint64, fresh []freshNode) error {
	if err := s.commit(b, s.writeOpts()); err != nil {
		if from == head.Number {
			return fmt.Errorf("ingest block %d: commit: %w", from, err)
		}
		return fmt.Errorf("ingest blocks %d-%d: commit: %w", from, head.Number, err)
	}
	s.head.Store(&head)
	s.bytes.ingested.Store(ingested)
	s.cacheNodes(fresh)
	return nil
}

func (s *Store) writeOpts() *pebble.WriteOptions {
	if s.cfg.NoSync {
		return pebble.NoSync
	}
	return pebble.Sync
}

// freshNode is a trie node a block wrote.
type freshNode struct {
	hash common.Hash
	blob []byte
}

// cacheNodes adds committed nodes to the hash-keyed cache: the next block's
// trie walks start from the nodes the last one wrote (the top of the
// account trie, busy storage tries), which would otherwise each cost a
// versioned seek. The cache is content-addressed, so an entry can never be
// stale, whatever happens to the block later.
func (s *Store) cacheNodes(nodes []freshNode) {
	for _, n := range nodes {
		s.nodes.Add(n.hash, n.blob)
	}
}
