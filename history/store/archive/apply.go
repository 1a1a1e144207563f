package archive

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/ethereum/go-ethereum/trie/trienode"
	"github.com/ethereum/go-ethereum/triedb/database"
	"github.com/holiman/uint256"

	"github.com/strata-chain/strata/history"
)

// change is one block applied to the head view: the root it computes, the
// trie nodes it writes (deletions as empty blobs) and the flat values it
// sets (nil: deleted). It becomes the block's diff layer.
type change struct {
	read     *headNodes // what the tries read; nil for a precomputed update
	root     common.Hash
	nodes    *trienode.MergedNodeSet
	accounts map[common.Hash][]byte                 // slim account RLP
	storage  map[common.Hash]map[common.Hash][]byte // trimmed slot value
}

// headSource is what applying a block reads: the head state's trie nodes
// by path and its flat accounts (live.DB, or a live.Reader).
type headSource interface {
	Node(owner common.Hash, path []byte) ([]byte, common.Hash, error)
	Account(addrHash common.Hash) ([]byte, error)
}

// headNodes is the head view as go-ethereum's trie database: every node it
// returns is the head's node at that path, checked against the hash the
// trie asked for. It remembers the hash of every node it returned, by
// owner and path: the block's record indexes each overwritten node by its
// hash, and the trie's origins carry only blobs.
type headNodes struct {
	src  headSource
	mu   sync.Mutex
	seen map[string]common.Hash // owner ‖ path -> hash
}

func newHeadNodes(src headSource) *headNodes {
	return &headNodes{src: src, seen: make(map[string]common.Hash, 4096)}
}

func (h *headNodes) NodeReader(common.Hash) (database.NodeReader, error) { return h, nil }

func (h *headNodes) Node(owner common.Hash, path []byte, hash common.Hash) ([]byte, error) {
	blob, have, err := h.src.Node(owner, path)
	if err != nil {
		return nil, err
	}
	if have != hash {
		return nil, fmt.Errorf("head node %x/%x: have %s, trie wants %s", owner, path, have, hash)
	}
	h.mu.Lock()
	h.seen[string(owner[:])+string(path)] = hash
	h.mu.Unlock()
	return blob, nil
}

// hashOf is the hash of the head's node at (owner, path) if a trie read
// it through h.
func (h *headNodes) hashOf(owner common.Hash, path string) (common.Hash, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.seen[string(owner[:])+path]
	return v, ok
}

// applyUpdate applies u to the head (whose root is parentRoot) with
// go-ethereum's trie: storage tries first, each in slot-hash order with
// updates before deletions as StateDB orders them, then the account trie in
// address-hash order with deletions last. An update carrying complete
// precomputed nodes is taken as it is (applyPrecomputed).
func applyUpdate(src headSource, parentRoot common.Hash, u *history.BlockUpdate) (*change, error) {
	if u.Nodes != nil && u.NodesComplete {
		return applyPrecomputed(parentRoot, u)
	}
	db := newHeadNodes(src)
	accTrie, err := trie.New(trie.StateTrieID(parentRoot), db)
	if err != nil {
		return nil, fmt.Errorf("open account trie %s: %w", parentRoot, err)
	}
	c := &change{read: db, nodes: trienode.NewMergedNodeSet(), accounts: map[common.Hash][]byte{}, storage: map[common.Hash]map[common.Hash][]byte{}}
	accounts, err := c.prepare(db, parentRoot, u)
	if err != nil {
		return nil, err
	}
	// While the storage tries are hashed, another goroutine walks the
	// account trie to every changed account, so the nodes the update below
	// needs are in memory by then (go-ethereum's prefetcher does the same).
	prefetched := prefetchAccounts(db, parentRoot, accounts)
	err = c.applyStorageTries(db, parentRoot, accounts)
	<-prefetched
	if err != nil {
		return nil, err
	}
	var deleted []common.Hash
	for _, a := range accounts {
		if a.ch.Deleted {
			if a.prev != nil {
				deleted = append(deleted, a.addrHash)
				c.accounts[a.addrHash] = nil
			}
			continue
		}
		acc := types.StateAccount{Balance: new(uint256.Int), CodeHash: types.EmptyCodeHash.Bytes()}
		if a.prev != nil {
			acc = *a.prev
		}
		acc.Root = a.storageRoot
		if a.ch.Account != nil {
			acc.Nonce, acc.Balance, acc.CodeHash = a.ch.Account.Nonce, a.ch.Account.Balance.Clone(), a.ch.Account.CodeHash.Bytes()
		}
		full, err := rlp.EncodeToBytes(&acc)
		if err != nil {
			return nil, err
		}
		if err := accTrie.Update(a.addrHash[:], full); err != nil {
			return nil, fmt.Errorf("update account %s: %w", a.addrHash, err)
		}
		c.accounts[a.addrHash] = types.SlimAccountRLP(acc)
	}
	for _, addrHash := range deleted {
		if err := accTrie.Delete(addrHash[:]); err != nil {
			return nil, fmt.Errorf("delete account %s: %w", addrHash, err)
		}
	}
	root, set := accTrie.Commit(false)
	if err := c.merge(set); err != nil {
		return nil, err
	}
	c.root = root
	return c, nil
}

// prefetchAccounts reads the account trie's path to each account on its
// own trie, for the nodes to be in the head view's caches when the real
// update walks the same paths; errors are left for that update to meet.
func prefetchAccounts(db *headNodes, root common.Hash, accounts []*accountWork) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		tr, err := trie.New(trie.StateTrieID(root), db)
		if err != nil {
			return
		}
		for _, a := range accounts {
			if _, err := tr.Get(a.addrHash[:]); err != nil {
				return
			}
		}
	}()
	return done
}

// accountWork is one account's part of a block: its change, its state
// before the block and its storage root after it.
type accountWork struct {
	addrHash    common.Hash
	ch          *history.AccountChange
	prev        *types.StateAccount
	storageRoot common.Hash // before the storage changes, then after them
	// what applying the storage changes produced (applyStorageTries)
	set  *trienode.NodeSet
	flat map[common.Hash][]byte
}

// prepare reads every changed account's state before the block and wipes
// the storage of those deleted or re-created, in address-hash order.
func (c *change) prepare(db *headNodes, parentRoot common.Hash, u *history.BlockUpdate) ([]*accountWork, error) {
	out := make([]*accountWork, 0, len(u.Accounts))
	for _, addrHash := range history.SortedHashes(u.Accounts) {
		ch := u.Accounts[addrHash]
		if ch == nil {
			return nil, fmt.Errorf("account %s: nil change", addrHash)
		}
		prev, err := headAccount(db.src, addrHash)
		if err != nil {
			return nil, err
		}
		a := &accountWork{addrHash: addrHash, ch: ch, prev: prev, storageRoot: types.EmptyRootHash}
		if prev != nil {
			a.storageRoot = prev.Root
		}
		if (ch.Deleted || ch.Wiped) && a.storageRoot != types.EmptyRootHash {
			if err := c.wipe(db, parentRoot, addrHash, a.storageRoot); err != nil {
				return nil, err
			}
			a.storageRoot = types.EmptyRootHash
		}
		out = append(out, a)
	}
	return out, nil
}

// applyStorageTries applies every account's slot changes. Storage tries do
// not depend on each other, so they are updated and hashed on every core;
// their results are merged in address-hash order, so the block's change is
// the same however the work was scheduled.
func (c *change) applyStorageTries(db *headNodes, stateRoot common.Hash, accounts []*accountWork) error {
	var work []*accountWork
	for _, a := range accounts {
		if !a.ch.Deleted && len(a.ch.Storage) > 0 {
			work = append(work, a)
		}
	}
	var (
		wg       sync.WaitGroup
		next     atomic.Int64
		errMu    sync.Mutex
		firstErr error
	)
	workers := min(runtime.GOMAXPROCS(0), len(work))
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(work) {
					return
				}
				if err := applyStorage(db, stateRoot, work[i]); err != nil {
					errMu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					errMu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	for _, a := range work {
		flat := c.slots(a.addrHash)
		for k, v := range a.flat {
			flat[k] = v
		}
		if err := c.merge(a.set); err != nil {
			return err
		}
	}
	return nil
}

// applyStorage applies a's slot changes to its storage trie, updates
// before deletions as StateDB orders them, and keeps the new root, the
// trie's node set and the flat values in a.
func applyStorage(db *headNodes, stateRoot common.Hash, a *accountWork) error {
	tr, err := trie.New(trie.StorageTrieID(stateRoot, a.addrHash, a.storageRoot), db)
	if err != nil {
		return fmt.Errorf("open storage trie of %s at %s: %w", a.addrHash, a.storageRoot, err)
	}
	a.flat = make(map[common.Hash][]byte, len(a.ch.Storage))
	var deletions []common.Hash
	for _, k := range history.SortedHashes(a.ch.Storage) {
		v := a.ch.Storage[k]
		if v == (common.Hash{}) {
			deletions = append(deletions, k)
			a.flat[k] = nil
			continue
		}
		trimmed := common.TrimLeftZeroes(v[:])
		leaf, _ := rlp.EncodeToBytes(trimmed)
		if err := tr.Update(k[:], leaf); err != nil {
			return fmt.Errorf("storage %s/%s: %w", a.addrHash, k, err)
		}
		a.flat[k] = trimmed
	}
	for _, k := range deletions {
		if err := tr.Delete(k[:]); err != nil {
			return fmt.Errorf("storage %s/%s: %w", a.addrHash, k, err)
		}
	}
	a.storageRoot, a.set = tr.Commit(false)
	return nil
}

func (c *change) merge(set *trienode.NodeSet) error {
	if set == nil {
		return nil
	}
	return c.nodes.Merge(set)
}

func (c *change) slots(addrHash common.Hash) map[common.Hash][]byte {
	m := c.storage[addrHash]
	if m == nil {
		m = map[common.Hash][]byte{}
		c.storage[addrHash] = m
	}
	return m
}

// wipe deletes every node and slot of the storage trie of addrHash at root:
// the nodes as deletions that remember what they held, so the history
// records them, and the slots as deleted flat values.
func (c *change) wipe(db *headNodes, stateRoot, addrHash, root common.Hash) error {
	tr, err := trie.New(trie.StorageTrieID(stateRoot, addrHash, root), db)
	if err != nil {
		return fmt.Errorf("open storage trie of %s to wipe: %w", addrHash, err)
	}
	it, err := tr.NodeIterator(nil)
	if err != nil {
		return err
	}
	set := trienode.NewNodeSet(addrHash)
	flat := c.slots(addrHash)
	for it.Next(true) {
		if it.Hash() != (common.Hash{}) {
			blob, err := db.Node(addrHash, it.Path(), it.Hash())
			if err != nil {
				return err
			}
			set.AddNode(it.Path(), trienode.NewDeletedWithPrev(blob))
		}
		if it.Leaf() {
			flat[common.BytesToHash(it.LeafKey())] = nil
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("wipe storage of %s: %w", addrHash, err)
	}
	return c.merge(set)
}

// applyPrecomputed takes an update whose producer listed every node and
// flat value it changes (NodesComplete): its root is the hash of the
// account trie's root node, or the parent's when that is untouched.
func applyPrecomputed(parentRoot common.Hash, u *history.BlockUpdate) (*change, error) {
	c := &change{nodes: u.Nodes, accounts: map[common.Hash][]byte{}, storage: map[common.Hash]map[common.Hash][]byte{}}
	for addrHash, ch := range u.Accounts {
		if ch == nil || (!ch.Deleted && (ch.Account == nil || ch.StorageRoot == nil)) {
			return nil, fmt.Errorf("account %s lacks the values or storage root a complete update carries", addrHash)
		}
		flat := c.slots(addrHash)
		for k, v := range ch.Storage {
			if v == (common.Hash{}) {
				flat[k] = nil
			} else {
				flat[k] = common.TrimLeftZeroes(v[:])
			}
		}
		if ch.Deleted {
			c.accounts[addrHash] = nil
			continue
		}
		acc := types.StateAccount{Nonce: ch.Account.Nonce, Balance: ch.Account.Balance.Clone(), Root: *ch.StorageRoot, CodeHash: ch.Account.CodeHash.Bytes()}
		c.accounts[addrHash] = types.SlimAccountRLP(acc)
	}
	c.root = parentRoot
	if set := u.Nodes.Sets[common.Hash{}]; set != nil {
		if n, ok := set.Nodes[""]; ok {
			if n.IsDeleted() {
				c.root = types.EmptyRootHash
			} else {
				c.root = crypto.Keccak256Hash(n.Blob)
			}
		}
	}
	return c, nil
}

// headAccount reads an account of the head view, nil if absent.
func headAccount(src headSource, addrHash common.Hash) (*types.StateAccount, error) {
	slim, err := src.Account(addrHash)
	if err != nil {
		return nil, fmt.Errorf("account %s: %w", addrHash, err)
	}
	if len(slim) == 0 {
		return nil, nil
	}
	acc, err := types.FullAccount(slim)
	if err != nil {
		return nil, fmt.Errorf("account %s: %w", addrHash, err)
	}
	return acc, nil
}
