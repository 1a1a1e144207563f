package archive

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/strata-chain/strata/history"
)

// writeBlock writes u's header, hash lookup, body, receipts, transaction
// lookups and code into b. It returns the bytes of the body and receipts
// (their own line in usage).
func writeBlock(b *pebble.Batch, u *history.BlockUpdate, hash common.Hash) (chainBytes int, err error) {
	n := u.Number()
	for codeHash, code := range u.Codes {
		if err := b.Set(hashKey(codePrefix, codeHash), code, nil); err != nil {
			return 0, err
		}
	}
	hdr, err := rlp.EncodeToBytes(u.Header)
	if err != nil {
		return 0, fmt.Errorf("encode header: %w", err)
	}
	if err := b.Set(blockKey(headerPrefix, n), hdr, nil); err != nil {
		return 0, err
	}
	if err := b.Set(hashKey(hashPrefix, hash), encodeUint64(n), nil); err != nil {
		return 0, err
	}
	if u.Transactions != nil {
		body, err := rlp.EncodeToBytes(u.Transactions)
		if err != nil {
			return 0, fmt.Errorf("encode body: %w", err)
		}
		chainBytes += len(body)
		if err := b.Set(blockKey(bodyPrefix, n), body, nil); err != nil {
			return 0, err
		}
		for i, tx := range u.Transactions {
			v := binary.BigEndian.AppendUint64(encodeUint64(n), uint64(i))
			if err := b.Set(hashKey(txPrefix, tx.Hash()), v, nil); err != nil {
				return 0, err
			}
		}
	}
	if u.Receipts != nil {
		stored := make([]*types.ReceiptForStorage, len(u.Receipts))
		for i, r := range u.Receipts {
			stored[i] = (*types.ReceiptForStorage)(r)
		}
		rs, err := rlp.EncodeToBytes(stored)
		if err != nil {
			return 0, fmt.Errorf("encode receipts: %w", err)
		}
		chainBytes += len(rs)
		if err := b.Set(blockKey(receiptPrefix, n), rs, nil); err != nil {
			return 0, err
		}
	}
	return chainBytes, nil
}

// deleteBlock removes what writeBlock wrote for block n (an unwind); code is
// content-addressed and stays.
func (s *Store) deleteBlock(b *pebble.Batch, n uint64) error {
	h, err := s.HeaderByNumber(n)
	if err != nil {
		return err
	}
	if txs, err := s.Body(n); err == nil {
		for _, tx := range txs {
			if err := b.Delete(hashKey(txPrefix, tx.Hash()), nil); err != nil {
				return err
			}
		}
	} else if !errors.Is(err, history.ErrNotFound) {
		return err
	}
	for _, k := range [][]byte{blockKey(headerPrefix, n), hashKey(hashPrefix, h.Hash()), blockKey(bodyPrefix, n), blockKey(receiptPrefix, n), blockKey(forwardPrefix, n)} {
		if err := b.Delete(k, nil); err != nil {
			return err
		}
	}
	return nil
}

// HeaderByNumber implements history.Reader.
func (s *Store) HeaderByNumber(n uint64) (*types.Header, error) {
	if h := s.head.Load(); h == nil || n > h.Number {
		return nil, history.ErrNotFound
	}
	raw, err := s.get(blockKey(headerPrefix, n))
	if err != nil {
		return nil, err
	}
	h := new(types.Header)
	if err := rlp.DecodeBytes(raw, h); err != nil {
		return nil, fmt.Errorf("header %d: %w", n, err)
	}
	return h, nil
}

// NumberByHash implements history.Reader.
func (s *Store) NumberByHash(hash common.Hash) (uint64, error) {
	raw, err := s.get(hashKey(hashPrefix, hash))
	if err != nil {
		return 0, err
	}
	n := decodeUint64(raw)
	if h := s.head.Load(); h == nil || n > h.Number {
		return 0, history.ErrNotFound
	}
	return n, nil
}

// Body implements history.Reader.
func (s *Store) Body(n uint64) (types.Transactions, error) {
	if h := s.head.Load(); h == nil || n > h.Number {
		return nil, history.ErrNotFound
	}
	raw, err := s.get(blockKey(bodyPrefix, n))
	if err != nil {
		return nil, err
	}
	var txs types.Transactions
	if err := rlp.DecodeBytes(raw, &txs); err != nil {
		return nil, fmt.Errorf("body %d: %w", n, err)
	}
	return txs, nil
}

// Receipts implements history.Reader.
func (s *Store) Receipts(n uint64) (types.Receipts, error) {
	if h := s.head.Load(); h == nil || n > h.Number {
		return nil, history.ErrNotFound
	}
	raw, err := s.get(blockKey(receiptPrefix, n))
	if err != nil {
		return nil, err
	}
	var stored []*types.ReceiptForStorage
	if err := rlp.DecodeBytes(raw, &stored); err != nil {
		return nil, fmt.Errorf("receipts %d: %w", n, err)
	}
	out := make(types.Receipts, len(stored))
	for i, r := range stored {
		out[i] = (*types.Receipt)(r)
	}
	return out, nil
}

// TxLookup implements history.Reader.
func (s *Store) TxLookup(hash common.Hash) (uint64, uint64, error) {
	raw, err := s.get(hashKey(txPrefix, hash))
	if err != nil {
		return 0, 0, err
	}
	if len(raw) != 16 {
		return 0, 0, fmt.Errorf("transaction lookup %s: %d bytes", hash, len(raw))
	}
	n := binary.BigEndian.Uint64(raw)
	if h := s.head.Load(); h == nil || n > h.Number {
		return 0, 0, history.ErrNotFound
	}
	return n, binary.BigEndian.Uint64(raw[8:]), nil
}

// Code implements history.Reader.
func (s *Store) Code(codeHash common.Hash) ([]byte, error) {
	if codeHash == types.EmptyCodeHash {
		return nil, nil
	}
	return s.get(hashKey(codePrefix, codeHash))
}

func encodeHead(h history.Head) []byte {
	out := encodeUint64(h.Number)
	out = append(out, h.Hash[:]...)
	return append(out, h.Root[:]...)
}

func decodeHead(v []byte) (history.Head, error) {
	if len(v) != 8+32+32 {
		return history.Head{}, fmt.Errorf("%d bytes, want 72", len(v))
	}
	return history.Head{Number: decodeUint64(v), Hash: common.BytesToHash(v[8:40]), Root: common.BytesToHash(v[40:])}, nil
}

func decodeUint64(v []byte) uint64 { return binary.BigEndian.Uint64(v) }
