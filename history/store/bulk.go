package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"

	"github.com/strata-chain/strata/history"
)

// metaBulkLoad marks a bulk genesis load in progress: a store that has it
// and no head was interrupted mid-load and must be discarded.
var metaBulkLoad = []byte("bulkload")

// bulkBatchBytes is the size at which a bulk load commits a batch; a batch
// is allocated that large plus room for the write that crosses it, so it
// never grows (growing doubles and copies the whole batch).
const (
	bulkBatchBytes = 64 << 20
	bulkBatchSlack = 4 << 20
)

// LoadGenesis writes a large initial state into an empty store as block 0,
// far faster than Ingest: the tries are built bottom-up with go-ethereum's
// StackTrie from sorted input, and the versions go to Pebble in large
// unsynced batches. header is block 0's header without its root; LoadGenesis
// sets Root to the computed state root, writes the block and the head in a
// last synced batch, and returns the sealed header.
//
// Crash safety: a marker written first and removed with the head marks a
// store interrupted mid-load; Open discards what such a store holds (it has
// no head, so no block of it was ever reported or served) and it opens
// empty, ready to load again.
func (s *Store) LoadGenesis(ctx context.Context, src history.GenesisSource, header *types.Header, progress func(history.BulkProgress)) (*types.Header, error) {
	unlock, err := s.lockWrites()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if s.head.Load() != nil {
		return nil, errors.New("load genesis: the store already holds blocks")
	}
	if header == nil || header.Number == nil || header.Number.Sign() != 0 {
		return nil, errors.New("load genesis: header must be block 0")
	}
	if err := s.markBulkLoad(); err != nil {
		return nil, err
	}
	l := &bulkLoader{s: s, batch: s.db.NewBatchWithSize(bulkBatchBytes + bulkBatchSlack), progress: progress}
	defer func() { l.batch.Close() }()
	root, err := l.accounts(ctx, src)
	if err != nil {
		return nil, err
	}
	if err := l.flush(); err != nil {
		return nil, err
	}
	h, err := l.seal(header, root)
	if err != nil {
		return nil, err
	}
	if progress != nil {
		progress(l.p)
	}
	return h, nil
}

// markBulkLoad writes, synced, the marker of a bulk load in progress; it
// must be on disk before anything the load writes.
func (s *Store) markBulkLoad() error {
	marker := s.db.NewBatch()
	defer marker.Close()
	if err := marker.Set(metaKey(metaBulkLoad), []byte{1}, nil); err != nil {
		return err
	}
	if err := s.commit(marker, pebble.Sync); err != nil {
		return fmt.Errorf("load genesis: %w", err)
	}
	return nil
}

// seal writes block 0, header with root as its state root, the head and
// the removal of the bulk-load marker in one synced batch (the load's last),
// then makes block 0 the store's head and returns its sealed header. All
// the state must have been flushed before.
func (l *bulkLoader) seal(header *types.Header, root common.Hash) (*types.Header, error) {
	h := types.CopyHeader(header)
	h.Root = root
	hash := h.Hash()
	w := &blockWriter{batch: l.batch, block: 0}
	if err := w.writeBlock(&history.BlockUpdate{Header: h, Transactions: types.Transactions{}, Receipts: types.Receipts{}}, hash); err != nil {
		return nil, err
	}
	head := history.Head{Number: 0, Hash: hash, Root: root}
	if err := l.batch.Set(metaKey(metaHead), encodeHead(head), nil); err != nil {
		return nil, err
	}
	if err := l.batch.Delete(metaKey(metaBulkLoad), nil); err != nil {
		return nil, err
	}
	if err := l.s.commit(l.batch, pebble.Sync); err != nil {
		return nil, fmt.Errorf("load genesis: commit: %w", err)
	}
	l.s.head.Store(&head)
	return h, nil
}

type bulkLoader struct {
	s          *Store
	batch      *pebble.Batch
	p          history.BulkProgress
	progress   func(history.BulkProgress)
	last       time.Time
	accTrie    *trie.StackTrie // the account trie; its nodes go to put
	accNodeErr error           // the first error writing an account trie node
}

// accounts writes src's accounts, in strictly increasing order of their
// address hashes, with their storage and code, and the account trie's
// nodes, and returns the state root. What it writes is not flushed.
func (l *bulkLoader) accounts(ctx context.Context, src history.GenesisSource) (common.Hash, error) {
	var (
		lastAddr common.Hash
		first    = true
	)
	l.accTrie = trie.NewStackTrie(func(path []byte, _ common.Hash, blob []byte) {
		if l.accNodeErr == nil {
			l.accNodeErr = l.put(nodeItem(common.Hash{}, path), blob, true)
		}
	})
	for {
		if err := ctx.Err(); err != nil {
			return common.Hash{}, err
		}
		ga, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return common.Hash{}, fmt.Errorf("load genesis: read account: %w", err)
		}
		if !first && bytes.Compare(ga.AddrHash[:], lastAddr[:]) <= 0 {
			return common.Hash{}, fmt.Errorf("load genesis: account %s out of order (after %s)", ga.AddrHash, lastAddr)
		}
		first, lastAddr = false, ga.AddrHash
		if err := l.account(ga); err != nil {
			return common.Hash{}, err
		}
	}
	root := l.accTrie.Hash()
	if l.accNodeErr != nil {
		return common.Hash{}, l.accNodeErr
	}
	return root, nil
}

// account writes one account: its storage, its code, its leaf in the
// account trie and its slim encoding.
func (l *bulkLoader) account(ga *history.GenesisAccount) error {
	storageRoot, err := l.storage(ga)
	if err != nil {
		return err
	}
	if ga.Account.Balance == nil {
		return fmt.Errorf("load genesis: account %s has no balance", ga.AddrHash)
	}
	acc := types.StateAccount{Nonce: ga.Account.Nonce, Balance: ga.Account.Balance, Root: storageRoot, CodeHash: ga.Account.CodeHash.Bytes()}
	if len(ga.Code) > 0 {
		if err := l.batch.Set(hashKey(codePrefix, ga.Account.CodeHash), ga.Code, nil); err != nil {
			return err
		}
	}
	full, err := rlp.EncodeToBytes(&acc)
	if err != nil {
		return err
	}
	if err := l.accTrie.Update(ga.AddrHash[:], full); err != nil {
		return err
	}
	if l.accNodeErr != nil {
		return l.accNodeErr
	}
	if err := l.put(accountItem(ga.AddrHash), types.SlimAccountRLP(acc), false); err != nil {
		return err
	}
	l.p.Accounts++
	return nil
}

func (l *bulkLoader) put(item, value []byte, node bool) error {
	if node {
		l.p.Nodes++
	}
	if err := l.batch.Set(versioned(item, 0), value, nil); err != nil {
		return err
	}
	if l.batch.Len() >= bulkBatchBytes {
		return l.flush()
	}
	return nil
}

func (l *bulkLoader) flush() error {
	l.p.Bytes += uint64(l.batch.Len())
	if err := l.s.commit(l.batch, pebble.NoSync); err != nil {
		return fmt.Errorf("load genesis: commit batch: %w", err)
	}
	l.batch.Close()
	l.batch = l.s.db.NewBatchWithSize(bulkBatchBytes + bulkBatchSlack)
	if l.progress != nil && time.Since(l.last) > 250*time.Millisecond {
		l.last = time.Now()
		l.progress(l.p)
	}
	return nil
}

// storage writes the account's slots and storage trie nodes and returns the
// storage root.
func (l *bulkLoader) storage(ga *history.GenesisAccount) (common.Hash, error) {
	if ga.Storage == nil {
		return types.EmptyRootHash, nil
	}
	var nodeErr error
	st := trie.NewStackTrie(func(path []byte, _ common.Hash, blob []byte) {
		if nodeErr == nil {
			nodeErr = l.put(nodeItem(ga.AddrHash, path), blob, true)
		}
	})
	var (
		last  common.Hash
		first = true
	)
	err := ga.Storage(func(slotHash, value common.Hash) error {
		if !first && bytes.Compare(slotHash[:], last[:]) <= 0 {
			return fmt.Errorf("slot %s of %s out of order", slotHash, ga.AddrHash)
		}
		if value == (common.Hash{}) {
			return fmt.Errorf("slot %s of %s is zero", slotHash, ga.AddrHash)
		}
		first, last = false, slotHash
		if err := st.Update(slotHash[:], encodeStorageLeaf(value)); err != nil {
			return err
		}
		if nodeErr != nil {
			return nodeErr
		}
		l.p.Slots++
		return l.put(slotItem(ga.AddrHash, slotHash), encodeSlotValue(value), false)
	})
	if err != nil {
		return common.Hash{}, fmt.Errorf("load genesis: storage of %s: %w", ga.AddrHash, err)
	}
	root := st.Hash()
	return root, nodeErr
}

// discardBulkLoad empties a store whose bulk genesis load was interrupted
// (the marker is set and there is no head): every key but the schema
// version goes, in one synced batch, so the store opens as a new one. No
// block of it was reported or served: the head is written only by the
// load's last batch. A read-only open refuses such a store instead.
func (s *Store) discardBulkLoad() error {
	if s.readOnly {
		return errors.New("the store holds an interrupted bulk genesis load (no block yet): open it read-write to discard it, or delete the datadir")
	}
	b := s.db.NewBatch()
	defer b.Close()
	// Every key starts with its one-byte prefix; meta (m) keeps the schema.
	if err := b.DeleteRange([]byte{0}, metaPrefix, nil); err != nil {
		return err
	}
	if err := b.DeleteRange([]byte{metaPrefix[0] + 1}, []byte{0xff}, nil); err != nil {
		return err
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: metaPrefix, UpperBound: []byte{metaPrefix[0] + 1}})
	if err != nil {
		return err
	}
	schema := metaKey(metaSchema)
	for it.First(); it.Valid(); it.Next() {
		if !bytes.Equal(it.Key(), schema) {
			if err := b.Delete(append([]byte(nil), it.Key()...), nil); err != nil {
				it.Close()
				return err
			}
		}
	}
	if err := it.Close(); err != nil {
		return err
	}
	if err := s.commit(b, pebble.Sync); err != nil {
		return fmt.Errorf("discard an interrupted bulk genesis load: %w", err)
	}
	if s.log != nil {
		s.log.Warn("Discarded an interrupted bulk genesis load: the store opens empty")
	}
	return nil
}
