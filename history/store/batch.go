package store

import (
	"context"
	"fmt"
	"time"

	"github.com/strata-chain/strata/history"
)

var _ history.BatchIngester = (*Store)(nil)

// IngestBatch implements history.BatchIngester: it writes every block of us
// (consecutive, the first one on top of the head, each with complete
// precomputed nodes) into one Pebble batch, checks each block's root against
// its header, and commits the batch with the head marker of the last block.
// A crash leaves the store at the old head or at the new one; on any error
// nothing of us is written.
func (s *Store) IngestBatch(ctx context.Context, us []*history.BlockUpdate) error {
	if len(us) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	start := time.Now()
	s.ingesting.Add(1) // migration steps yield to ingest between their batches
	defer s.ingesting.Add(-1)
	s.ingestMu.Lock()
	defer s.ingestMu.Unlock()
	if s.closed.Load() {
		return history.ErrClosed
	}
	head := s.head.Load()
	if head == nil {
		return fmt.Errorf("ingest batch: the store holds no genesis")
	}
	// Size the batch up front: growing a batch of hundreds of megabytes by
	// doubling copies it over and over.
	b := s.db.NewBatchWithSize(estimateBatchSize(us))
	defer b.Close()
	cur := *head
	nodes := 0
	fresh := make([]freshNode, 0, countNodes(us))
	ingested := s.bytes.ingested.Load()
	for _, u := range us {
		if u == nil || u.Header == nil || u.Header.Number == nil {
			return fmt.Errorf("ingest batch: update without header")
		}
		n := u.Number()
		if n != cur.Number+1 || u.Header.ParentHash != cur.Hash {
			return &history.NotNextError{Head: cur, Number: n, ParentHash: u.Header.ParentHash}
		}
		if !u.NodesComplete {
			return fmt.Errorf("ingest batch: block %d does not carry complete precomputed nodes", n)
		}
		if err := completeShape(u); err != nil {
			return fmt.Errorf("ingest batch: %w", err)
		}
		if u.Transactions != nil && u.Receipts != nil && len(u.Transactions) != len(u.Receipts) {
			return fmt.Errorf("ingest block %d: %d transactions but %d receipts", n, len(u.Transactions), len(u.Receipts))
		}
		before := b.Len()
		w := newBlockWriter(b, n, u)
		root, err := w.applyPrecomputed(nil, cur.Root, u)
		if err != nil {
			return fmt.Errorf("ingest block %d: %w", n, err)
		}
		hash := u.Header.Hash()
		if root != u.Header.Root {
			return &history.RootMismatchError{Number: n, Hash: hash, Want: u.Header.Root, Computed: root}
		}
		if err := w.writeBlock(u, hash); err != nil {
			return fmt.Errorf("ingest block %d: %w", n, err)
		}
		nodes += w.nodes
		fresh = append(fresh, w.fresh...)
		if ingested, err = s.countBlockBytes(b, n, uint64(b.Len()-before), ingested); err != nil {
			return err
		}
		cur = history.Head{Number: n, Hash: hash, Root: root}
	}
	if err := b.Set(metaKey(metaHead), encodeHead(cur), nil); err != nil {
		return err
	}
	if err := b.Commit(s.writeOpts()); err != nil {
		return fmt.Errorf("ingest blocks %d-%d: commit: %w", us[0].Number(), cur.Number, err)
	}
	s.head.Store(&cur)
	s.bytes.ingested.Store(ingested)
	s.cacheNodes(fresh)
	s.observeBatch(time.Since(start), len(us), nodes)
	return nil
}

// countNodes is the number of trie nodes the updates carry.
func countNodes(us []*history.BlockUpdate) int {
	n := 0
	for _, u := range us {
		if u != nil && u.Nodes != nil {
			for _, set := range u.Nodes.Sets {
				n += len(set.Nodes)
			}
		}
	}
	return n
}

// estimateBatchSize guesses the bytes a run of complete updates writes.
func estimateBatchSize(us []*history.BlockUpdate) int {
	const (
		keyOverhead = 64 // key, version and record header
		entry       = 4  // a changeset entry's length fields
	)
	size := 0
	for _, u := range us {
		size += 4096 + 1024*len(u.Transactions) // header, body, receipts, lookups
		for _, ch := range u.Accounts {
			size += 2 * (keyOverhead + 80) // the version and its changeset entry
			size += len(ch.Storage) * 2 * (keyOverhead + 32)
		}
		for _, code := range u.Codes {
			size += keyOverhead + len(code)
		}
		if u.Nodes != nil {
			for _, set := range u.Nodes.Sets {
				for path, n := range set.Nodes {
					size += keyOverhead + len(path) + len(n.Blob) + 34 + len(path) + entry
				}
			}
		}
	}
	return size + size/8 // a margin: one more doubling copies the whole batch
}
