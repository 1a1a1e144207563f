package api

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethdb/memorydb"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/holiman/uint256"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/history/historytest"
	"github.com/strata-chain/strata/history/store"
)

// The fuzz targets below send arbitrary JSON-RPC params through the real
// rpc server in-process (rpc.DialInProc), the way a client's request
// reaches the API. go-ethereum's server recovers a panicking handler and
// answers "method handler crashed" (-32603): that answer fails the test.

var (
	fuzzEOA      = common.HexToAddress("0x00000000000000000000000000000000000000e0")
	fuzzContract = common.HexToAddress("0x00000000000000000000000000000000000000c0")
	fuzzPasser   = common.HexToAddress("0x4200000000000000000000000000000000000016")
)

// proofChain is a store holding three small blocks: an account without
// code, a contract with storage and code, the message passer, and changes
// to them (slots set and cleared, an account created).
type proofChain struct {
	store   *store.Store
	headers []*types.Header
}

func newProofChain(tb testing.TB) *proofChain {
	tb.Helper()
	s, err := store.OpenMem(store.DefaultConfig())
	require.NoError(tb, err)
	tb.Cleanup(func() { s.Close() })
	code := []byte{0x60, 0x2a, 0x60, 0x00, 0x55, 0x00}
	codeHash := crypto.Keccak256Hash(code)
	slot := func(i int64) common.Hash { return common.BigToHash(big.NewInt(i)) }
	type change struct {
		addr    common.Address
		nonce   uint64
		balance uint64
		code    []byte
		slots   map[common.Hash]common.Hash
	}
	blocks := [][]change{
		{
			{addr: fuzzEOA, nonce: 3, balance: 1e18},
			{addr: fuzzContract, nonce: 1, code: code, slots: map[common.Hash]common.Hash{slot(0): slot(42), slot(1): slot(7), slot(2): common.MaxHash}},
			{addr: fuzzPasser, nonce: 1, slots: map[common.Hash]common.Hash{crypto.Keccak256Hash([]byte("withdrawal")): slot(1)}},
		},
		{
			{addr: fuzzEOA, nonce: 4, balance: 9e17},
			{addr: fuzzContract, nonce: 1, code: code, slots: map[common.Hash]common.Hash{slot(0): {}, slot(3): slot(3)}},
		},
		{
			{addr: common.HexToAddress("0xabc"), balance: 5},
		},
	}
	model := historytest.Model{}
	pc := &proofChain{store: s}
	for n, changes := range blocks {
		model = model.Clone()
		u := &history.BlockUpdate{Accounts: map[common.Hash]*history.AccountChange{}, Codes: map[common.Hash][]byte{}}
		for _, c := range changes {
			key := crypto.Keccak256Hash(c.addr[:])
			acc, ok := model[key]
			if !ok {
				acc = &historytest.Account{Storage: map[common.Hash]common.Hash{}}
				model[key] = acc
			}
			acc.Nonce, acc.Balance, acc.CodeHash = c.nonce, uint256.NewInt(c.balance), types.EmptyCodeHash
			if c.code != nil {
				acc.CodeHash = codeHash
				u.Codes[codeHash] = c.code
			}
			ch := &history.AccountChange{Account: &history.Account{Nonce: acc.Nonce, Balance: acc.Balance.Clone(), CodeHash: acc.CodeHash}}
			if len(c.slots) > 0 {
				ch.Storage = map[common.Hash]common.Hash{}
			}
			for k, v := range c.slots {
				hk := crypto.Keccak256Hash(k[:])
				ch.Storage[hk] = v
				if v == (common.Hash{}) {
					delete(acc.Storage, hk)
				} else {
					acc.Storage[hk] = v
				}
			}
			u.Accounts[key] = ch
		}
		h := &types.Header{Number: big.NewInt(int64(n)), Root: model.Root(), Difficulty: new(big.Int), Time: uint64(n)}
		if n > 0 {
			h.ParentHash = pc.headers[n-1].Hash()
		}
		u.Header = h
		require.NoError(tb, s.Ingest(context.Background(), u))
		pc.headers = append(pc.headers, h)
	}
	return pc
}

// client is an in-process JSON-RPC client of an API over the chain.
func (pc *proofChain) client(tb testing.TB) *rpc.Client {
	tb.Helper()
	srv, err := NewRPCServer(Config{ChainConfig: params.TestChainConfig, Reader: pc.store})
	require.NoError(tb, err)
	tb.Cleanup(srv.Stop)
	c := rpc.DialInProc(srv)
	tb.Cleanup(c.Close)
	return c
}

// call sends params (a JSON array; anything else is sent as the one
// param) and fails the test if the handler crashed. ok is false when params
// is not JSON at all (a client cannot send it).
func call(t *testing.T, c *rpc.Client, method string, params []byte) (res json.RawMessage, args []json.RawMessage, err error, ok bool) {
	if !json.Valid(params) {
		return nil, nil, nil, false
	}
	if json.Unmarshal(params, &args) != nil {
		args = []json.RawMessage{params}
	}
	anys := make([]any, len(args))
	for i, a := range args {
		anys[i] = a
	}
	err = c.CallContext(context.Background(), &res, method, anys...)
	var re rpc.Error
	if errors.As(err, &re) && (re.ErrorCode() == -32603 || strings.Contains(err.Error(), "crashed")) {
		t.Fatalf("%s %s: the handler crashed: %v", method, params, err)
	}
	return res, args, err, true
}

// FuzzGetProofParams: eth_getProof with arbitrary params. Nothing may
// crash; an answer must be a proof of the requested account and keys that
// verifies, independently of the API, against the requested block's state
// root.
func FuzzGetProofParams(f *testing.F) {
	pc := newProofChain(f)
	c := pc.client(f)
	for _, p := range []string{
		`["0x00000000000000000000000000000000000000c0",["0x0","0x1","0x02","0x0000000000000000000000000000000000000000000000000000000000000003"],"latest"]`,
		`["0x00000000000000000000000000000000000000e0",[],"0x0"]`,
		`["0x4200000000000000000000000000000000000016",["0x01"],"earliest"]`,
		`["0x00000000000000000000000000000000000000c0",["1","0X2"],{"blockNumber":"0x1"}]`,
		`["0x0000000000000000000000000000000000000abc",[],{"blockHash":"` + pc.headers[2].Hash().Hex() + `","requireCanonical":true}]`,
		`["0x0000000000000000000000000000000000000def",["0xff"],"finalized"]`, // an absent account
		`["0x00000000000000000000000000000000000000c0",["0x"],"pending"]`,
		`["0x00000000000000000000000000000000000000c0",["0x1"],"0x9"]`,                                  // a future block
		`["0x00000000000000000000000000000000000000c0",["0x1"]]`,                                        // no block
		`["0x00000000000000000000000000000000000000c0",["0xzz"],"latest"]`,                              // bad hex
		`["0x00000000000000000000000000000000000000c0",["0x` + strings.Repeat("1", 65) + `"],"latest"]`, // too long
		`["0x00c0",null,"latest"]`,
		`[null,null,null]`,
		`{"address":"0x00000000000000000000000000000000000000c0"}`,
		`["0x00000000000000000000000000000000000000c0",[],"latest",1]`,
	} {
		f.Add([]byte(p))
	}
	f.Fuzz(func(t *testing.T, params []byte) {
		res, args, err, ok := call(t, c, "eth_getProof", params)
		if !ok || err != nil {
			return
		}
		// Answered: the params must have been an address, keys and a block.
		require.Len(t, args, 3)
		var addr common.Address
		var keys []string
		var bnh rpc.BlockNumberOrHash
		require.NoError(t, json.Unmarshal(args[0], &addr))
		require.NoError(t, json.Unmarshal(args[1], &keys))
		require.NoError(t, json.Unmarshal(args[2], &bnh))
		header := pc.resolve(t, bnh)
		var got AccountResult
		require.NoError(t, json.Unmarshal(res, &got))
		require.Equal(t, addr, got.Address)
		verifyAccountProof(t, header.Root, addr, keys, &got)
	})
}

// resolve finds the header a block parameter names (the chain's head is
// also its safe and finalized block: the API has no Finality).
func (pc *proofChain) resolve(t *testing.T, bnh rpc.BlockNumberOrHash) *types.Header {
	if h, ok := bnh.Hash(); ok {
		for _, hdr := range pc.headers {
			if hdr.Hash() == h {
				return hdr
			}
		}
		t.Fatalf("answered for an unknown block hash %s", h)
	}
	n, ok := bnh.Number()
	require.True(t, ok, "answered for neither a number nor a hash")
	switch {
	case n == rpc.EarliestBlockNumber:
		return pc.headers[0]
	case n < 0:
		return pc.headers[len(pc.headers)-1]
	case int(n) < len(pc.headers):
		return pc.headers[n]
	}
	t.Fatalf("answered for block %d, beyond the head", n)
	return nil
}

// storageKey parses a key as geth does: 0x optional, odd length padded, at
// most 32 bytes.
func storageKey(t *testing.T, s string) common.Hash {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	if len(s)%2 == 1 {
		s = "0" + s
	}
	b, err := hex.DecodeString(s)
	require.NoError(t, err, "answered for key %q", s)
	require.LessOrEqual(t, len(b), 32, "answered for key %q", s)
	return common.BytesToHash(b)
}

// verifyAccountProof checks an eth_getProof answer with go-ethereum's proof
// verifier alone.
func verifyAccountProof(t *testing.T, root common.Hash, addr common.Address, keys []string, got *AccountResult) {
	proofDB := func(nodes []string) *memorydb.Database {
		db := memorydb.New()
		for _, n := range nodes {
			blob, err := hexutil.Decode(n)
			require.NoError(t, err)
			require.NoError(t, db.Put(crypto.Keccak256(blob), blob))
		}
		return db
	}
	val, err := trie.VerifyProof(root, crypto.Keccak256(addr[:]), proofDB(got.AccountProof))
	require.NoError(t, err, "account proof of %s", addr)
	// An absent account reads as geth answers it: zero storage and code
	// hashes, and empty storage proofs.
	want := types.StateAccount{Balance: new(uint256.Int), Root: types.EmptyRootHash}
	wantRoot, wantCode := common.Hash{}, common.Hash{}
	if val != nil {
		require.NoError(t, rlp.DecodeBytes(val, &want))
		wantRoot, wantCode = want.Root, common.BytesToHash(want.CodeHash)
	}
	require.Equal(t, want.Nonce, uint64(got.Nonce))
	require.Zero(t, want.Balance.ToBig().Cmp(got.Balance.ToInt()), "balance: proof says %s, answer %s", want.Balance, got.Balance.ToInt())
	require.Equal(t, wantRoot, got.StorageHash)
	require.Equal(t, wantCode, got.CodeHash)
	require.Len(t, got.StorageProof, len(keys))
	for i, k := range keys {
		key := storageKey(t, k)
		sp := got.StorageProof[i]
		echoed, err := hexutil.Decode(sp.Key)
		if err != nil { // a quantity: geth echoes keys not given as 32 bytes so
			q, qerr := hexutil.DecodeBig(sp.Key)
			require.NoError(t, qerr, "key %q echoed as %q", k, sp.Key)
			echoed = q.Bytes()
		}
		require.Equal(t, key, common.BytesToHash(echoed), "key %q echoed as %q", k, sp.Key)
		if want.Root == types.EmptyRootHash {
			require.Empty(t, sp.Proof, "key %s of empty storage", key)
			require.Zero(t, sp.Value.ToInt().Sign(), "key %s of empty storage", key)
			continue
		}
		val, err := trie.VerifyProof(want.Root, crypto.Keccak256(key[:]), proofDB(sp.Proof))
		require.NoError(t, err, "storage proof of %s key %s", addr, key)
		value := new(big.Int)
		if val != nil {
			_, content, _, err := rlp.Split(val)
			require.NoError(t, err)
			value.SetBytes(content)
		}
		require.Zero(t, value.Cmp(sp.Value.ToInt()), "value of key %s: proof says %d, answer %d", key, value, sp.Value.ToInt())
	}
}

// rpcMethods are the API's methods that take params from the client.
var rpcMethods = []string{
	"eth_getBalance", "eth_getTransactionCount", "eth_getCode", "eth_getStorageAt",
	"eth_getBlockByNumber", "eth_getBlockByHash", "eth_getBlockReceipts",
	"eth_getTransactionByHash", "eth_getTransactionReceipt", "eth_sendRawTransaction",
	"eth_blockNumber", "eth_chainId",
	"optimism_outputAtBlock", "optimism_syncStatus", "optimism_rollupConfig",
	"debug_getRawHeader", "debug_getRawBlock", "debug_getRawReceipts", "debug_getRawTransaction",
	"debug_dbGet", "debug_executionWitness", "debug_chainConfig",
	"strata_tiers",
}

// FuzzRPCParams: every other method with arbitrary params. Nothing may
// crash, and every answer is a result or a JSON-RPC error.
func FuzzRPCParams(f *testing.F) {
	pc := newProofChain(f)
	c := pc.client(f)
	h1 := pc.headers[1].Hash().Hex()
	for i, p := range []string{
		`["0x00000000000000000000000000000000000000e0","latest"]`,
		`["0x00000000000000000000000000000000000000e0",{"blockHash":"` + h1 + `"}]`,
		`["0x00000000000000000000000000000000000000c0","0x0"]`,
		`["0x00000000000000000000000000000000000000c0","0x1","0x1"]`,
		`["0x1",true]`,
		`["` + h1 + `",false]`,
		`["earliest"]`,
		`["` + h1 + `"]`,
		`["0x` + strings.Repeat("ab", 32) + `"]`,
		`["0x02f8"]`,
		`[]`, `[]`,
		`["0x2"]`, `[]`, `[]`,
		`["latest"]`, `["0x1"]`, `[{"blockNumber":"0x2"}]`, `["` + h1 + `"]`,
		`["` + pc.headers[2].Root.Hex() + `"]`, `["0x1"]`, `[]`,
		`[]`,
	} {
		f.Add(uint8(i), []byte(p))
	}
	f.Add(uint8(0), []byte(`[null,"pending"]`))
	f.Add(uint8(4), []byte(`["0xffffffffffffffff",true]`))
	f.Add(uint8(12), []byte(`["0x-1"]`))
	f.Fuzz(func(t *testing.T, m uint8, params []byte) {
		method := rpcMethods[int(m)%len(rpcMethods)]
		res, _, err, ok := call(t, c, method, params)
		if !ok || err != nil {
			var re rpc.Error
			if err != nil && !errors.As(err, &re) {
				t.Fatalf("%s %s: not a JSON-RPC error: %v", method, params, err)
			}
			return
		}
		require.True(t, json.Valid(res), "%s: answer is not JSON", method)
	})
}
