package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/cockroachdb/pebble/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/holiman/uint256"

	"github.com/strata-chain/strata/history"
)

// GenesisState streams the state of block 0 in address-hash order, as a
// history.GenesisSource another store can bulk-load. It reads a snapshot
// taken when called; Close it when done.
func (s *Store) GenesisState() (*GenesisExport, error) {
	if s.closed.Load() {
		return nil, history.ErrClosed
	}
	snap := s.db.NewSnapshot()
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: accountPrefix, UpperBound: []byte{accountPrefix[0] + 1}})
	if err != nil {
		snap.Close()
		return nil, err
	}
	it.First()
	return &GenesisExport{s: s, snap: snap, it: it}, nil
}

// GenesisExport is a history.GenesisSource over a store's block 0.
type GenesisExport struct {
	s    *Store
	snap *pebble.Snapshot
	it   *pebble.Iterator
}

var genesisVersion = binary.BigEndian.AppendUint64(nil, ^uint64(0))

// Next implements history.GenesisSource.
func (g *GenesisExport) Next() (*history.GenesisAccount, error) {
	for ; g.it.Valid(); g.it.Next() {
		k := g.it.Key()
		if len(k) != 1+32+8 || !bytes.Equal(k[33:], genesisVersion) {
			continue
		}
		v, err := g.it.ValueAndErr()
		if err != nil {
			return nil, err
		}
		addrHash := common.BytesToHash(k[1:33])
		if len(v) == 0 {
			g.it.Next()
			continue
		}
		// Decode before moving on: the iterator's key and value are only
		// valid until it moves (with a large genesis the next block reuses
		// the buffer, and the account decoded garbage).
		acc, err := types.FullAccount(v)
		g.it.Next()
		if err != nil {
			return nil, fmt.Errorf("genesis account %s: %w", addrHash, err)
		}
		ga := &history.GenesisAccount{AddrHash: addrHash, Account: history.Account{Nonce: acc.Nonce, Balance: new(uint256.Int).Set(acc.Balance), CodeHash: common.BytesToHash(acc.CodeHash)}}
		if ga.Account.CodeHash != types.EmptyCodeHash {
			if ga.Code, err = g.s.Code(ga.Account.CodeHash); err != nil {
				return nil, fmt.Errorf("genesis code of %s: %w", addrHash, err)
			}
		}
		if acc.Root != types.EmptyRootHash {
			ga.Storage = g.storage(addrHash)
		}
		return ga, nil
	}
	if err := g.it.Error(); err != nil {
		return nil, err
	}
	return nil, io.EOF
}

func (g *GenesisExport) storage(addrHash common.Hash) func(func(common.Hash, common.Hash) error) error {
	return func(yield func(common.Hash, common.Hash) error) error {
		lower := append(append([]byte{}, slotPrefix...), addrHash[:]...)
		upper := append(append([]byte{}, lower...), bytes.Repeat([]byte{0xff}, 40)...)
		it, err := g.snap.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
		if err != nil {
			return err
		}
		defer it.Close()
		for it.First(); it.Valid(); it.Next() {
			k := it.Key()
			if len(k) != 1+64+8 || !bytes.Equal(k[65:], genesisVersion) {
				continue
			}
			v, err := it.ValueAndErr()
			if err != nil {
				return err
			}
			if len(v) == 0 {
				continue
			}
			if err := yield(common.BytesToHash(k[33:65]), common.BytesToHash(v)); err != nil {
				return err
			}
		}
		return it.Error()
	}
}

// Close releases the snapshot.
func (g *GenesisExport) Close() error {
	return errors.Join(g.it.Close(), g.snap.Close())
}
