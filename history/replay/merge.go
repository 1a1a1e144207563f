package replay

import (
	"maps"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/holiman/uint256"

	"github.com/strata-chain/strata/history"
)

// Merge folds the state changes of consecutive blocks us into one update
// that takes the parent of us[0] straight to the state after the last
// block, under the last block's header: per account the last write wins,
// a deletion drops everything before it, and an account created again
// after a deletion starts from an empty account with wiped storage.
// Replaying the merged update walks and hashes each touched trie path
// once instead of once per block, which is what makes rebuilding a block
// between window checkpoints cheap; the merged root is still checked
// against the last header, so a merge that missed something fails as a
// root mismatch, never as a wrong state. Bodies, receipts and node sets
// are not carried; us is not modified.
func Merge(us []*history.BlockUpdate) *history.BlockUpdate {
	if len(us) == 0 {
		return nil
	}
	out := &history.BlockUpdate{
		Header:   us[len(us)-1].Header,
		Accounts: make(map[common.Hash]*history.AccountChange),
		Codes:    make(map[common.Hash][]byte),
	}
	for _, u := range us {
		maps.Copy(out.Codes, u.Codes)
		for a, ch := range u.Accounts {
			m := out.Accounts[a]
			switch {
			case ch.Deleted:
				out.Accounts[a] = &history.AccountChange{Deleted: true}
			case m == nil:
				out.Accounts[a] = &history.AccountChange{Account: ch.Account, Wiped: ch.Wiped, Storage: maps.Clone(ch.Storage)}
			case m.Deleted:
				// Created again: nothing of the old account or its storage
				// survives, so fields the block leaves alone are the empty
				// account's.
				acc := ch.Account
				if acc == nil {
					acc = &history.Account{Balance: new(uint256.Int), CodeHash: types.EmptyCodeHash}
				}
				out.Accounts[a] = &history.AccountChange{Account: acc, Wiped: true, Storage: maps.Clone(ch.Storage)}
			default:
				if ch.Account != nil {
					m.Account = ch.Account
				}
				if ch.Wiped {
					m.Wiped = true
					m.Storage = maps.Clone(ch.Storage)
					continue
				}
				if m.Storage == nil && len(ch.Storage) > 0 {
					m.Storage = make(map[common.Hash]common.Hash, len(ch.Storage))
				}
				maps.Copy(m.Storage, ch.Storage)
			}
		}
	}
	return out
}
