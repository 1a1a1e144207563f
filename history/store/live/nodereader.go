package live

import (
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/triedb/database"
)

// ErrHashMismatch is returned (wrapped) by the node readers NodeReader
// gives when the node at a path is not the one the trie asked for.
var ErrHashMismatch = errors.New("trie node hash mismatch")

var (
	_ database.NodeDatabase = (*DB)(nil)
	_ database.NodeDatabase = (*Reader)(nil)
)

// NodeReader implements go-ethereum's database.NodeDatabase over the head,
// so a trie.Trie can be opened on the DB: stateRoot must be the head's
// root. Every node it returns hashes to what the trie asked for.
func (d *DB) NodeReader(stateRoot common.Hash) (database.NodeReader, error) {
	block, root, ok := d.Head()
	if !ok || root != stateRoot {
		return nil, fmt.Errorf("live: state %x is not the head (block %d, root %x)", stateRoot, block, root)
	}
	return hashChecked(d.Node), nil
}

// NodeReader is DB.NodeReader at the Reader's head.
func (r *Reader) NodeReader(stateRoot common.Hash) (database.NodeReader, error) {
	block, root, ok := r.Head()
	if !ok || root != stateRoot {
		return nil, fmt.Errorf("live: state %x is not the reader's head (block %d, root %x)", stateRoot, block, root)
	}
	return hashChecked(r.Node), nil
}

// hashChecked adapts a Node method to database.NodeReader.
type hashChecked func(owner common.Hash, path []byte) ([]byte, common.Hash, error)

// Node returns the node at (owner, path) if it hashes to hash; nil without
// an error if there is none (the trie reports it missing).
func (f hashChecked) Node(owner common.Hash, path []byte, hash common.Hash) ([]byte, error) {
	blob, have, err := f(owner, path)
	if err != nil || blob == nil {
		return nil, err
	}
	if have != hash {
		return nil, fmt.Errorf("live: node %x of owner %x is %x, want %x: %w", path, owner, have, hash, ErrHashMismatch)
	}
	return blob, nil
}
