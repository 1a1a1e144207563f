package archive

import (
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/triedb/database"

	"github.com/strata-chain/strata/history/store/nodediff"
)

// maxChain bounds how many history entries one node's reconstruction reads:
// a longer chain means a corrupt log (diffs chain strictly forward in
// blocks and a full copy ends a hot node's chain within FullEvery steps).
const maxChain = 1 << 12

// errNoNode: the history log holds no version of a node a past state
// needs (pruned, or a corrupt log).
var errNoNode = errors.New("node not held")

// pastNodes is the trie database of the state at one past block.
type pastNodes struct {
	s     *Store
	block uint64
}

func (p pastNodes) NodeReader(common.Hash) (database.NodeReader, error) { return p, nil }

// Node returns the node at (owner, path) as of p.block, which the trie asks
// for by its hash: the head's node if it still has that hash, otherwise the
// pre-value of the first change after the block with that hash, rebuilt
// from the history log. The result is checked against hash.
func (p pastNodes) Node(owner common.Hash, path []byte, hash common.Hash) ([]byte, error) {
	if blob, ok := p.s.pastCache.Get(hash); ok {
		return blob, nil
	}
	blob, err := p.s.nodeAfter(owner, path, nodeKey(hash), p.block, 0)
	if err != nil {
		return nil, fmt.Errorf("node %x/%x at block %d: %w", owner, path, p.block, err)
	}
	if got := crypto.Keccak256Hash(blob); got != hash {
		return nil, fmt.Errorf("node %x/%x at block %d: rebuilt node hashes to %s, trie wants %s", owner, path, p.block, got, hash)
	}
	p.s.pastCache.Add(hash, blob)
	return blob, nil
}

// nodeAfter returns the node at (owner, path) whose hash starts with key,
// as the path held it just after block `after`.
func (s *Store) nodeAfter(owner common.Hash, path []byte, key, after uint64, depth int) ([]byte, error) {
	if depth > maxChain {
		return nil, fmt.Errorf("history chain longer than %d entries", maxChain)
	}
	blob, h, err := s.live.Node(owner, path)
	if err != nil {
		return nil, err
	}
	if len(blob) > 0 && nodeKey(h) == key {
		return blob, nil
	}
	loc, ok, err := s.hist.Lookup(key, after)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: no history entry %016x after block %d", errNoNode, key, after)
	}
	entry, err := s.hist.ReadLoc(loc)
	if err != nil {
		return nil, err
	}
	enc, postKey, full, err := entryParts(entry)
	if err != nil {
		return nil, fmt.Errorf("block %d: %w", loc.Block, err)
	}
	var post []byte
	if !full {
		if post, err = s.nodeAfter(owner, path, postKey, loc.Block, depth+1); err != nil {
			return nil, err
		}
	}
	pre, err := nodediff.Apply(enc, post)
	if err != nil {
		return nil, fmt.Errorf("block %d: %w", loc.Block, err)
	}
	return pre, nil
}
