package store

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// Digest hashes everything the store holds except meta and byte counts, in key order, with
// each block's changeset taken as a set. Two stores that hold the same
// history have the same digest however their blocks were written (one at a
// time, in catch-up batches, after unwinds), so it compares replicas.
func (s *Store) Digest() (common.Hash, error) {
	it, err := s.db.NewIter(nil)
	if err != nil {
		return common.Hash{}, err
	}
	defer it.Close()
	h := crypto.NewKeccakState()
	for valid := it.First(); valid; valid = it.Next() {
		k := it.Key()
		if bytes.HasPrefix(k, metaPrefix) || bytes.HasPrefix(k, sizePrefix) {
			continue // bookkeeping, not history
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return common.Hash{}, fmt.Errorf("digest: read %x: %w", k, err)
		}
		if bytes.HasPrefix(k, changePrefix) {
			items, err := decodeChangeset(v)
			if err != nil {
				return common.Hash{}, fmt.Errorf("digest: changeset %x: %w", k, err)
			}
			slices.SortFunc(items, bytes.Compare)
			items = slices.CompactFunc(items, bytes.Equal)
			entries := make([]changeEntry, len(items))
			for i, item := range items {
				entries[i] = changeEntry{item: item, value: -1} // the values are hashed with their keys
			}
			v = encodeChangeset(entries)
		}
		writeLenPrefixed(h, k)
		writeLenPrefixed(h, v)
	}
	if err := it.Error(); err != nil {
		return common.Hash{}, fmt.Errorf("digest: %w", err)
	}
	var out common.Hash
	h.Read(out[:])
	return out, nil
}

func writeLenPrefixed(h crypto.KeccakState, b []byte) {
	var l [4]byte
	l[0], l[1], l[2], l[3] = byte(len(b)>>24), byte(len(b)>>16), byte(len(b)>>8), byte(len(b))
	h.Write(l[:])
	h.Write(b)
}
