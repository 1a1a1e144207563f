package store

import (
	"bytes"
	"context"
	"io"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/holiman/uint256"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/history/historytest"
)

// allocSource serves a genesis alloc in address-hash order.
type allocSource struct {
	alloc types.GenesisAlloc
	keys  []common.Address
	i     int
}

func newAllocSource(alloc types.GenesisAlloc) *allocSource {
	src := &allocSource{alloc: alloc}
	for a := range alloc {
		src.keys = append(src.keys, a)
	}
	slices.SortFunc(src.keys, func(a, b common.Address) int {
		return bytes.Compare(crypto.Keccak256(a[:]), crypto.Keccak256(b[:]))
	})
	return src
}

func (s *allocSource) Next() (*history.GenesisAccount, error) {
	if s.i == len(s.keys) {
		return nil, io.EOF
	}
	a := s.keys[s.i]
	s.i++
	acc := s.alloc[a]
	ga := &history.GenesisAccount{
		AddrHash: crypto.Keccak256Hash(a[:]),
		Account:  history.Account{Nonce: acc.Nonce, Balance: uint256.MustFromBig(acc.Balance), CodeHash: types.EmptyCodeHash},
	}
	if len(acc.Code) > 0 {
		ga.Code = acc.Code
		ga.Account.CodeHash = crypto.Keccak256Hash(acc.Code)
	}
	if len(acc.Storage) > 0 {
		type kv struct{ k, v common.Hash }
		var slots []kv
		for k, v := range acc.Storage {
			slots = append(slots, kv{crypto.Keccak256Hash(k[:]), v})
		}
		slices.SortFunc(slots, func(a, b kv) int { return bytes.Compare(a.k[:], b.k[:]) })
		ga.Storage = func(yield func(k, v common.Hash) error) error {
			for _, s := range slots {
				if err := yield(s.k, s.v); err != nil {
					return err
				}
			}
			return nil
		}
	}
	return ga, nil
}

func TestLoadGenesisMatchesGoEthereum(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	alloc := types.GenesisAlloc{}
	for i := 0; i < 3000; i++ {
		var a common.Address
		for j := range a {
			a[j] = byte(rng.Uint32())
		}
		acc := types.Account{Balance: big.NewInt(rng.Int64N(1e18)), Nonce: rng.Uint64N(5)}
		if i%50 == 0 {
			acc.Code = []byte{byte(i), 0x60, 0x00, 0xf3}
			acc.Storage = map[common.Hash]common.Hash{}
			for k := 0; k < 1+rng.IntN(300); k++ {
				acc.Storage[common.BigToHash(big.NewInt(int64(k)))] = common.BigToHash(big.NewInt(1 + rng.Int64N(1e9)))
			}
		}
		alloc[a] = acc
	}
	g := &core.Genesis{Config: params.AllDevChainProtocolChanges, GasLimit: 30_000_000, Alloc: alloc, BaseFee: big.NewInt(params.InitialBaseFee)}
	want := g.ToBlock()

	s, err := OpenMem(DefaultConfig())
	require.NoError(t, err)
	defer s.Close()
	var last history.BulkProgress
	hdr := want.Header()
	hdr.Root = common.Hash{}
	got, err := s.LoadGenesis(context.Background(), newAllocSource(alloc), hdr, func(p history.BulkProgress) { last = p })
	require.NoError(t, err)
	require.Equal(t, want.Root(), got.Root, "bulk-built root equals go-ethereum's genesis root")
	require.Equal(t, want.Hash(), got.Hash())
	require.Equal(t, uint64(len(alloc)), last.Accounts)
	head, err := s.Head()
	require.NoError(t, err)
	require.Equal(t, want.Hash(), head.Hash)

	// Every account and slot reads back and proves against the root.
	st, err := s.StateAt(0)
	require.NoError(t, err)
	defer st.Close()
	for a, acc := range alloc {
		got, err := st.Account(crypto.Keccak256Hash(a[:]))
		require.NoError(t, err)
		require.Equal(t, acc.Balance.String(), got.Balance.ToBig().String())
		requireProves(t, st, a, acc)
	}
	// Ingest goes on from it.
	changed := newAllocSource(alloc).keys[0]
	u := &history.BlockUpdate{
		Header: &types.Header{ParentHash: want.Hash(), Number: big.NewInt(1), Difficulty: new(big.Int)},
		Accounts: map[common.Hash]*history.AccountChange{
			crypto.Keccak256Hash(changed[:]): {Account: &history.Account{Balance: uint256.NewInt(1), CodeHash: types.EmptyCodeHash}},
		},
	}
	ref := g.Alloc[changed]
	g.Alloc[changed] = types.Account{Balance: big.NewInt(1), Storage: ref.Storage, Code: ref.Code}
	if len(ref.Code) > 0 {
		u.Accounts[crypto.Keccak256Hash(changed[:])].Account.CodeHash = crypto.Keccak256Hash(ref.Code)
	}
	u.Header.Root = g.ToBlock().Root()
	require.NoError(t, s.Ingest(context.Background(), u))
}

// requireProves proves the account and its slots at the state's root, which
// the caller checked equals go-ethereum's.
func requireProves(t *testing.T, st history.State, a common.Address, acc types.Account) {
	t.Helper()
	addrHash := crypto.Keccak256Hash(a[:])
	val := historytest.ProveAndVerify(t, trie.StateTrieID(st.Root()), st.Nodes(), addrHash[:])
	var got types.StateAccount
	require.NoError(t, rlp.DecodeBytes(val, &got))
	require.Equal(t, acc.Balance.String(), got.Balance.ToBig().String())
	require.Equal(t, acc.Nonce, got.Nonce)
	for k, v := range acc.Storage {
		sv := historytest.ProveAndVerify(t, trie.StorageTrieID(st.Root(), addrHash, got.Root), st.Nodes(), crypto.Keccak256(k[:]))
		require.Equal(t, encodeStorageLeaf(v), sv)
		flat, err := st.Storage(addrHash, crypto.Keccak256Hash(k[:]))
		require.NoError(t, err)
		require.Equal(t, v, flat)
	}
}

func TestLoadGenesisRefusesUnsortedInputAndDiscardsInterruptedLoads(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, DefaultConfig(), nil)
	require.NoError(t, err)
	src := &sliceSource{accs: []*history.GenesisAccount{
		{AddrHash: common.HexToHash("0x02"), Account: history.Account{Balance: uint256.NewInt(1), CodeHash: types.EmptyCodeHash}},
		{AddrHash: common.HexToHash("0x01"), Account: history.Account{Balance: uint256.NewInt(1), CodeHash: types.EmptyCodeHash}},
	}}
	_, err = s.LoadGenesis(context.Background(), src, &types.Header{Number: big.NewInt(0), Difficulty: new(big.Int)}, nil)
	require.ErrorContains(t, err, "out of order")
	require.NoError(t, s.Close())

	// Read-only, the interrupted load is refused, naming it; read-write it
	// is discarded: the store opens empty, holds none of the partial load,
	// and loads the genesis again.
	_, err = OpenReadOnly(dir, DefaultConfig(), nil)
	require.ErrorContains(t, err, "interrupted bulk genesis load")
	s, err = Open(dir, DefaultConfig(), nil)
	require.NoError(t, err)
	defer s.Close()
	_, err = s.Head()
	require.ErrorIs(t, err, history.ErrEmpty)
	n := 0
	it, err := s.db.NewIter(nil)
	require.NoError(t, err)
	for it.First(); it.Valid(); it.Next() {
		require.Equal(t, string(metaKey(metaSchema)), string(it.Key()), "only the schema version survives the discard")
		n++
	}
	require.NoError(t, it.Close())
	require.Equal(t, 1, n)
	sorted := &sliceSource{accs: []*history.GenesisAccount{src.accs[1], src.accs[0]}}
	h, err := s.LoadGenesis(context.Background(), sorted, &types.Header{Number: big.NewInt(0), Difficulty: new(big.Int)}, nil)
	require.NoError(t, err)
	head, err := s.Head()
	require.NoError(t, err)
	require.Equal(t, h.Hash(), head.Hash)
}

type sliceSource struct {
	accs []*history.GenesisAccount
	i    int
}

func (s *sliceSource) Next() (*history.GenesisAccount, error) {
	if s.i == len(s.accs) {
		return nil, io.EOF
	}
	s.i++
	return s.accs[s.i-1], nil
}
