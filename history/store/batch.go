package store

import (
	"context"
	"fmt"
	"time"

	"github.com/strata-chain/strata/history"
)

// IngestBatch implements history.BatchIngester: it writes every block of us
// (consecutive, the first one on top of the head, each with complete
// precomputed nodes) into one Pebble batch, checks each block's root against
// its header, and commits the batch with the head marker of the last block.
// A crash leaves the store at the old head or at the new one; on any error
// nothing of us is written. Its errors are classed as Ingest's.
func (s *Store) IngestBatch(ctx context.Context, us []*history.BlockUpdate) error {
	return classifyIngest(s.ingestBatch(ctx, us))
}

func (s *Store) ingestBatch(ctx context.Context, us []*history.BlockUpdate) error {
	if len(us) == 0 {
		return nil
	}
	start := time.Now()
	end, err := s.beginIngest(ctx)
	if err != nil {
		return err
	}
	defer end()
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
		if err := u.Check("ingest batch"); err != nil {
			return err
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
		before := b.Len()
		w := newBlockWriter(b, n, u)
		root, err := w.applyPrecomputed(nil, cur.Root, u)
		if err != nil {
			return fmt.Errorf("ingest block %d: %w", n, err)
		}
		next, err := w.seal(u, root)
		if err != nil {
			return err
		}
		nodes += w.nodes
		fresh = append(fresh, w.fresh...)
		if ingested, err = s.countBlockBytes(b, n, uint64(b.Len()-before), ingested); err != nil {
			return err
		}
		cur = next
	}
	if err := b.Set(metaKey(metaHead), encodeHead(cur), nil); err != nil {
		return err
	}
	if err := s.commitBlocks(b, us[0].Number(), cur, ingested, fresh); err != nil {
		return err
	}
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
