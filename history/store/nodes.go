package store

import (
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/triedb/database"
)

// trieNodes is what ingest needs to open tries: go-ethereum's node database.
type trieNodes = database.NodeDatabase

// emptyNodes serves the genesis, whose parent is the empty trie: any node
// lookup is a missing node.
type emptyNodes struct{}

func (emptyNodes) NodeReader(common.Hash) (database.NodeReader, error) { return emptyNodes{}, nil }
func (emptyNodes) Node(common.Hash, []byte, common.Hash) ([]byte, error) {
	return nil, nil
}
