package api

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/proofs"
)

// debug_dbGet serves what the fault-proof hosts (op-program, kona) read
// from a geth hash-scheme archive node: trie nodes by hash and code by
// 0x63‖codeHash or the bare code hash.
//
// Strata's store keys trie nodes by (owner, path) and block, not by hash, so
// a hash alone does not find a node. The hosts never ask for a node out of
// nowhere: they start from a state root taken from a header and walk parent
// to child. So the node index keeps, in memory and bounded:
//
//   - roots: a state root -> its block, filled by scanning the newest
//     RootIndexBlocks headers when a hash is not known, and with every header
//     the API reads (a host that asks for an older block's root has read
//     that block's header first: eth_getBlockByHash, debug_getRawHeader);
//   - refs: every node a served node references (a branch's or extension's
//     children, an account leaf's storage root) -> (block, owner, path);
//   - the last few served execution witnesses, whose nodes are indexed the
//     same way only when a hash is found nowhere else (a host whose witness
//     lacks a node asks for it directly), so that serving a witness costs
//     nothing more than keeping it.
//
// A lookup reads the node at that location as of that block through the
// block's state (the recent tier, or the window's rebuilt view) and serves
// it only if it hashes to the asked hash. Nothing is written to disk.
const (
	defaultNodeIndexSize   = 1 << 18 // 262,144 references
	defaultRootIndexBlocks = 18_000  // an hour of 200 ms blocks
	// maxDbGetKey bounds the key argument: a 0x-prefixed hex string of
	// geth's longest key (the 33-byte 0x63‖codeHash) with room to spare.
	maxDbGetKey = 2 + 2*64
)

// nodeLocation is where a node sits: a block that holds it, the trie and
// the nibble path in it.
type nodeLocation struct {
	block uint64
	owner common.Hash
	path  string
}

// nodeIndex finds a trie node's location from its hash.
type nodeIndex struct {
	refs  *lru.Cache[common.Hash, nodeLocation]
	roots *lru.Cache[common.Hash, uint64]
	span  uint64 // the newest blocks whose roots a scan indexes

	scanMu  sync.Mutex   // one header scan at a time
	scanned history.Head // the head the last scan reached; guarded by scanMu

	witnessMu sync.Mutex
	witnesses []servedWitness // the newest last; guarded by witnessMu
}

// servedWitnesses is how many served witnesses are kept for indexing on
// demand (a 30 Mgas block's witness holds about 6,000 nodes, 1.6 MB).
const servedWitnesses = 4

// servedWitness is a served witness's state: nodes of the parent block.
type servedWitness struct {
	block uint64
	root  common.Hash
	state []hexutil.Bytes
}

// noteWitness keeps a served witness's nodes (block's, with that state
// root) for indexing on demand.
func (x *nodeIndex) noteWitness(block uint64, root common.Hash, state []hexutil.Bytes) {
	x.noteRoot(root, block)
	x.witnessMu.Lock()
	defer x.witnessMu.Unlock()
	if len(x.witnesses) == servedWitnesses {
		x.witnesses = x.witnesses[1:]
	}
	x.witnesses = append(x.witnesses, servedWitness{block: block, root: root, state: state})
}

// expandWitnesses indexes the references of every kept witness's nodes
// and forgets the witnesses; it reports whether there were any.
func (x *nodeIndex) expandWitnesses() bool {
	x.witnessMu.Lock()
	ws := x.witnesses
	x.witnesses = nil
	x.witnessMu.Unlock()
	for _, w := range ws {
		nodes := make(map[common.Hash][]byte, len(w.state))
		for _, blob := range w.state {
			nodes[crypto.Keccak256Hash(blob)] = blob
		}
		proofs.WitnessNodeRefs(w.root, nodes, func(_ proofs.NodeRef, n *proofs.Node) {
			x.noteRefs(w.block, n.Refs)
		})
	}
	return len(ws) > 0
}

func newNodeIndex(size, span int) *nodeIndex {
	refs, _ := lru.New[common.Hash, nodeLocation](size)
	// Room for the scanned span and as many roots noted from headers.
	roots, _ := lru.New[common.Hash, uint64](2 * span)
	return &nodeIndex{refs: refs, roots: roots, span: uint64(span)}
}

// noteRoot records that block n has state root root.
func (x *nodeIndex) noteRoot(root common.Hash, n uint64) { x.roots.Add(root, n) }

// noteRefs records the nodes n references, as of block.
func (x *nodeIndex) noteRefs(block uint64, refs []proofs.NodeRef) {
	for _, r := range refs {
		x.refs.Add(r.Hash, nodeLocation{block: block, owner: r.Owner, path: string(r.Path)})
	}
}

// locate returns where the node with that hash can be read, scanning new
// headers for state roots if the hash is not known yet.
func (x *nodeIndex) locate(r history.Reader, hash common.Hash) (nodeLocation, bool, error) {
	if loc, ok := x.refs.Get(hash); ok {
		return loc, true, nil
	}
	if n, ok := x.roots.Get(hash); ok {
		return nodeLocation{block: n}, true, nil
	}
	if err := x.scan(r); err != nil {
		return nodeLocation{}, false, err
	}
	if n, ok := x.roots.Get(hash); ok {
		return nodeLocation{block: n}, true, nil
	}
	if x.expandWitnesses() {
		if loc, ok := x.refs.Get(hash); ok {
			return loc, true, nil
		}
	}
	return nodeLocation{}, false, nil
}

// scan indexes the state roots of the newest blocks: those above the head
// of the previous scan, or, the first time and after a reorg replaced that
// head, the newest span blocks (not below the oldest held).
func (x *nodeIndex) scan(r history.Reader) error {
	if nr, ok := r.(notingReader); ok {
		r = nr.Reader
	}
	x.scanMu.Lock()
	defer x.scanMu.Unlock()
	head, err := r.Head()
	if errors.Is(err, history.ErrEmpty) {
		return nil
	}
	if err != nil {
		return err
	}
	if head.Number == x.scanned.Number && head.Hash == x.scanned.Hash {
		return nil
	}
	lower, err := r.Oldest()
	if err != nil {
		return err
	}
	if head.Number+1 > x.span {
		lower = max(lower, head.Number+1-x.span)
	}
	if x.scanned.Hash != (common.Hash{}) && x.scanned.Number <= head.Number {
		if h, err := r.HeaderByNumber(x.scanned.Number); err == nil && h.Hash() == x.scanned.Hash {
			lower = max(lower, x.scanned.Number+1)
		}
	}
	for n := head.Number; n >= lower; n-- {
		h, err := r.HeaderByNumber(n)
		if errors.Is(err, history.ErrNotFound) {
			break
		}
		if err != nil {
			return err
		}
		x.roots.Add(h.Root, n)
		if n == 0 {
			break
		}
	}
	x.scanned = head
	return nil
}

// notingReader notes the state root of every header the API reads.
type notingReader struct {
	history.Reader
	idx *nodeIndex
}

func (r notingReader) HeaderByNumber(n uint64) (*types.Header, error) {
	h, err := r.Reader.HeaderByNumber(n)
	if err == nil {
		r.idx.noteRoot(h.Root, n)
	}
	return h, err
}

// dbNotFoundError is debug_dbGet's miss: an error, as geth's database
// gives, since the hosts retry with the bare hash only when the first call
// fails.
type dbNotFoundError struct {
	key    []byte
	reason string
}

func (e *dbNotFoundError) Error() string {
	return fmt.Sprintf("not found: key %#x: %s", e.key, e.reason)
}
func (e *dbNotFoundError) ErrorCode() int { return -32000 }

// DbGet is debug_dbGet with the semantics of a geth hash-scheme archive as
// the proof hosts use it: key is 0x-prefixed hex (or a raw string, as geth
// accepts); a 32-byte key is a trie node (account or storage trie) by hash,
// else code by that hash; 0x63‖codeHash is code. Any other key, and any key
// not found, is an error. Trie nodes are found from a state root of a held
// block, parent to child (see nodeIndex).
func (api *DebugAPI) DbGet(ctx context.Context, key string) (hexutil.Bytes, error) {
	if len(key) > maxDbGetKey {
		return nil, &invalidParamsError{fmt.Sprintf("key too long: %d characters, at most %d", len(key), maxDbGetKey)}
	}
	raw, err := common.ParseHexOrString(key)
	if err != nil {
		return nil, &invalidParamsError{fmt.Sprintf("invalid key %q: %v", key, err)}
	}
	ctx, done, err := api.b.dbget.enter(ctx, "debug_dbGet")
	if err != nil {
		return nil, err
	}
	blob, err := api.b.dbGet(ctx, raw)
	return blob, done(err)
}

func (b *backend) dbGet(ctx context.Context, key []byte) ([]byte, error) {
	switch {
	case len(key) == len(rawdb.CodePrefix)+common.HashLength && key[0] == rawdb.CodePrefix[0]:
		code, err := b.code(common.BytesToHash(key[1:]))
		if err != nil {
			return nil, err
		}
		if code == nil {
			return nil, &dbNotFoundError{key, "no code with that hash"}
		}
		return code, nil
	case len(key) == common.HashLength:
		hash := common.BytesToHash(key)
		blob, reason, err := b.nodeByHash(ctx, hash)
		if err != nil || blob != nil {
			return blob, err
		}
		// The legacy unprefixed code key, which the hosts fall back to.
		code, err := b.code(hash)
		if err != nil {
			return nil, err
		}
		if code != nil {
			return code, nil
		}
		return nil, &dbNotFoundError{key, reason + ", and no code with that hash"}
	default:
		return nil, &dbNotFoundError{key, "this node serves trie nodes by hash and code by 0x63‖codeHash or codeHash only"}
	}
}

// code returns the code with that hash, nil if unknown. The empty code is
// not stored under its hash by geth either.
func (b *backend) code(hash common.Hash) ([]byte, error) {
	if hash == types.EmptyCodeHash {
		return nil, nil
	}
	code, err := b.cfg.Reader.Code(hash)
	if errors.Is(err, history.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return code, nil
}

// nodeByHash returns the trie node with that hash, or nil and why it was
// not found. A served node's references are indexed, so that the walk can
// continue.
func (b *backend) nodeByHash(ctx context.Context, hash common.Hash) ([]byte, string, error) {
	loc, ok, err := b.nodes.locate(b.cfg.Reader, hash)
	if err != nil {
		return nil, "", err
	}
	if !ok {
		return nil, "no trie node with that hash is reachable from a state root of a held block read so far " +
			"(walk from a state root, parent to child)", nil
	}
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	st, err := b.cfg.Reader.StateAt(loc.block)
	if err != nil {
		var pruned *history.PrunedError
		var future *history.FutureError
		if errors.As(err, &pruned) || errors.As(err, &future) || errors.Is(err, history.ErrNotFound) {
			b.nodes.refs.Remove(hash)
			return nil, fmt.Sprintf("the node was at block %d: %v", loc.block, err), nil
		}
		return nil, "", err
	}
	defer st.Close()
	if loc.owner == (common.Hash{}) && loc.path == "" && st.Root() != hash {
		// A root noted for a block that has since been unwound.
		b.nodes.roots.Remove(hash)
		return nil, fmt.Sprintf("block %d no longer has state root %s", loc.block, hash), nil
	}
	reader, err := st.Nodes().NodeReader(st.Root())
	if err != nil {
		return nil, "", err
	}
	blob, err := reader.Node(loc.owner, []byte(loc.path), hash)
	if errors.Is(err, history.ErrClosed) {
		return nil, "", err
	}
	if err != nil || len(blob) == 0 || crypto.Keccak256Hash(blob) != hash {
		// The location no longer holds the node (an unwound block) or the
		// store cannot rebuild it at that block.
		b.nodes.refs.Remove(hash)
		reason := fmt.Sprintf("block %d holds no node with that hash at %x/%x", loc.block, loc.owner, []byte(loc.path))
		if err != nil {
			reason += ": " + err.Error()
		}
		return nil, reason, nil
	}
	if n, err := proofs.DecodeNode(loc.owner, []byte(loc.path), blob); err == nil {
		b.nodes.noteRefs(loc.block, n.Refs)
	}
	return blob, "", nil
}
