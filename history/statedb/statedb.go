// Package statedb implements go-ethereum's core/state.Database over one
// block's history.State, so go-ethereum's StateDB executes on the store's
// versioned state with no second trie database, and converts the StateDB's
// commit into the history.BlockUpdate that ingest verifies and stores.
package statedb

import (
	"fmt"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/state/snapshot"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/ethereum/go-ethereum/trie/trienode"
	"github.com/ethereum/go-ethereum/triedb"
	"github.com/holiman/uint256"

	"github.com/strata-chain/strata/history"
)

// Database is go-ethereum's core/state.Database over one block's
// history.State: the StateDB reads flat accounts and slots and opens tries
// over the store's versioned nodes, and Commit captures the state update
// instead of writing it anywhere. The store writes a block only through
// Ingest, after checking its root, so there is no second trie database.
//
// A Database serves StateDBs built on st.Root() only.
type Database struct {
	st     history.State
	update *state.StateUpdate
}

var _ state.Database = (*Database)(nil)

// New returns a Database over st; st must stay open while it is used.
func New(st history.State) *Database { return &Database{st: st} }

// Update is the state update of the last Commit, nil before one.
func (db *Database) Update() *state.StateUpdate { return db.update }

// Reader returns the flat reader of the held state. The StateDB also asks for
// a reader at the post-state root after Commit; that one fails on use.
func (db *Database) Reader(root common.Hash) (state.Reader, error) {
	return &stateReader{st: db.st, root: root}, nil
}

func (db *Database) OpenTrie(root common.Hash) (state.Trie, error) {
	if root != db.st.Root() {
		return nil, fmt.Errorf("open account trie %s: state %s is held", root, db.st.Root())
	}
	return trie.NewStateTrie(trie.StateTrieID(root), db.st.Nodes())
}

func (db *Database) OpenStorageTrie(stateRoot common.Hash, address common.Address, root common.Hash, _ state.Trie) (state.Trie, error) {
	id := trie.StorageTrieID(stateRoot, crypto.Keccak256Hash(address[:]), root)
	return trie.NewStateTrie(id, db.st.Nodes())
}

// TrieDB is an empty hash-scheme trie database that holds nothing: the
// state's nodes are the store's. op-geth's StateDB and transaction
// processing only ask it whether the state is Verkle (it is not).
func (db *Database) TrieDB() *triedb.Database { return noTrieDB() }

var noTrieDB = sync.OnceValue(func() *triedb.Database {
	return triedb.NewDatabase(rawdb.NewMemoryDatabase(), triedb.HashDefaults)
})

// Snapshot is nil: the store's flat state is read through Reader.
func (db *Database) Snapshot() *snapshot.Tree { return nil }

// Commit keeps the update for Update; nothing is written.
func (db *Database) Commit(update *state.StateUpdate) error {
	db.update = update
	return nil
}

// stateReader is state.Reader over a history.State.
type stateReader struct {
	st   history.State
	root common.Hash
}

func (r *stateReader) check() error {
	if r.root != r.st.Root() {
		return fmt.Errorf("state %s is not readable here: state %s is held", r.root, r.st.Root())
	}
	return nil
}

func (r *stateReader) Account(addr common.Address) (*types.StateAccount, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	return r.st.Account(crypto.Keccak256Hash(addr[:]))
}

func (r *stateReader) Storage(addr common.Address, slot common.Hash) (common.Hash, error) {
	if err := r.check(); err != nil {
		return common.Hash{}, err
	}
	return r.st.Storage(crypto.Keccak256Hash(addr[:]), crypto.Keccak256Hash(slot[:]))
}

func (r *stateReader) Has(_ common.Address, codeHash common.Hash) bool {
	_, err := r.st.Code(codeHash)
	return err == nil
}

func (r *stateReader) Code(_ common.Address, codeHash common.Hash) []byte {
	code, err := r.st.Code(codeHash)
	if err != nil {
		return nil
	}
	return code
}

func (r *stateReader) CodeSize(addr common.Address, codeHash common.Hash) int {
	return len(r.Code(addr, codeHash))
}

// ToBlockUpdate converts go-ethereum's state update into the history form,
// with header as the block's header (transactions and receipts unset).
//
// The StateDB's update is opaque in op-geth; its exported view
// (ToTracingUpdate) lists every changed account with its new form, every
// changed slot with its new value and every changed trie node with its new
// blob, which is all a BlockUpdate holds.
//
// Under Cancun rules an account that existed before the block can only be
// deleted by EIP-158 (empty accounts) — which never holds storage — or be
// destroyed in the transaction that created it; either way there is no
// pre-block storage to wipe, so Wiped stays false. A deleted and re-created
// account appears as its final form.
func ToBlockUpdate(header *types.Header, su *state.StateUpdate) (*history.BlockUpdate, error) {
	u := &history.BlockUpdate{
		Header:   header,
		Accounts: make(map[common.Hash]*history.AccountChange),
		Codes:    make(map[common.Hash][]byte),
	}
	if su == nil {
		return u, nil
	}
	tu, err := su.ToTracingUpdate()
	if err != nil {
		return nil, fmt.Errorf("read state update: %w", err)
	}
	for addr, ch := range tu.AccountChanges {
		addrHash := crypto.Keccak256Hash(addr[:])
		acc := ch.New
		if acc == nil {
			u.Accounts[addrHash] = &history.AccountChange{Deleted: true}
			continue
		}
		bal := acc.Balance
		if bal == nil {
			bal = new(uint256.Int)
		}
		out := &history.AccountChange{Account: &history.Account{
			Nonce:    acc.Nonce,
			Balance:  bal.Clone(),
			CodeHash: common.BytesToHash(acc.CodeHash),
		}}
		root := acc.Root
		out.StorageRoot = &root
		u.Accounts[addrHash] = out
	}
	for addr, slots := range tu.StorageChanges {
		if len(slots) == 0 {
			continue
		}
		addrHash := crypto.Keccak256Hash(addr[:])
		ch, ok := u.Accounts[addrHash]
		if !ok {
			return nil, fmt.Errorf("state update changes storage of account %s without the account", addr)
		}
		if ch.Deleted {
			continue // a destroyed account's slots go with it
		}
		ch.Storage = make(map[common.Hash]common.Hash, len(slots))
		for k, v := range slots {
			// The update keys slots by their raw key when the StateDB was
			// committed with noStorageWiping, which Strata always does.
			ch.Storage[crypto.Keccak256Hash(k[:])] = v.New
		}
	}
	for _, c := range tu.CodeChanges {
		if c.New != nil && len(c.New.Code) > 0 {
			u.Codes[c.New.Hash] = c.New.Code
		}
	}
	if len(tu.TrieChanges) > 0 {
		merged := trienode.NewMergedNodeSet()
		for owner, changes := range tu.TrieChanges {
			set := trienode.NewNodeSet(owner)
			for path, n := range changes {
				set.Nodes[path] = &trienode.Node{Hash: n.New.Hash, Blob: n.New.Blob}
				set.Origins[path] = n.Prev.Blob
			}
			if err := merged.Merge(set); err != nil {
				return nil, fmt.Errorf("state update nodes of %s: %w", owner, err)
			}
		}
		u.Nodes = merged
	}
	return u, nil
}
