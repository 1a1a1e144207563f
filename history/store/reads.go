package store

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/strata-chain/strata/history"
)

// Head implements history.Reader.
func (s *Store) Head() (history.Head, error) {
	h := s.head.Load()
	if h == nil {
		return history.Head{}, history.ErrEmpty
	}
	return *h, nil
}

// Oldest implements history.Reader.
func (s *Store) Oldest() (uint64, error) {
	if s.head.Load() == nil {
		return 0, history.ErrEmpty
	}
	return s.oldest.Load(), nil
}

// HeaderByNumber implements history.Reader.
func (s *Store) HeaderByNumber(n uint64) (*types.Header, error) {
	if h := s.head.Load(); h == nil || n > h.Number {
		return nil, history.ErrNotFound
	}
	v, err := s.get(blockKey(headerPrefix, n))
	if err != nil {
		return nil, fmt.Errorf("header %d: %w", n, err)
	}
	var hdr types.Header
	if err := rlp.DecodeBytes(v, &hdr); err != nil {
		return nil, fmt.Errorf("decode header %d: %w", n, err)
	}
	return &hdr, nil
}

// NumberByHash implements history.Reader.
func (s *Store) NumberByHash(hash common.Hash) (uint64, error) {
	v, err := s.get(hashKey(hashPrefix, hash))
	if err != nil {
		return 0, err
	}
	n := binary.BigEndian.Uint64(v)
	if h := s.head.Load(); h == nil || n > h.Number {
		return 0, history.ErrNotFound
	}
	return n, nil
}

// Body implements history.Reader.
func (s *Store) Body(n uint64) (types.Transactions, error) {
	var txs types.Transactions
	if found, err := s.blockRLP(n, bodyPrefix, "body", &txs); !found || err != nil {
		return nil, err
	}
	return txs, nil
}

// Receipts implements history.Reader.
func (s *Store) Receipts(n uint64) (types.Receipts, error) {
	var stored []*types.ReceiptForStorage
	if found, err := s.blockRLP(n, receiptPrefix, "receipts", &stored); !found || err != nil {
		return nil, err
	}
	out := make(types.Receipts, len(stored))
	for i, r := range stored {
		out[i] = (*types.Receipt)(r)
	}
	return out, nil
}

// blockRLP decodes into out what block n holds under prefix (what names
// it in errors); found is false when the block holds none (its producer
// gave none). A block the store does not hold is an error.
func (s *Store) blockRLP(n uint64, prefix []byte, what string, out any) (found bool, err error) {
	if _, err := s.HeaderByNumber(n); err != nil {
		return false, err
	}
	v, err := s.get(blockKey(prefix, n))
	if errors.Is(err, history.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := rlp.DecodeBytes(v, out); err != nil {
		return false, fmt.Errorf("decode %s %d: %w", what, n, err)
	}
	return true, nil
}

// TxLookup implements history.Reader.
func (s *Store) TxLookup(hash common.Hash) (uint64, uint64, error) {
	v, err := s.get(hashKey(txPrefix, hash))
	if err != nil {
		return 0, 0, err
	}
	if len(v) != 16 {
		return 0, 0, fmt.Errorf("corrupt tx lookup for %s", hash)
	}
	n := binary.BigEndian.Uint64(v)
	if h := s.head.Load(); h == nil || n > h.Number {
		return 0, 0, history.ErrNotFound
	}
	return n, binary.BigEndian.Uint64(v[8:]), nil
}

// Code implements history.Reader.
func (s *Store) Code(codeHash common.Hash) ([]byte, error) {
	if codeHash == types.EmptyCodeHash {
		return nil, nil
	}
	return s.get(hashKey(codePrefix, codeHash))
}

// StateAt implements history.Reader. A block in the recent tier, or at a
// checkpoint of the window, is read directly; one between the window's
// checkpoints is rebuilt from the checkpoint below it; one below the window
// serves only pinned accounts (others get *history.PrunedError).
func (s *Store) StateAt(n uint64) (history.State, error) {
	h := s.head.Load()
	if h == nil {
		return nil, history.ErrEmpty
	}
	if n > h.Number {
		return nil, &history.FutureError{Number: n, Head: h.Number}
	}
	if s.closed.Load() {
		return nil, history.ErrClosed
	}
	// The tier boundaries are read from the same snapshot as the data, so
	// a migration committing meanwhile cannot mislead the read.
	snap := s.db.NewSnapshot()
	recent, oldest := uint64(0), uint64(0)
	if v, err := getFrom(snap, metaKey(metaRecent)); err == nil && len(v) == 8 {
		recent = binary.BigEndian.Uint64(v)
	}
	if v, err := getFrom(snap, metaKey(metaOldest)); err == nil && len(v) == 8 {
		oldest = binary.BigEndian.Uint64(v)
	}
	if n < oldest && len(s.pinned) == 0 {
		snap.Close()
		return nil, &history.PrunedError{Number: n, Oldest: oldest}
	}
	raw, err := getFrom(snap, blockKey(headerPrefix, n))
	if err != nil {
		snap.Close()
		return nil, fmt.Errorf("header %d: %w", n, err)
	}
	var hdr types.Header
	if err := rlp.DecodeBytes(raw, &hdr); err != nil {
		snap.Close()
		return nil, fmt.Errorf("decode header %d: %w", n, err)
	}
	C := max(s.cfg.Retention.Checkpoint, 1)
	switch {
	case n >= recent || (n >= oldest && n%C == 0):
		return s.openStateOn(snap, n, hdr.Root), nil
	case n >= oldest:
		return s.cachedWindowState(snap, n, func() (history.State, error) { return s.windowState(snap, n) })
	default:
		return &pinnedState{state: s.openStateOn(snap, n, hdr.Root), oldest: oldest}, nil
	}
}
