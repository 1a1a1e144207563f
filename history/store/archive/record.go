package archive

import (
	"encoding/binary"
	"fmt"

	"github.com/cespare/xxhash/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/trie/trienode"

	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/history/store/nodediff"
	"github.com/strata-chain/strata/history/store/segment"
)

// A block's history record is the concatenation of one entry per trie node
// the block changed that existed before it. An entry is the node's
// pre-value written by nodediff against its post-value: a full copy as
// nodediff writes it, or a diff followed by the first 8 bytes of the
// post-value's hash (the key its own entry is found by, or the head's node).
// Each entry is indexed in the log by the first 8 bytes of its pre-value's
// hash. A node the block created has no entry: no earlier block holds it.

// nodeKey is the index key of a node: its hash's first 8 bytes.
func nodeKey(h common.Hash) uint64 { return binary.BigEndian.Uint64(h[:8]) }

// phase spreads a node's full copies over the k blocks of a cycle, so not
// every node writes one at the same block.
func phase(owner common.Hash, path string, k uint64) uint64 {
	d := xxhash.New()
	d.Write(owner[:])
	d.WriteString(path)
	return d.Sum64() % k
}

// recordStats counts what a record holds.
type recordStats struct {
	entries, full int
	fullBytes     int // bytes of the full copies
}

// buildRecord writes block's record: the pre-value of every node in nodes,
// the origin the trie kept with its hash as read (read), or else read from
// src (the head view before the block).
func buildRecord(src headSource, read *headNodes, block, k uint64, nodes *trienode.MergedNodeSet) ([]byte, []segment.Entry, recordStats, error) {
	var (
		payload []byte
		keys    []segment.Entry
		st      recordStats
	)
	for _, owner := range history.SortedHashes(nodes.Sets) {
		set := nodes.Sets[owner]
		var err error
		set.ForEachWithOrder(func(path string, n *trienode.Node) {
			if err != nil {
				return
			}
			pre, preHash, ok := origin(read, set, owner, path)
			if !ok {
				if pre, preHash, err = src.Node(owner, []byte(path)); err != nil {
					err = fmt.Errorf("pre-value of node %x/%x: %w", owner, path, err)
					return
				}
			}
			if len(pre) == 0 {
				return // created by this block
			}
			off := len(payload)
			if n.IsDeleted() || block%k == phase(owner, path, k) {
				payload = nodediff.Full(payload, pre)
			} else {
				payload = nodediff.Encode(payload, pre, n.Blob)
				if !nodediff.IsFull(payload[off:]) {
					post := n.Hash
					if post == (common.Hash{}) {
						post = crypto.Keccak256Hash(n.Blob)
					}
					payload = binary.BigEndian.AppendUint64(payload, nodeKey(post))
				}
			}
			if nodediff.IsFull(payload[off:]) {
				st.full++
				st.fullBytes += len(payload) - off
			}
			st.entries++
			keys = append(keys, segment.Entry{Key: nodeKey(preHash), Off: uint32(off), Len: uint32(len(payload) - off)})
		})
		if err != nil {
			return nil, nil, st, err
		}
	}
	return payload, keys, st, nil
}

// entryParts splits an entry: the nodediff encoding and, for a diff, the
// key of its post-value.
func entryParts(entry []byte) (enc []byte, postKey uint64, full bool, err error) {
	if len(entry) == 0 {
		return nil, 0, false, fmt.Errorf("empty history entry")
	}
	if nodediff.IsFull(entry) {
		return entry, 0, true, nil
	}
	if len(entry) < 9 {
		return nil, 0, false, fmt.Errorf("history entry of %d bytes", len(entry))
	}
	return entry[:len(entry)-8], binary.BigEndian.Uint64(entry[len(entry)-8:]), false, nil
}

// origin is the node the trie overwrote at path, with its hash, when the
// trie kept it and read it through read.
func origin(read *headNodes, set *trienode.NodeSet, owner common.Hash, path string) ([]byte, common.Hash, bool) {
	if read == nil {
		return nil, common.Hash{}, false
	}
	pre, ok := set.Origins[path]
	if !ok {
		return nil, common.Hash{}, false
	}
	if len(pre) == 0 {
		return nil, common.Hash{}, true // created by the block
	}
	h, ok := read.hashOf(owner, path)
	return pre, h, ok
}
