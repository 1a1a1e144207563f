package archive

import (
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/ethereum/go-ethereum/triedb/database"

	"github.com/strata-chain/strata/history"
)

// state is a past block's state: every read walks go-ethereum's trie over
// pastNodes. It holds no snapshot: what it reads is content-addressed and
// checked, so ingest moving on under it changes nothing it sees; pruning
// the block's history makes its reads fail.
type state struct {
	s     *Store
	block uint64
	root  common.Hash
}

// StateAt implements history.Reader.
func (s *Store) StateAt(n uint64) (history.State, error) {
	head, err := s.Head()
	if err != nil {
		return nil, err
	}
	if n > head.Number {
		return nil, &history.FutureError{Number: n, Head: head.Number}
	}
	if oldest := s.oldest.Load(); n < oldest {
		return nil, &history.PrunedError{Number: n, Oldest: oldest}
	}
	h, err := s.HeaderByNumber(n)
	if err != nil {
		return nil, err
	}
	return &state{s: s, block: n, root: h.Root}, nil
}

func (st *state) Root() common.Hash                  { return st.root }
func (st *state) Nodes() database.NodeDatabase       { return pastNodes{st.s, st.block} }
func (st *state) Close() error                       { return nil }
func (st *state) Code(h common.Hash) ([]byte, error) { return st.s.Code(h) }

// Account implements history.State.
func (st *state) Account(addrHash common.Hash) (*types.StateAccount, error) {
	tr, err := trie.New(trie.StateTrieID(st.root), st.Nodes())
	if err != nil {
		return nil, fmt.Errorf("account trie at block %d: %w", st.block, err)
	}
	raw, err := tr.Get(addrHash[:])
	if err != nil || len(raw) == 0 {
		return nil, err
	}
	acc := new(types.StateAccount)
	if err := rlp.DecodeBytes(raw, acc); err != nil {
		return nil, fmt.Errorf("account %s at block %d: %w", addrHash, st.block, err)
	}
	return acc, nil
}

// Storage implements history.State.
func (st *state) Storage(addrHash, slotHash common.Hash) (common.Hash, error) {
	acc, err := st.Account(addrHash)
	if err != nil || acc == nil || acc.Root == types.EmptyRootHash {
		return common.Hash{}, err
	}
	tr, err := trie.New(trie.StorageTrieID(st.root, addrHash, acc.Root), st.Nodes())
	if err != nil {
		return common.Hash{}, fmt.Errorf("storage trie of %s at block %d: %w", addrHash, st.block, err)
	}
	raw, err := tr.Get(slotHash[:])
	if err != nil || len(raw) == 0 {
		return common.Hash{}, err
	}
	_, content, _, err := rlp.Split(raw)
	if err != nil {
		return common.Hash{}, fmt.Errorf("slot %s/%s at block %d: %w", addrHash, slotHash, st.block, err)
	}
	return common.BytesToHash(content), nil
}
