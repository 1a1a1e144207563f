package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ethereum-optimism/optimism/op-service/sources"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/stateless"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/proofs"
)

// timedDebugClient is op-service's debug client (as op-program's
// prefetcher uses it) with each call's latency recorded.
type timedDebugClient struct {
	*sources.DebugClient
	took *[]time.Duration
}

func newTimedDebugClient(c *rpc.Client) timedDebugClient {
	took := new([]time.Duration)
	call := func(ctx context.Context, result any, method string, args ...any) error {
		start := time.Now()
		err := c.CallContext(ctx, result, method, args...)
		*took = append(*took, time.Since(start))
		return err
	}
	return timedDebugClient{DebugClient: sources.NewDebugClient(call), took: took}
}

// walkKey follows key from a trie root down to its leaf, fetching each node
// by hash as op-program's prefetcher does, and returns the nodes on the way
// (root first) and the leaf's value (nil if the key is absent).
func walkKey(t *testing.T, dc timedDebugClient, owner, root, key common.Hash) ([][]byte, []byte) {
	t.Helper()
	ctx := context.Background()
	target := proofs.HashToNibbles(key)
	hash, path := root, []byte{}
	var nodes [][]byte
	for {
		blob, err := dc.NodeByHash(ctx, hash)
		require.NoError(t, err, "node %s at %x", hash, path)
		require.Equal(t, hash, crypto.Keccak256Hash(blob))
		nodes = append(nodes, blob)
		n, err := proofs.DecodeNode(owner, path, blob)
		require.NoError(t, err)
		for _, l := range n.Leaves {
			if bytes.Equal(l.Path, target) {
				return nodes, l.Value
			}
		}
		next := -1
		for i, r := range n.Refs {
			if r.Owner == owner && bytes.HasPrefix(target, r.Path) {
				next = i
			}
		}
		if next < 0 {
			return nodes, nil
		}
		hash, path = n.Refs[next].Hash, n.Refs[next].Path
	}
}

// trieNodes lists the hashes of every node stored by hash (embedded nodes
// are not) in the account trie and every storage trie of st, with go-
// ethereum's own trie iterator, and the accounts' code hashes.
func trieNodes(t *testing.T, st history.State) (map[common.Hash]bool, map[common.Hash]bool, int) {
	t.Helper()
	nodes, codes := map[common.Hash]bool{}, map[common.Hash]bool{}
	leaves := 0
	tr, err := trie.New(trie.StateTrieID(st.Root()), st.Nodes())
	require.NoError(t, err)
	it, err := tr.NodeIterator(nil)
	require.NoError(t, err)
	for it.Next(true) {
		if h := it.Hash(); h != (common.Hash{}) {
			nodes[h] = true
		}
		if !it.Leaf() {
			continue
		}
		leaves++
		var acc types.StateAccount
		require.NoError(t, rlp.DecodeBytes(it.LeafBlob(), &acc))
		if c := common.BytesToHash(acc.CodeHash); c != types.EmptyCodeHash {
			codes[c] = true
		}
		if acc.Root == types.EmptyRootHash {
			continue
		}
		owner := common.BytesToHash(it.LeafKey())
		str, err := trie.New(trie.StorageTrieID(st.Root(), owner, acc.Root), st.Nodes())
		require.NoError(t, err)
		sit, err := str.NodeIterator(nil)
		require.NoError(t, err)
		for sit.Next(true) {
			if h := sit.Hash(); h != (common.Hash{}) {
				nodes[h] = true
			}
			if sit.Leaf() {
				leaves++
			}
		}
		require.NoError(t, sit.Error())
	}
	require.NoError(t, it.Error())
	return nodes, codes, leaves
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// TestDbGetWalksLikeOpProgram walks historical state through Strata's
// debug_dbGet with op-service's debug client (NodeByHash, CodeByHash), the
// way op-program's host fetches preimages: from a block's state root,
// parent to child. The whole walk reaches exactly the nodes go-ethereum's
// trie iterator finds (account trie and every storage trie), every leaf and
// every code; walking one key gives the nodes of eth_getProof's proof.
func TestDbGetWalksLikeOpProgram(t *testing.T) {
	c := newOPChain(t)
	ctx := context.Background()
	dc := newTimedDebugClient(c.client)
	for _, n := range []uint64{1, opIsthmusBlock, opBlocks - 1, opBlocks} {
		h, err := c.store.HeaderByNumber(n)
		require.NoError(t, err)
		st, err := c.store.StateAt(n)
		require.NoError(t, err)
		want, wantCodes, wantLeaves := trieNodes(t, st)

		// The whole state, breadth first, every node fetched by hash.
		// A node can sit at several places (two storage tries with the same
		// content): each place is walked.
		got, leaves := map[common.Hash]bool{}, 0
		queue := []proofs.NodeRef{{Hash: h.Root}}
		for len(queue) > 0 {
			ref := queue[0]
			queue = queue[1:]
			blob, err := dc.NodeByHash(ctx, ref.Hash)
			require.NoError(t, err, "block %d: node %s (%x/%x)", n, ref.Hash, ref.Owner, ref.Path)
			require.Equal(t, ref.Hash, crypto.Keccak256Hash(blob))
			got[ref.Hash] = true
			node, err := proofs.DecodeNode(ref.Owner, ref.Path, blob)
			require.NoError(t, err)
			leaves += len(node.Leaves)
			for _, l := range node.Leaves {
				if ref.Owner != (common.Hash{}) {
					continue
				}
				addrHash := proofs.NibblesToHash(l.Path)
				acc, err := st.Account(addrHash)
				require.NoError(t, err)
				enc, err := rlp.EncodeToBytes(acc)
				require.NoError(t, err)
				require.Equal(t, enc, l.Value, "block %d: account %s as the store has it", n, addrHash)
				if ch := common.BytesToHash(acc.CodeHash); ch != types.EmptyCodeHash {
					code, err := dc.CodeByHash(ctx, ch)
					require.NoError(t, err)
					require.Equal(t, ch, crypto.Keccak256Hash(code))
					delete(wantCodes, ch)
				}
			}
			queue = append(queue, node.Refs...)
		}
		require.Equal(t, want, got, "block %d: the walk reaches exactly the trie's nodes", n)
		require.Equal(t, wantLeaves, leaves, "block %d: every leaf", n)
		require.Empty(t, wantCodes, "block %d: every code", n)

		// One key at a time, as op-program resolves an account and its
		// slots: the nodes on the way are eth_getProof's proof.
		for _, addr := range []common.Address{types.L1BlockAddr, proofs.MessagePasserAddress, common.HexToAddress("0x4200000000000000000000000000000000000011"), common.HexToAddress("0xdead")} {
			keys := []string{"0x0", "0x1", "0x2", "0x3", "0x4", "0x5", "0x6", "0x7", "0x8"}
			var res AccountResult
			require.NoError(t, c.client.Call(&res, "eth_getProof", addr, keys, hexutil.Uint64(n)))
			path, leaf := walkKey(t, dc, common.Hash{}, h.Root, crypto.Keccak256Hash(addr[:]))
			require.Equal(t, hexList(path), res.AccountProof, "block %d: account %s", n, addr)
			if leaf == nil {
				require.Equal(t, common.Hash{}, res.StorageHash)
				continue
			}
			for _, sp := range res.StorageProof {
				if res.StorageHash == types.EmptyRootHash {
					break
				}
				slot := common.HexToHash(sp.Key)
				path, _ := walkKey(t, dc, crypto.Keccak256Hash(addr[:]), res.StorageHash, crypto.Keccak256Hash(slot[:]))
				require.Equal(t, hexList(path), sp.Proof, "block %d: slot %s of %s", n, sp.Key, addr)
			}
		}
		st.Close()
		t.Logf("block %d: %d nodes, %d leaves walked", n, len(got), leaves)
	}
	t.Logf("debug_dbGet over an in-process client: %d calls, p50 %s, p99 %s, max %s", len(*dc.took),
		percentile(*dc.took, 0.5), percentile(*dc.took, 0.99), percentile(*dc.took, 1))
}

// TestDbGetKeys: code by 0x63‖codeHash and by the bare code hash, as
// op-service's CodeByHash tries them; misses and keys this node does not
// serve are errors, never null.
func TestDbGetKeys(t *testing.T) {
	c := newOPChain(t)
	var code hexutil.Bytes
	require.NoError(t, c.client.Call(&code, "eth_getCode", types.L1BlockAddr, "latest"))
	require.NotEmpty(t, code)
	hash := crypto.Keccak256Hash(code)
	for _, key := range []string{hexutil.Encode(append([]byte{0x63}, hash[:]...)), hash.Hex()} {
		var got hexutil.Bytes
		require.NoError(t, c.client.Call(&got, "debug_dbGet", key), key)
		require.Equal(t, code, got, key)
	}
	dc := sources.NewDebugClient(c.client.CallContext)
	got, err := dc.CodeByHash(context.Background(), hash)
	require.NoError(t, err)
	require.Equal(t, []byte(code), got)
	// A state root is found from the headers alone.
	h, err := c.store.HeaderByNumber(3)
	require.NoError(t, err)
	root, err := dc.NodeByHash(context.Background(), h.Root)
	require.NoError(t, err)
	require.Equal(t, h.Root, crypto.Keccak256Hash(root))

	for _, tc := range []struct{ key, msg string }{
		{common.HexToHash("0x1234").Hex(), "not found"},
		{hexutil.Encode(append([]byte{0x63}, common.HexToHash("0x1234").Bytes()...)), "no code with that hash"},
		{hexutil.Encode(append([]byte("h"), make([]byte, 40)...)), "serves trie nodes by hash"},
		{hexutil.Encode(append([]byte{0x63}, types.EmptyCodeHash[:]...)), "no code with that hash"},
	} {
		var res hexutil.Bytes
		err := c.client.Call(&res, "debug_dbGet", tc.key)
		require.Error(t, err, tc.key)
		require.Contains(t, err.Error(), tc.msg)
		var re rpc.Error
		require.ErrorAs(t, err, &re)
		require.Equal(t, -32000, re.ErrorCode())
	}
	for _, tc := range []struct{ key, msg string }{
		{"0x" + strings.Repeat("ab", 65), "key too long"},
		{"0xzz", "invalid key"},
		{"0x123", "invalid key"},
	} {
		var res hexutil.Bytes
		err := c.client.Call(&res, "debug_dbGet", tc.key)
		require.Error(t, err, tc.key)
		require.Contains(t, err.Error(), tc.msg)
		var re rpc.Error
		require.ErrorAs(t, err, &re)
		require.Equal(t, -32602, re.ErrorCode())
	}
}

// TestDbGetAfterWitness: a host whose witness lacks a node asks debug_dbGet
// for it by hash; the nodes a served witness references can be found
// without walking from the root first.
func TestDbGetAfterWitness(t *testing.T) {
	c := newOPChain(t)
	srv, err := NewRPCServer(Config{ChainConfig: c.config, Reader: c.store})
	require.NoError(t, err)
	defer srv.Stop()
	cl := rpc.DialInProc(srv)
	defer cl.Close()
	const n = opBlocks
	var ext stateless.ExtWitness
	require.NoError(t, cl.Call(&ext, "debug_executionWitness", hexutil.Uint64(n)))
	parent, err := c.store.HeaderByNumber(n - 1)
	require.NoError(t, err)
	inWitness := map[common.Hash][]byte{}
	for _, b := range ext.State {
		inWitness[crypto.Keccak256Hash(b)] = b
	}
	// Every reference of every witness node, in the witness or not.
	asked := 0
	proofs.WitnessNodeRefs(parent.Root, inWitness, func(_ proofs.NodeRef, node *proofs.Node) {
		for _, r := range node.Refs {
			var blob hexutil.Bytes
			require.NoError(t, cl.Call(&blob, "debug_dbGet", r.Hash.Hex()), "node %s referenced at %x/%x", r.Hash, r.Owner, r.Path)
			require.Equal(t, r.Hash, crypto.Keccak256Hash(blob))
			asked++
		}
	})
	require.Greater(t, asked, len(ext.State))
	t.Logf("%d nodes referenced by the witness of block %d (%d nodes) served by hash", asked, n, len(ext.State))
}

// TestWitnessAndDbGetBadInput: an unknown hash, a block not held, the
// genesis, a parent whose state is pruned and malformed arguments each get a
// clear error.
func TestWitnessAndDbGetBadInput(t *testing.T) {
	c := newOPChain(t)
	srv, err := NewRPCServer(Config{ChainConfig: c.config, Reader: prunedReader{c.store, 4}})
	require.NoError(t, err)
	defer srv.Stop()
	s, err := Listen(ServerConfig{Addr: "127.0.0.1"}, srv, nil)
	require.NoError(t, err)
	defer s.Close()
	url := "http://" + s.HTTPAddr()
	old, err := c.store.HeaderByNumber(2)
	require.NoError(t, err)
	// A host reads the header before asking for its state root.
	require.Contains(t, post(t, url, `{"jsonrpc":"2.0","id":1,"method":"debug_getRawHeader","params":["0x2"]}`), `"result":"0x`)
	for _, tc := range []struct {
		name, method, params string
		code                 int
		msg                  string
	}{
		{"unknown hash", "debug_executionWitness", fmt.Sprintf(`["%s"]`, common.HexToHash("0x1234").Hex()), -32000, "header for hash not found"},
		{"future block", "debug_executionWitness", `["0x999"]`, -32000, "header not found"},
		{"genesis", "debug_executionWitness", `["0x0"]`, -32000, "parent missing"},
		{"pruned parent", "debug_executionWitness", `["0x4"]`, -32000, "block 4 found, but its parent's state is not held: state at block 3 is not available: oldest available block is 4"},
		{"pruned block", "debug_executionWitness", `["0x2"]`, -32000, "oldest available block is 4"},
		{"pruned block by hash", "debug_executionWitness", fmt.Sprintf(`["%s"]`, old.Hash().Hex()), -32000, "oldest available block is 4"},
		{"not a block", "debug_executionWitness", `["0xzz"]`, -32602, "invalid argument 0"},
		{"no block", "debug_executionWitness", `[]`, -32602, "missing value for required argument 0"},
		{"pruned root", "debug_dbGet", fmt.Sprintf(`["%s"]`, old.Root.Hex()), -32000, "oldest available block is 4"},
		{"unknown node", "debug_dbGet", fmt.Sprintf(`["%s"]`, common.HexToHash("0x1234").Hex()), -32000, "not found"},
		{"oversized key", "debug_dbGet", fmt.Sprintf(`["0x%s"]`, strings.Repeat("00", 100)), -32602, "key too long"},
		{"not a key", "debug_dbGet", `[12]`, -32602, "invalid argument 0"},
		{"unknown transaction", "debug_getRawTransaction", `["0x1234"]`, -32602, "invalid argument 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := post(t, url, fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"%s","params":%s}`, tc.method, tc.params))
			var r rpcError
			require.NoError(t, json.Unmarshal([]byte(body), &r), body)
			require.NotNil(t, r.Error, "want an error, got %s", body)
			require.Equal(t, tc.code, r.Error.Code, body)
			require.Contains(t, r.Error.Message, tc.msg)
		})
	}
	// An unknown transaction is empty bytes, as geth answers (its nil
	// hexutil.Bytes marshals as "0x").
	body := post(t, url, fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"debug_getRawTransaction","params":["%s"]}`, common.HexToHash("0x1234").Hex()))
	require.JSONEq(t, `{"jsonrpc":"2.0","id":1,"result":"0x"}`, body)
}
