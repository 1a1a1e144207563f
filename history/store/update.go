package store

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/holiman/uint256"

	"github.com/strata-chain/strata/history"
)

// UpdateAt rebuilds block n's BlockUpdate from its changeset: the header,
// body and receipts, every account and slot the block wrote (a deleted
// account, or a wiped slot, as such) and the code of every account it
// wrote. Ingesting it on block n-1's state reproduces block n; this is what
// one Strata streams to another.
func (s *Store) UpdateAt(n uint64) (*history.BlockUpdate, error) {
	return s.updateAt(n, true)
}

// updateAt reads block n's update; without block it leaves out the body,
// the receipts and the codes (a rebuild needs the state change alone, and
// reads code from the content-addressed table).
func (s *Store) updateAt(n uint64, block bool) (*history.BlockUpdate, error) {
	if s.closed.Load() {
		return nil, history.ErrClosed
	}
	h, err := s.HeaderByNumber(n)
	if err != nil {
		return nil, err
	}
	u := &history.BlockUpdate{Header: h, Accounts: map[common.Hash]*history.AccountChange{}, Codes: map[common.Hash][]byte{}}
	if !block {
		// state only
	} else if u.Transactions, err = s.Body(n); err != nil && !errors.Is(err, history.ErrNotFound) {
		return nil, err
	} else if u.Receipts, err = s.Receipts(n); err != nil && !errors.Is(err, history.ErrNotFound) {
		return nil, err
	}
	if u.Transactions == nil || u.Receipts == nil {
		u.Transactions, u.Receipts = nil, nil
	}
	raw, err := s.get(blockKey(changePrefix, n))
	if err != nil {
		return nil, fmt.Errorf("changeset of block %d: %w", n, err)
	}
	entries, err := decodeChangesetEntries(raw)
	if err != nil {
		return nil, fmt.Errorf("block %d: %w", n, err)
	}
	// value is what e's block wrote: carried in the changeset, or read.
	value := func(e changeEntry) ([]byte, error) {
		if !e.carried {
			return s.exactVersion(e.item, n)
		}
		if len(e.flat) == 0 {
			return nil, nil
		}
		return e.flat, nil
	}
	change := func(addrHash common.Hash) *history.AccountChange {
		ch := u.Accounts[addrHash]
		if ch == nil {
			ch = &history.AccountChange{}
			u.Accounts[addrHash] = ch
		}
		return ch
	}
	for _, e := range entries {
		item := e.item
		switch {
		case bytes.HasPrefix(item, accountPrefix) && len(item) == 1+32:
			v, err := value(e)
			if err != nil {
				return nil, err
			}
			addrHash := common.BytesToHash(item[1:])
			ch := change(addrHash)
			if v == nil {
				ch.Deleted = true
				continue
			}
			acc, err := types.FullAccount(v)
			if err != nil {
				return nil, fmt.Errorf("block %d: account %s: %w", n, addrHash, err)
			}
			ch.Deleted = false // the block's last write of the item wins, as in the store
			ch.Account = &history.Account{Nonce: acc.Nonce, Balance: new(uint256.Int).Set(acc.Balance), CodeHash: common.BytesToHash(acc.CodeHash)}
			if block && ch.Account.CodeHash != types.EmptyCodeHash {
				code, err := s.Code(ch.Account.CodeHash)
				if err != nil {
					return nil, fmt.Errorf("block %d: code %s: %w", n, ch.Account.CodeHash, err)
				}
				u.Codes[ch.Account.CodeHash] = code
			}
		case bytes.HasPrefix(item, slotPrefix) && len(item) == 1+64:
			v, err := value(e)
			if err != nil {
				return nil, err
			}
			ch := change(common.BytesToHash(item[1:33]))
			if ch.Storage == nil {
				ch.Storage = map[common.Hash]common.Hash{}
			}
			ch.Storage[common.BytesToHash(item[33:])] = common.BytesToHash(v)
		}
	}
	// A deleted account's slot deletions are implied by the deletion.
	for _, ch := range u.Accounts {
		if ch.Deleted {
			ch.Storage = nil
		}
	}
	return u, nil
}

// exactVersion reads the value item was given at block n (nil for a
// deletion marker).
func (s *Store) exactVersion(item []byte, n uint64) ([]byte, error) {
	v, err := s.get(versioned(item, n))
	if err != nil {
		return nil, fmt.Errorf("version of %x at block %d: %w", item, n, err)
	}
	if len(v) == 0 {
		return nil, nil
	}
	return v, nil
}
