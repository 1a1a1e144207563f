package replay

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/ethereum/go-ethereum/trie/trienode"
	"github.com/ethereum/go-ethereum/triedb/database"
	"github.com/holiman/uint256"

	"github.com/strata-chain/strata/history"
)

// Prepare computes, for the consecutive updates us on top of the state
// base, every block's changed trie nodes, storage roots and removals, and
// marks each update NodesComplete so history can commit the run in one
// batch. It checks every block's computed root against its header and
// returns *history.RootMismatchError for the first that differs. Updates
// are changed in place: accounts whose values were implied are filled in,
// deletions of accounts that did not exist are dropped, and the slots of
// wiped storage are listed as cleared. workers bounds the goroutines that
// replay storage tries (0 means GOMAXPROCS).
func Prepare(ctx context.Context, base history.State, us []*history.BlockUpdate, workers int) error {
	if len(us) == 0 {
		return nil
	}
	for i, u := range us {
		if u == nil || u.Header == nil || u.Header.Number == nil {
			return fmt.Errorf("catch-up: update %d has no header", i)
		}
		if i > 0 && (u.Number() != us[i-1].Number()+1 || u.Header.ParentHash != us[i-1].Header.Hash()) {
			return fmt.Errorf("catch-up: block %d does not follow block %d", u.Number(), us[i-1].Number())
		}
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	storage, err := replayStorage(ctx, base, us, workers)
	if err != nil {
		return err
	}
	return replayAccounts(ctx, base, us, storage)
}

// storageStep is what one block did to one account's storage trie.
type storageStep struct {
	root   common.Hash       // storage root after the block
	set    *trienode.NodeSet // changed and deleted nodes, nil if none
	clears []common.Hash     // slots the block's wipe removed
	wiped  bool              // the storage the account had was dropped
}

// replayStorage replays the storage trie of every account with storage
// changes or wipes across all of us, accounts in parallel. The result maps
// block index → account → step.
func replayStorage(ctx context.Context, base history.State, us []*history.BlockUpdate, workers int) ([]map[common.Hash]*storageStep, error) {
	var accounts []common.Hash
	seen := make(map[common.Hash]bool)
	for _, u := range us {
		for a, ch := range u.Accounts {
			if ch == nil {
				return nil, fmt.Errorf("catch-up: block %d: account %s has a nil change", u.Number(), a)
			}
			if (len(ch.Storage) > 0 || ch.Deleted || ch.Wiped) && !seen[a] {
				seen[a] = true
				accounts = append(accounts, a)
			}
		}
	}
	out := make([]map[common.Hash]*storageStep, len(us))
	for i := range out {
		out[i] = make(map[common.Hash]*storageStep)
	}
	type result struct {
		account common.Hash
		steps   map[int]*storageStep
	}
	jobs := make(chan common.Hash)
	results := make(chan result)
	errc := make(chan error, workers)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range min(workers, max(len(accounts), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a := range jobs {
				steps, err := replayOneStorage(ctx, base, us, a)
				if err != nil {
					errc <- err
					cancel()
					return
				}
				select {
				case results <- result{a, steps}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		defer close(jobs)
		for _, a := range accounts {
			select {
			case jobs <- a:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(results) }()
	for r := range results {
		for i, st := range r.steps {
			out[i][r.account] = st
		}
	}
	select {
	case err := <-errc:
		return nil, err
	default:
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// replayOneStorage replays one account's storage across us.
func replayOneStorage(ctx context.Context, base history.State, us []*history.BlockUpdate, a common.Hash) (map[int]*storageStep, error) {
	root := types.EmptyRootHash
	acc, err := base.Account(a)
	if err != nil {
		return nil, fmt.Errorf("catch-up: read account %s: %w", a, err)
	}
	if acc != nil {
		root = acc.Root
	}
	db := newOverlay(base)
	steps := make(map[int]*storageStep)
	for i, u := range us {
		ch := u.Accounts[a]
		if ch == nil || (len(ch.Storage) == 0 && !ch.Deleted && !ch.Wiped) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		st := &storageStep{root: root}
		var removed map[string]struct{}
		if ch.Deleted || ch.Wiped {
			st.wiped = true
			if root != types.EmptyRootHash {
				removed, st.clears, err = listStorage(db, base.Root(), a, root)
				if err != nil {
					return nil, fmt.Errorf("catch-up: block %d: %w", u.Number(), err)
				}
			}
			root, st.root = types.EmptyRootHash, types.EmptyRootHash
		}
		if !ch.Deleted && len(ch.Storage) > 0 {
			tr, err := trie.New(trie.StorageTrieID(base.Root(), a, root), db)
			if err != nil {
				return nil, fmt.Errorf("catch-up: block %d: open storage trie of %s at %s: %w", u.Number(), a, root, err)
			}
			// Updates before deletions, as go-ethereum's StateDB and the
			// store's per-block path order them, so the same nodes are
			// rewritten and the stored versions are identical.
			var deletions []common.Hash
			for _, k := range history.SortedHashes(ch.Storage) {
				if v := ch.Storage[k]; v == (common.Hash{}) {
					deletions = append(deletions, k)
				} else if err := tr.Update(k[:], storageLeaf(v)); err != nil {
					return nil, fmt.Errorf("catch-up: block %d: storage %s/%s: %w", u.Number(), a, k, err)
				}
			}
			for _, k := range deletions {
				if err := tr.Delete(k[:]); err != nil {
					return nil, fmt.Errorf("catch-up: block %d: storage %s/%s: %w", u.Number(), a, k, err)
				}
			}
			root, st.set = tr.Commit(false)
			st.root = root
		}
		if len(removed) > 0 {
			if st.set == nil {
				st.set = trienode.NewNodeSet(a)
			}
			for path := range removed {
				if _, ok := st.set.Nodes[path]; !ok {
					st.set.AddNode([]byte(path), trienode.NewDeletedWithPrev(nil))
				}
			}
		}
		db.apply(a, st.set)
		steps[i] = st
	}
	return steps, nil
}

// listStorage returns the paths of every stored node and the key of every
// slot of the storage trie at root.
func listStorage(db database.NodeDatabase, stateRoot, a, root common.Hash) (map[string]struct{}, []common.Hash, error) {
	tr, err := trie.New(trie.StorageTrieID(stateRoot, a, root), db)
	if err != nil {
		return nil, nil, fmt.Errorf("open storage trie of %s to wipe: %w", a, err)
	}
	it, err := tr.NodeIterator(nil)
	if err != nil {
		return nil, nil, err
	}
	paths := make(map[string]struct{})
	var slots []common.Hash
	for it.Next(true) {
		if it.Hash() != (common.Hash{}) {
			paths[string(it.Path())] = struct{}{}
		}
		if it.Leaf() {
			slots = append(slots, common.BytesToHash(it.LeafKey()))
		}
	}
	if err := it.Error(); err != nil {
		return nil, nil, fmt.Errorf("list storage of %s: %w", a, err)
	}
	return paths, slots, nil
}

// replayAccounts replays the account trie block by block with the storage
// steps known, checks each root and completes each update.
func replayAccounts(ctx context.Context, base history.State, us []*history.BlockUpdate, storage []map[common.Hash]*storageStep) error {
	db := newOverlay(base)
	accounts := make(map[common.Hash]*types.StateAccount) // latest in the run; nil = deleted
	prevAccount := func(a common.Hash) (*types.StateAccount, error) {
		if acc, ok := accounts[a]; ok {
			return acc, nil
		}
		return base.Account(a)
	}
	root := base.Root()
	for i, u := range us {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := u.Number()
		tr, err := trie.New(trie.StateTrieID(root), db)
		if err != nil {
			return fmt.Errorf("catch-up: block %d: open account trie at %s: %w", n, root, err)
		}
		merged := trienode.NewMergedNodeSet()
		var deleted []common.Hash // deleted after every update, as StateDB does
		for _, a := range history.SortedHashes(u.Accounts) {
			ch := u.Accounts[a]
			prev, err := prevAccount(a)
			if err != nil {
				return fmt.Errorf("catch-up: block %d: read account %s: %w", n, a, err)
			}
			st := storage[i][a]
			if st != nil && st.set != nil {
				if err := merged.Merge(st.set); err != nil {
					return fmt.Errorf("catch-up: block %d: %w", n, err)
				}
			}
			if ch.Deleted {
				if prev == nil {
					delete(u.Accounts, a) // nothing existed, nothing to delete
					continue
				}
				deleted = append(deleted, a)
				ch.Storage = clearsOf(st, nil)
				accounts[a] = nil
				continue
			}
			acc := types.StateAccount{Balance: new(uint256.Int), Root: types.EmptyRootHash, CodeHash: types.EmptyCodeHash.Bytes()}
			if prev != nil {
				acc = *prev
			}
			if st != nil {
				acc.Root = st.root
				ch.Storage = clearsOf(st, ch.Storage)
			}
			if ch.Account != nil {
				acc.Nonce, acc.Balance, acc.CodeHash = ch.Account.Nonce, ch.Account.Balance.Clone(), ch.Account.CodeHash.Bytes()
			} else {
				ch.Account = &history.Account{Nonce: acc.Nonce, Balance: acc.Balance.Clone(), CodeHash: common.BytesToHash(acc.CodeHash)}
			}
			sr := acc.Root
			ch.StorageRoot = &sr
			full, err := rlp.EncodeToBytes(&acc)
			if err != nil {
				return err
			}
			if err := tr.Update(a[:], full); err != nil {
				return fmt.Errorf("catch-up: block %d: update account %s: %w", n, a, err)
			}
			accounts[a] = &acc
		}
		for _, a := range deleted {
			if err := tr.Delete(a[:]); err != nil {
				return fmt.Errorf("catch-up: block %d: delete account %s: %w", n, a, err)
			}
		}
		newRoot, set := tr.Commit(false)
		if newRoot != u.Header.Root {
			return &history.RootMismatchError{Number: n, Hash: u.Header.Hash(), Want: u.Header.Root, Computed: newRoot}
		}
		if set != nil {
			if err := merged.Merge(set); err != nil {
				return fmt.Errorf("catch-up: block %d: %w", n, err)
			}
			db.apply(common.Hash{}, set)
		}
		u.Nodes, u.NodesComplete = merged, true
		root = newRoot
	}
	return nil
}

// clearsOf adds the slots a wipe removed to a block's storage changes as
// zero values, unless the block wrote them again.
func clearsOf(st *storageStep, slots map[common.Hash]common.Hash) map[common.Hash]common.Hash {
	if st == nil || len(st.clears) == 0 {
		return slots
	}
	if slots == nil {
		slots = make(map[common.Hash]common.Hash, len(st.clears))
	}
	for _, k := range st.clears {
		if _, ok := slots[k]; !ok {
			slots[k] = common.Hash{}
		}
	}
	return slots
}

// storageLeaf is the trie value of a slot: its RLP-encoded value with
// leading zeros trimmed, as go-ethereum stores it.
func storageLeaf(v common.Hash) []byte {
	b, _ := rlp.EncodeToBytes(common.TrimLeftZeroes(v[:]))
	return b
}

// overlay is a trie node source: the nodes the replay committed so far,
// newest per path, over the base state's nodes. Each replay goroutine owns
// its overlay; the base is safe for concurrent reads.
type overlay struct {
	base  history.State
	nodes map[common.Hash]map[string][]byte // owner → path → blob; nil blob = deleted
}

func newOverlay(base history.State) *overlay {
	return &overlay{base: base, nodes: make(map[common.Hash]map[string][]byte)}
}

func (o *overlay) apply(owner common.Hash, set *trienode.NodeSet) {
	if set == nil {
		return
	}
	m := o.nodes[owner]
	if m == nil {
		m = make(map[string][]byte, len(set.Nodes))
		o.nodes[owner] = m
	}
	for path, n := range set.Nodes {
		if n.IsDeleted() {
			m[path] = nil
		} else {
			m[path] = n.Blob
		}
	}
}

// NodeReader implements database.NodeDatabase; every trie the replay opens
// reads the run's nodes first and the base state's below them.
func (o *overlay) NodeReader(common.Hash) (database.NodeReader, error) {
	r, err := o.base.Nodes().NodeReader(o.base.Root())
	if err != nil {
		return nil, err
	}
	return overlayReader{o, r}, nil
}

type overlayReader struct {
	o    *overlay
	base database.NodeReader
}

var errDeletedNode = errors.New("catch-up: trie asked for a node the run deleted")

func (r overlayReader) Node(owner common.Hash, path []byte, hash common.Hash) ([]byte, error) {
	if m := r.o.nodes[owner]; m != nil {
		if blob, ok := m[string(path)]; ok {
			if blob == nil {
				return nil, fmt.Errorf("%w: owner %s path %x", errDeletedNode, owner, path)
			}
			return blob, nil
		}
	}
	return r.base.Node(owner, path, hash)
}
