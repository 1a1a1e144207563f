package proofs

import (
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
)

// NodeRef is a trie node another node references by hash, with where it
// sits: the trie it belongs to (Owner: zero for the account trie, the
// account hash for a storage trie) and its path in that trie (one nibble a
// byte, the form go-ethereum's trie passes to a NodeReader). Together with
// a block that holds the referencing node, that is enough to read the node
// from Strata's path-keyed store.
type NodeRef struct {
	Hash  common.Hash
	Owner common.Hash
	Path  []byte
}

// Leaf is a value a trie node holds: its full key in nibbles (64 of them in
// state tries) and the value's bytes (an account's RLP in the account trie,
// a slot's RLP in a storage trie).
type Leaf struct {
	Path  []byte
	Value []byte
}

// Node is a decoded Merkle-Patricia trie node.
type Node struct {
	// Refs are the nodes this one references by hash: the children of a
	// branch or extension, and in the account trie the root of each leaf
	// account's storage trie (Owner the account hash, Path empty).
	Refs []NodeRef
	// Leaves are the values the node holds: a leaf's own, and those of
	// leaves embedded in it (nodes shorter than 32 bytes are stored inline).
	Leaves []Leaf
}

// errNode marks a blob that is not a trie node.
var errNode = errors.New("not a trie node")

// DecodeNode decodes the trie node blob found at path in the trie of owner.
// It needs no other node: hash references are listed, embedded nodes
// decoded in place.
func DecodeNode(owner common.Hash, path, blob []byte) (*Node, error) {
	n := &Node{}
	if err := n.decode(owner, path, blob); err != nil {
		return nil, err
	}
	return n, nil
}

func (n *Node) decode(owner common.Hash, path, buf []byte) error {
	elems, rest, err := rlp.SplitList(buf)
	if err != nil {
		return fmt.Errorf("%w: %v", errNode, err)
	}
	if len(rest) > 0 {
		return fmt.Errorf("%w: %d trailing bytes", errNode, len(rest))
	}
	count, err := rlp.CountValues(elems)
	if err != nil {
		return fmt.Errorf("%w: %v", errNode, err)
	}
	switch count {
	case 2: // short node: a compact key and a value or a child
		key, val, err := rlp.SplitString(elems)
		if err != nil {
			return fmt.Errorf("%w: short node key: %v", errNode, err)
		}
		nibbles, leaf := compactToNibbles(key)
		full := append(append(make([]byte, 0, len(path)+len(nibbles)), path...), nibbles...)
		if leaf {
			v, _, err := rlp.SplitString(val)
			if err != nil {
				return fmt.Errorf("%w: leaf value: %v", errNode, err)
			}
			return n.leaf(owner, full, v)
		}
		return n.child(owner, full, val)
	case 17: // branch: sixteen children and a value
		for i := 0; i < 16; i++ {
			_, _, rest, err := rlp.Split(elems)
			if err != nil {
				return fmt.Errorf("%w: branch child %d: %v", errNode, i, err)
			}
			child := elems[:len(elems)-len(rest)]
			p := append(append(make([]byte, 0, len(path)+1), path...), byte(i))
			if err := n.child(owner, p, child); err != nil {
				return err
			}
			elems = rest
		}
		v, _, err := rlp.SplitString(elems)
		if err != nil {
			return fmt.Errorf("%w: branch value: %v", errNode, err)
		}
		if len(v) > 0 {
			return n.leaf(owner, path, v)
		}
		return nil
	default:
		return fmt.Errorf("%w: a list of %d items", errNode, count)
	}
}

// child records the reference raw (an RLP item) at path: a 32-byte hash, an
// empty slot, or an embedded node.
func (n *Node) child(owner common.Hash, path, raw []byte) error {
	kind, content, _, err := rlp.Split(raw)
	if err != nil {
		return fmt.Errorf("%w: child at %x: %v", errNode, path, err)
	}
	switch {
	case kind == rlp.List:
		return n.decode(owner, path, raw)
	case kind == rlp.String && len(content) == 0:
		return nil
	case kind == rlp.String && len(content) == common.HashLength:
		n.Refs = append(n.Refs, NodeRef{Hash: common.BytesToHash(content), Owner: owner, Path: path})
		return nil
	default:
		return fmt.Errorf("%w: child at %x is %d bytes", errNode, path, len(content))
	}
}

// leaf records a value; in the account trie it also references the
// account's storage root.
func (n *Node) leaf(owner common.Hash, path, value []byte) error {
	n.Leaves = append(n.Leaves, Leaf{Path: path, Value: value})
	if owner != (common.Hash{}) {
		return nil
	}
	if len(path) != 2*common.HashLength {
		return fmt.Errorf("%w: account leaf at a %d-nibble path", errNode, len(path))
	}
	var acc types.StateAccount
	if err := rlp.DecodeBytes(value, &acc); err != nil {
		return fmt.Errorf("%w: account leaf %x: %v", errNode, path, err)
	}
	if acc.Root != types.EmptyRootHash && acc.Root != (common.Hash{}) {
		n.Refs = append(n.Refs, NodeRef{Hash: acc.Root, Owner: NibblesToHash(path), Path: nil})
	}
	return nil
}

// compactToNibbles decodes a hex-prefix (compact) key: its nibbles and
// whether it ends in a leaf.
func compactToNibbles(compact []byte) ([]byte, bool) {
	if len(compact) == 0 {
		return nil, false
	}
	flag := compact[0] >> 4
	out := make([]byte, 0, 2*len(compact))
	if flag&1 == 1 {
		out = append(out, compact[0]&0x0f)
	}
	for _, b := range compact[1:] {
		out = append(out, b>>4, b&0x0f)
	}
	return out, flag&2 != 0
}

// NibblesToHash packs 64 nibbles into the 32-byte key they spell.
func NibblesToHash(nibbles []byte) common.Hash {
	var h common.Hash
	for i := 0; i+1 < len(nibbles) && i/2 < common.HashLength; i += 2 {
		h[i/2] = nibbles[i]<<4 | nibbles[i+1]
	}
	return h
}

// HashToNibbles spells a 32-byte key as 64 nibbles.
func HashToNibbles(h common.Hash) []byte {
	out := make([]byte, 2*common.HashLength)
	for i, b := range h {
		out[2*i], out[2*i+1] = b>>4, b&0x0f
	}
	return out
}
