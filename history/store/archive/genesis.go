package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/cockroachdb/pebble/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"

	"github.com/strata-chain/strata/history"
)

// bulkBatchBytes is the size at which a bulk load commits a batch.
const bulkBatchBytes = 64 << 20

// LoadGenesis implements history.GenesisLoader: the sorted genesis state
// goes straight into the disk layer (nodes by path, flat values), built
// bottom-up with go-ethereum's StackTrie, in unsynced batches; the last,
// synced batch writes block 0, the disk layer's marker and the head. A
// crash before that leaves no head, and the next load starts over (the
// disk layer's keys are overwritten in the same order).
func (s *Store) LoadGenesis(ctx context.Context, src history.GenesisSource, header *types.Header, progress func(history.BulkProgress)) (*types.Header, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.writeErr(); err != nil {
		return nil, err
	}
	if s.head.Load() != nil {
		return nil, errors.New("load genesis: the store already holds blocks")
	}
	if header == nil || header.Number == nil || header.Number.Sign() != 0 {
		return nil, errors.New("load genesis: header must be block 0")
	}
	l := &bulk{s: s, b: s.db.NewBatch(), progress: progress}
	defer func() { l.b.Close() }()
	root, err := l.accounts(ctx, src)
	if err != nil {
		return nil, err
	}
	h := types.CopyHeader(header)
	h.Root = root
	hash := h.Hash()
	if _, err := writeBlock(l.b, &history.BlockUpdate{Header: h, Transactions: types.Transactions{}, Receipts: types.Receipts{}}, hash); err != nil {
		return nil, err
	}
	if err := s.live.SetDisk(l.b, 0, root); err != nil {
		return nil, err
	}
	head := history.Head{Number: 0, Hash: hash, Root: root}
	if err := l.b.Set(metaKey(metaHead), encodeHead(head), nil); err != nil {
		return nil, err
	}
	if err := l.b.Commit(s.syncOpt()); err != nil {
		return nil, s.latch(fmt.Errorf("load genesis: commit: %w", err))
	}
	if err := s.live.Open(); err != nil {
		return nil, err
	}
	s.head.Store(&head)
	return h, nil
}

type bulk struct {
	s        *Store
	b        *pebble.Batch
	p        history.BulkProgress
	progress func(history.BulkProgress)
	err      error // the first error of a StackTrie callback
}

func (l *bulk) check() error {
	if l.err != nil {
		return l.err
	}
	if l.b.Len() < bulkBatchBytes {
		return nil
	}
	l.p.Bytes += uint64(l.b.Len())
	if err := l.b.Commit(pebble.NoSync); err != nil {
		return l.s.latch(fmt.Errorf("load genesis: commit batch: %w", err))
	}
	l.b.Close()
	l.b = l.s.db.NewBatch()
	if l.progress != nil {
		l.progress(l.p)
	}
	return nil
}

func (l *bulk) accounts(ctx context.Context, src history.GenesisSource) (common.Hash, error) {
	acc := trie.NewStackTrie(func(path []byte, _ common.Hash, blob []byte) {
		if l.err == nil {
			l.p.Nodes++
			l.err = l.s.live.BulkNode(l.b, common.Hash{}, path, blob)
		}
	})
	var last common.Hash
	for first := true; ; first = false {
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
		if !first && bytes.Compare(ga.AddrHash[:], last[:]) <= 0 {
			return common.Hash{}, fmt.Errorf("load genesis: account %s out of order (after %s)", ga.AddrHash, last)
		}
		last = ga.AddrHash
		if ga.Account.Balance == nil {
			return common.Hash{}, fmt.Errorf("load genesis: account %s has no balance", ga.AddrHash)
		}
		storageRoot, err := l.storage(ga)
		if err != nil {
			return common.Hash{}, err
		}
		sa := types.StateAccount{Nonce: ga.Account.Nonce, Balance: ga.Account.Balance, Root: storageRoot, CodeHash: ga.Account.CodeHash.Bytes()}
		if len(ga.Code) > 0 {
			if err := l.b.Set(hashKey(codePrefix, ga.Account.CodeHash), ga.Code, nil); err != nil {
				return common.Hash{}, err
			}
		}
		full, err := rlp.EncodeToBytes(&sa)
		if err != nil {
			return common.Hash{}, err
		}
		if err := acc.Update(ga.AddrHash[:], full); err != nil {
			return common.Hash{}, err
		}
		if err := l.s.live.BulkAccount(l.b, ga.AddrHash, types.SlimAccountRLP(sa)); err != nil {
			return common.Hash{}, err
		}
		l.p.Accounts++
		if err := l.check(); err != nil {
			return common.Hash{}, err
		}
	}
	root := acc.Hash()
	return root, l.err
}

func (l *bulk) storage(ga *history.GenesisAccount) (common.Hash, error) {
	if ga.Storage == nil {
		return types.EmptyRootHash, nil
	}
	st := trie.NewStackTrie(func(path []byte, _ common.Hash, blob []byte) {
		if l.err == nil {
			l.p.Nodes++
			l.err = l.s.live.BulkNode(l.b, ga.AddrHash, path, blob)
		}
	})
	var last common.Hash
	first := true
	err := ga.Storage(func(slotHash, value common.Hash) error {
		if !first && bytes.Compare(slotHash[:], last[:]) <= 0 {
			return fmt.Errorf("slot %s of %s out of order", slotHash, ga.AddrHash)
		}
		if value == (common.Hash{}) {
			return fmt.Errorf("slot %s of %s is zero", slotHash, ga.AddrHash)
		}
		first, last = false, slotHash
		trimmed := common.TrimLeftZeroes(value[:])
		leaf, _ := rlp.EncodeToBytes(trimmed)
		if err := st.Update(slotHash[:], leaf); err != nil {
			return err
		}
		if err := l.s.live.BulkSlot(l.b, ga.AddrHash, slotHash, trimmed); err != nil {
			return err
		}
		l.p.Slots++
		return l.check()
	})
	if err != nil {
		return common.Hash{}, fmt.Errorf("load genesis: storage of %s: %w", ga.AddrHash, err)
	}
	root := st.Hash()
	return root, l.err
}
