package store

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/ethereum/go-ethereum/trie/trienode"
	"github.com/holiman/uint256"

	"github.com/strata-chain/strata/history"
)

// blockWriter accumulates one block's writes and its changeset.
type blockWriter struct {
	batch   *pebble.Batch
	block   uint64
	changes []changeEntry // unversioned items written at block; the changeset
	nodes   int           // trie node versions among them
	fresh   []freshNode   // the nodes written, for the hash-keyed cache once committed
}

// newBlockWriter returns a writer for block n whose changeset and fresh-node
// lists are sized for u up front: growing them by doubling copied a few
// megabytes per full block.
func newBlockWriter(b *pebble.Batch, n uint64, u *history.BlockUpdate) *blockWriter {
	items, nodes := 0, 0
	for _, ch := range u.Accounts {
		items += 1 + len(ch.Storage)
	}
	if u.Nodes != nil {
		for _, set := range u.Nodes.Sets {
			nodes += len(set.Nodes)
		}
	}
	return &blockWriter{
		batch:   b,
		block:   n,
		changes: make([]changeEntry, 0, items+nodes+len(u.Codes)),
		fresh:   make([]freshNode, 0, nodes),
	}
}

// put writes the version of item at the writer's block.
func (w *blockWriter) put(item, value []byte) error {
	e := changeEntry{item: item, value: len(value)}
	if isFlat(item) {
		e.carried, e.flat = true, bytes.Clone(value)
		if e.flat == nil {
			e.flat = []byte{}
		}
	}
	w.changes = append(w.changes, e)
	return w.batch.Set(versioned(item, w.block), value, nil)
}

func (w *blockWriter) putNodes(set *trienode.NodeSet) error {
	if set == nil {
		return nil
	}
	var err error
	set.ForEachWithOrder(func(path string, n *trienode.Node) {
		if err == nil {
			w.nodes++
			err = w.put(nodeItem(set.Owner, []byte(path)), n.Blob)
			if !n.IsDeleted() && n.Hash != (common.Hash{}) {
				w.fresh = append(w.fresh, freshNode{n.Hash, n.Blob})
			}
		}
	})
	return err
}

// applyState applies the account changes of u on top of parent (nil for the
// genesis) and returns the new state root. Accounts are processed in hash
// order so the batch is deterministic.
func (w *blockWriter) applyState(parent *state, parentRoot common.Hash, u *history.BlockUpdate) (common.Hash, error) {
	var nodes trieNodes = emptyNodes{}
	if parent != nil {
		nodes = parent.Nodes()
	}
	accTrie, err := trie.New(trie.StateTrieID(parentRoot), nodes)
	if err != nil {
		return common.Hash{}, fmt.Errorf("open account trie %s: %w", parentRoot, err)
	}
	var deleted []common.Hash // deleted from the trie after every update, as StateDB does
	for _, addrHash := range history.SortedHashes(u.Accounts) {
		ch := u.Accounts[addrHash]
		if ch == nil {
			return common.Hash{}, fmt.Errorf("account %s: nil change", addrHash)
		}
		var prev *types.StateAccount
		if parent != nil {
			if prev, err = parent.Account(addrHash); err != nil {
				return common.Hash{}, err
			}
		}
		storageRoot := types.EmptyRootHash
		if prev != nil {
			storageRoot = prev.Root
		}
		if (ch.Deleted || ch.Wiped) && storageRoot != types.EmptyRootHash {
			if err := w.wipeStorage(nodes, parentRoot, addrHash, storageRoot); err != nil {
				return common.Hash{}, err
			}
			storageRoot = types.EmptyRootHash
		}
		if ch.Deleted {
			if prev == nil {
				continue // nothing existed, nothing to delete
			}
			deleted = append(deleted, addrHash)
			if err := w.put(accountItem(addrHash), nil); err != nil {
				return common.Hash{}, err
			}
			continue
		}
		if len(ch.Storage) > 0 {
			if storageRoot, err = w.applyStorage(nodes, parentRoot, addrHash, storageRoot, ch.Storage); err != nil {
				return common.Hash{}, err
			}
		}
		acc := types.StateAccount{Balance: new(uint256.Int), CodeHash: types.EmptyCodeHash.Bytes()}
		if prev != nil {
			acc = *prev
		}
		acc.Root = storageRoot
		if ch.Account != nil {
			acc.Nonce = ch.Account.Nonce
			acc.Balance = ch.Account.Balance.Clone()
			acc.CodeHash = ch.Account.CodeHash.Bytes()
		}
		full, err := rlp.EncodeToBytes(&acc)
		if err != nil {
			return common.Hash{}, err
		}
		if err := accTrie.Update(addrHash[:], full); err != nil {
			return common.Hash{}, fmt.Errorf("update account %s: %w", addrHash, err)
		}
		if err := w.put(accountItem(addrHash), types.SlimAccountRLP(acc)); err != nil {
			return common.Hash{}, err
		}
	}
	for _, addrHash := range deleted {
		if err := accTrie.Delete(addrHash[:]); err != nil {
			return common.Hash{}, fmt.Errorf("delete account %s: %w", addrHash, err)
		}
	}
	root, set := accTrie.Commit(false)
	if err := w.putNodes(set); err != nil {
		return common.Hash{}, err
	}
	return root, nil
}

// applyStorage applies slot changes to the storage trie of addrHash at root
// and returns the new storage root.
func (w *blockWriter) applyStorage(nodes trieNodes, stateRoot, addrHash, root common.Hash, slots map[common.Hash]common.Hash) (common.Hash, error) {
	tr, err := trie.New(trie.StorageTrieID(stateRoot, addrHash, root), nodes)
	if err != nil {
		return common.Hash{}, fmt.Errorf("open storage trie of %s at %s: %w", addrHash, root, err)
	}
	keys := history.SortedHashes(slots)
	// Updates before deletions, as go-ethereum's StateDB orders them: the
	// trie then rewrites the same nodes, so a block stores the same node
	// versions whether it was hashed here or by its producer.
	var deletions []common.Hash
	for _, k := range keys {
		v := slots[k]
		if v == (common.Hash{}) {
			deletions = append(deletions, k)
		} else if err := tr.Update(k[:], encodeStorageLeaf(v)); err != nil {
			return common.Hash{}, fmt.Errorf("storage %s/%s: %w", addrHash, k, err)
		}
		if err := w.put(slotItem(addrHash, k), encodeSlotValue(v)); err != nil {
			return common.Hash{}, err
		}
	}
	for _, k := range deletions {
		if err := tr.Delete(k[:]); err != nil {
			return common.Hash{}, fmt.Errorf("storage %s/%s: %w", addrHash, k, err)
		}
	}
	newRoot, set := tr.Commit(false)
	if err := w.putNodes(set); err != nil {
		return common.Hash{}, err
	}
	return newRoot, nil
}

// wipeStorage writes deletion markers for every node and slot of the storage
// trie of addrHash at root. It must run before any new storage of the account
// is written at the same block, so the new versions win.
func (w *blockWriter) wipeStorage(nodes trieNodes, stateRoot, addrHash, root common.Hash) error {
	tr, err := trie.New(trie.StorageTrieID(stateRoot, addrHash, root), nodes)
	if err != nil {
		return fmt.Errorf("open storage trie of %s to wipe: %w", addrHash, err)
	}
	it, err := tr.NodeIterator(nil)
	if err != nil {
		return err
	}
	for it.Next(true) {
		if it.Hash() != (common.Hash{}) {
			if err := w.put(nodeItem(addrHash, it.Path()), nil); err != nil {
				return err
			}
		}
		if it.Leaf() {
			if err := w.put(slotItem(addrHash, common.BytesToHash(it.LeafKey())), nil); err != nil {
				return err
			}
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("wipe storage of %s: %w", addrHash, err)
	}
	return nil
}

// writeBlock writes the header, body, receipts, lookups, code and changeset.
func (w *blockWriter) writeBlock(u *history.BlockUpdate, hash common.Hash) error {
	b, n := w.batch, w.block
	for codeHash, code := range u.Codes {
		if err := b.Set(hashKey(codePrefix, codeHash), code, nil); err != nil {
			return err
		}
	}
	hdr, err := rlp.EncodeToBytes(u.Header)
	if err != nil {
		return fmt.Errorf("encode header: %w", err)
	}
	if err := b.Set(blockKey(headerPrefix, n), hdr, nil); err != nil {
		return err
	}
	if err := b.Set(hashKey(hashPrefix, hash), encodeBlock(n), nil); err != nil {
		return err
	}
	if u.Transactions != nil {
		body, err := rlp.EncodeToBytes(u.Transactions)
		if err != nil {
			return fmt.Errorf("encode body: %w", err)
		}
		if err := b.Set(blockKey(bodyPrefix, n), body, nil); err != nil {
			return err
		}
		for i, tx := range u.Transactions {
			v := binary.BigEndian.AppendUint64(encodeBlock(n), uint64(i))
			if err := b.Set(hashKey(txPrefix, tx.Hash()), v, nil); err != nil {
				return err
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
			return fmt.Errorf("encode receipts: %w", err)
		}
		if err := b.Set(blockKey(receiptPrefix, n), rs, nil); err != nil {
			return err
		}
	}
	return b.Set(blockKey(changePrefix, n), encodeChangeset(w.changes), nil)
}

// seal ends a block whose state the writer applied, root being the state
// root that computed: it must be the header's, and then the block's header,
// body, receipts, lookups, code and changeset are written. It returns the
// head the block makes.
func (w *blockWriter) seal(u *history.BlockUpdate, root common.Hash) (history.Head, error) {
	n := w.block
	hash := u.Header.Hash()
	if root != u.Header.Root {
		return history.Head{}, &history.RootMismatchError{Number: n, Hash: hash, Want: u.Header.Root, Computed: root}
	}
	if err := w.writeBlock(u, hash); err != nil {
		return history.Head{}, fmt.Errorf("ingest block %d: %w", n, err)
	}
	return history.Head{Number: n, Hash: hash, Root: root}, nil
}
