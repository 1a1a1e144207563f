package store

import (
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/strata-chain/strata/history"
)

// canUsePrecomputed reports whether u's precomputed nodes can be written as
// they are: every kept account carries its storage root, and no account
// loses storage it had before the block (that needs the old slots listed,
// which only the re-hashing path does).
func canUsePrecomputed(parent *state, u *history.BlockUpdate) (bool, error) {
	if u.Nodes == nil {
		return false, nil
	}
	if u.NodesComplete {
		return true, completeShape(u)
	}
	for addrHash, ch := range u.Accounts {
		if ch == nil {
			return false, nil
		}
		if !ch.Deleted && (ch.Account == nil || ch.StorageRoot == nil) {
			return false, nil
		}
		if (ch.Deleted || ch.Wiped) && parent != nil {
			prev, err := parent.Account(addrHash)
			if err != nil {
				return false, err
			}
			if prev != nil && prev.Root != types.EmptyRootHash {
				return false, nil
			}
		}
	}
	return true, nil
}

// completeShape checks what an update with NodesComplete must carry.
func completeShape(u *history.BlockUpdate) error {
	if u.Nodes == nil {
		return fmt.Errorf("block %d claims complete nodes but carries none", u.Number())
	}
	for addrHash, ch := range u.Accounts {
		if ch == nil || (!ch.Deleted && (ch.Account == nil || ch.StorageRoot == nil)) {
			return fmt.Errorf("block %d: account %s lacks the values or storage root a complete update carries", u.Number(), addrHash)
		}
	}
	return nil
}

// applyPrecomputed writes u's flat values and its precomputed trie nodes and
// returns the state root the nodes carry: the hash of the account trie's
// root node, or the parent's root when the block left the account trie
// untouched. Ingest compares it with the header's root as on the hashing
// path.
func (w *blockWriter) applyPrecomputed(parent *state, parentRoot common.Hash, u *history.BlockUpdate) (common.Hash, error) {
	for _, addrHash := range history.SortedHashes(u.Accounts) {
		ch := u.Accounts[addrHash]
		if ch.Deleted && u.NodesComplete {
			// The producer listed the account only if it existed, and
			// every slot it held as a zero value.
			for _, k := range history.SortedHashes(ch.Storage) {
				if err := w.put(slotItem(addrHash, k), encodeSlotValue(ch.Storage[k])); err != nil {
					return common.Hash{}, err
				}
			}
			if err := w.put(accountItem(addrHash), nil); err != nil {
				return common.Hash{}, err
			}
			continue
		}
		if ch.Deleted {
			if parent == nil {
				continue
			}
			prev, err := parent.Account(addrHash)
			if err != nil {
				return common.Hash{}, err
			}
			if prev != nil {
				if err := w.put(accountItem(addrHash), nil); err != nil {
					return common.Hash{}, err
				}
			}
			continue
		}
		for _, k := range history.SortedHashes(ch.Storage) {
			if err := w.put(slotItem(addrHash, k), encodeSlotValue(ch.Storage[k])); err != nil {
				return common.Hash{}, err
			}
		}
		acc := types.StateAccount{Nonce: ch.Account.Nonce, Balance: ch.Account.Balance.Clone(), Root: *ch.StorageRoot, CodeHash: ch.Account.CodeHash.Bytes()}
		if err := w.put(accountItem(addrHash), types.SlimAccountRLP(acc)); err != nil {
			return common.Hash{}, err
		}
	}
	for _, owner := range history.SortedHashes(u.Nodes.Sets) {
		if err := w.putNodes(u.Nodes.Sets[owner]); err != nil {
			return common.Hash{}, err
		}
	}
	accSet := u.Nodes.Sets[common.Hash{}]
	if accSet == nil {
		return parentRoot, nil
	}
	rootNode, ok := accSet.Nodes[""]
	switch {
	case !ok:
		return parentRoot, nil
	case rootNode.IsDeleted():
		return types.EmptyRootHash, nil
	}
	root := crypto.Keccak256Hash(rootNode.Blob)
	if rootNode.Hash != (common.Hash{}) && rootNode.Hash != root {
		return common.Hash{}, fmt.Errorf("precomputed root node claims hash %s but hashes to %s", rootNode.Hash, root)
	}
	return root, nil
}
