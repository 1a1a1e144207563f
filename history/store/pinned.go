package store

import (
	"bytes"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/strata-chain/strata/history"
)

func keyNibbles(h common.Hash) []byte {
	out := make([]byte, 64)
	for i, b := range h {
		out[2*i], out[2*i+1] = b>>4, b&0x0f
	}
	return out
}

// isPinned reports whether an unversioned item belongs to a pinned account:
// its flat values, its storage trie, or an account-trie node on its path.
func (s *Store) isPinned(item []byte) bool {
	if len(s.pinned) == 0 {
		return false
	}
	switch {
	case bytes.HasPrefix(item, nodePrefix) && len(item) >= 34:
		owner := common.BytesToHash(item[1:33])
		if owner != (common.Hash{}) {
			_, ok := s.pinned[owner]
			return ok
		}
		path := item[34:]
		for _, nib := range s.pinned {
			if len(path) <= len(nib) && bytes.Equal(nib[:len(path)], path) {
				return true
			}
		}
		return false
	case (bytes.HasPrefix(item, accountPrefix) || bytes.HasPrefix(item, slotPrefix)) && len(item) >= 33:
		_, ok := s.pinned[common.BytesToHash(item[1:33])]
		return ok
	}
	return false
}

// pinnedState is the state of a block below the window: only pinned
// accounts can be read and proven; anything else is a PrunedError naming
// the oldest block with full state.
type pinnedState struct {
	*state
	oldest uint64
}

func (p *pinnedState) refuse() error { return &history.PrunedError{Number: p.block, Oldest: p.oldest} }

func (p *pinnedState) Account(a common.Hash) (*types.StateAccount, error) {
	if _, ok := p.s.pinned[a]; !ok {
		return nil, p.refuse()
	}
	return p.state.Account(a)
}

func (p *pinnedState) Storage(a, slot common.Hash) (common.Hash, error) {
	if _, ok := p.s.pinned[a]; !ok {
		return common.Hash{}, p.refuse()
	}
	return p.state.Storage(a, slot)
}
