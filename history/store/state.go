package store

import (
	"bytes"
	"errors"
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/triedb/database"

	"github.com/strata-chain/strata/history"
)

// state is the store's view as of one block, over a Pebble snapshot so every
// read sees the same committed data however long the state stays open.
// It is safe for concurrent use (go-ethereum's StateDB hashes storage tries
// from several goroutines): each read borrows an iterator from a pool.
type state struct {
	s     *Store
	block uint64
	root  common.Hash
	snap  *pebble.Snapshot

	mu     sync.Mutex
	iters  []*pebble.Iterator // idle iterators; guarded by mu
	all    []*pebble.Iterator // every iterator opened, closed on Close; guarded by mu
	closed bool               // guarded by mu
}

func (s *Store) openState(block uint64, root common.Hash) (*state, error) {
	if s.closed.Load() {
		return nil, history.ErrClosed
	}
	return &state{s: s, block: block, root: root, snap: s.db.NewSnapshot()}, nil
}

// openStateOn opens the state of block over snap, which it then owns.
func (s *Store) openStateOn(snap *pebble.Snapshot, block uint64, root common.Hash) *state {
	return &state{s: s, block: block, root: root, snap: snap}
}

func (st *state) Root() common.Hash { return st.root }

// Close implements history.State. It is idempotent.
func (st *state) Close() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return nil
	}
	st.closed = true
	var errs []error
	for _, it := range st.all {
		errs = append(errs, it.Close())
	}
	errs = append(errs, st.snap.Close())
	return errors.Join(errs...)
}

func (st *state) borrow() (*pebble.Iterator, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return nil, history.ErrClosed
	}
	if n := len(st.iters); n > 0 {
		it := st.iters[n-1]
		st.iters = st.iters[:n-1]
		return it, nil
	}
	it, err := st.snap.NewIter(nil)
	if err != nil {
		return nil, err
	}
	st.all = append(st.all, it)
	return it, nil
}

func (st *state) giveBack(it *pebble.Iterator) {
	st.mu.Lock()
	st.iters = append(st.iters, it)
	st.mu.Unlock()
}

// version returns a copy of the newest value of item at or below st.block,
// with found=false if the item has no version that old. An empty value is a
// deletion marker and is returned as found with a nil value.
func (st *state) version(item []byte) (val []byte, found bool, err error) {
	it, err := st.borrow()
	if err != nil {
		return nil, false, err
	}
	defer st.giveBack(it)
	if !it.SeekGE(versioned(item, st.block)) {
		return nil, false, it.Error()
	}
	k := it.Key()
	if len(k) != len(item)+8 || !bytes.HasPrefix(k, item) {
		return nil, false, nil
	}
	v, err := it.ValueAndErr()
	if err != nil {
		return nil, false, err
	}
	if len(v) == 0 {
		return nil, true, nil
	}
	return bytes.Clone(v), true, nil
}

// Account implements history.State.
func (st *state) Account(addrHash common.Hash) (*types.StateAccount, error) {
	v, _, err := st.version(accountItem(addrHash))
	if err != nil {
		return nil, fmt.Errorf("account %s at block %d: %w", addrHash, st.block, err)
	}
	if v == nil {
		return nil, nil
	}
	acc, err := types.FullAccount(v)
	if err != nil {
		return nil, fmt.Errorf("decode account %s at block %d: %w", addrHash, st.block, err)
	}
	return acc, nil
}

// Storage implements history.State.
func (st *state) Storage(addrHash, slotHash common.Hash) (common.Hash, error) {
	v, _, err := st.version(slotItem(addrHash, slotHash))
	if err != nil {
		return common.Hash{}, fmt.Errorf("slot %s/%s at block %d: %w", addrHash, slotHash, st.block, err)
	}
	return common.BytesToHash(v), nil
}

// Code implements history.State.
func (st *state) Code(codeHash common.Hash) ([]byte, error) { return st.s.Code(codeHash) }

// Nodes implements history.State.
func (st *state) Nodes() database.NodeDatabase { return nodeDatabase{st} }

// nodeDatabase adapts a state to go-ethereum's trie node interfaces. The
// state root passed by the trie is ignored: the state already fixes the block.
type nodeDatabase struct{ st *state }

func (d nodeDatabase) NodeReader(common.Hash) (database.NodeReader, error) { return d, nil }

// Node returns the node at (owner, path) as of the state's block after
// checking that it hashes to hash. Absent nodes return (nil, nil), which the
// trie reports as a missing node.
func (d nodeDatabase) Node(owner common.Hash, path []byte, hash common.Hash) ([]byte, error) {
	if blob, ok := d.st.s.nodes.Get(hash); ok {
		d.st.s.observeCache(true)
		return blob, nil
	}
	d.st.s.observeCache(false)
	blob, _, err := d.st.version(nodeItem(owner, path))
	if err != nil {
		return nil, fmt.Errorf("trie node %x/%x at block %d: %w", owner, path, d.st.block, err)
	}
	if blob == nil {
		return nil, nil
	}
	if got := crypto.Keccak256Hash(blob); got != hash {
		return nil, fmt.Errorf("trie node %x/%x at block %d: hash %s, want %s", owner, path, d.st.block, got, hash)
	}
	d.st.s.nodes.Add(hash, blob)
	return blob, nil
}

// encodeSlotValue is the flat (and trie, after RLP) encoding of a slot value.
func encodeSlotValue(v common.Hash) []byte { return common.TrimLeftZeroes(v[:]) }

func encodeStorageLeaf(v common.Hash) []byte {
	b, _ := rlp.EncodeToBytes(encodeSlotValue(v))
	return b
}
