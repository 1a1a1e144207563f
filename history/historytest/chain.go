// Package historytest generates deterministic random chains of
// BlockUpdates for tests, with a naive reference model of the state after
// every block whose roots are computed from scratch by a StackTrie.
package historytest

import (
	"maps"
	"math/big"
	"math/rand/v2"
	"slices"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/holiman/uint256"

	"github.com/strata-chain/strata/history"
)

// Account is the naive reference model's account: plain values, no trie.
type Account struct {
	Nonce    uint64
	Balance  *uint256.Int
	CodeHash common.Hash
	Storage  map[common.Hash]common.Hash
}

// Model is the full state at one block, keyed by address hash.
type Model map[common.Hash]*Account

func (m Model) Clone() Model {
	out := make(Model, len(m))
	for k, a := range m {
		c := *a
		c.Balance = a.Balance.Clone()
		c.Storage = maps.Clone(a.Storage)
		out[k] = &c
	}
	return out
}

// SortedHashes returns the keys of m in increasing order (history.SortedHashes,
// kept here for the tests that call it by this name).
func SortedHashes[V any](m map[common.Hash]V) []common.Hash { return history.SortedHashes(m) }

// StorageRoot computes the root from scratch with a StackTrie, a code path
// independent of the trie.Trie the store uses.
func (a *Account) StorageRoot() common.Hash {
	st := trie.NewStackTrie(nil)
	for _, k := range SortedHashes(a.Storage) {
		val := a.Storage[k]
		v, _ := rlp.EncodeToBytes(common.TrimLeftZeroes(val[:]))
		st.Update(k[:], v)
	}
	return st.Hash()
}

func (a *Account) StateAccount() *types.StateAccount {
	return &types.StateAccount{Nonce: a.Nonce, Balance: a.Balance.Clone(), Root: a.StorageRoot(), CodeHash: a.CodeHash[:]}
}

// Root computes the state root from scratch.
func (m Model) Root() common.Hash {
	st := trie.NewStackTrie(nil)
	for _, k := range SortedHashes(m) {
		blob, _ := rlp.EncodeToBytes(m[k].StateAccount())
		st.Update(k[:], blob)
	}
	return st.Hash()
}

// Chain makes a deterministic random chain of BlockUpdates and keeps the
// model state after every block.
type Chain struct {
	rng     *rand.Rand
	States  []Model         // the state after every block
	Headers []*types.Header // every block's header
	Keys    []common.Hash   // every address hash ever used, present or not
	Slots   []common.Hash   // slot hashes drawn from a small pool so they collide
}

// NewChain returns a generator whose chain depends only on seed.
func NewChain(seed uint64) *Chain {
	g := &Chain{rng: rand.New(rand.NewPCG(seed, seed^0x5eed))}
	for i := range 64 {
		g.Slots = append(g.Slots, crypto.Keccak256Hash([]byte{byte(i)}))
	}
	return g
}

func (g *Chain) newKey() common.Hash {
	var k common.Hash
	for i := range k {
		k[i] = byte(g.rng.UintN(256))
	}
	g.Keys = append(g.Keys, k)
	return k
}

func (g *Chain) randValue() common.Hash {
	if g.rng.IntN(3) == 0 {
		return common.BigToHash(big.NewInt(int64(g.rng.IntN(1000) + 1)))
	}
	var v common.Hash
	for i := range v {
		v[i] = byte(g.rng.UintN(256))
	}
	if v == (common.Hash{}) {
		v[31] = 1
	}
	return v
}

// Next returns the update of the next block and appends the new model state.
func (g *Chain) Next() *history.BlockUpdate {
	var cur Model
	if len(g.States) > 0 {
		cur = g.States[len(g.States)-1].Clone()
	} else {
		cur = Model{}
	}
	u := &history.BlockUpdate{Accounts: map[common.Hash]*history.AccountChange{}, Codes: map[common.Hash][]byte{}}
	ops := 1 + g.rng.IntN(12)
	if len(g.States) == 0 {
		ops = 20
	}
	existing := SortedHashes(cur)
	for range ops {
		var key common.Hash
		switch r := g.rng.IntN(12); {
		case len(existing) > 0 && r >= 4:
			key = existing[g.rng.IntN(len(existing))]
		case r == 0 && len(g.Keys) > 0:
			// Maybe an account that existed and was deleted comes back (an
			// emptied account funded again, a contract redeployed at its
			// CREATE2 address); a present one just changes.
			key = g.Keys[g.rng.IntN(len(g.Keys))]
		default:
			key = g.newKey()
		}
		if _, done := u.Accounts[key]; done {
			continue // one change per account per block keeps the model simple
		}
		acc, exists := cur[key]
		switch op := g.rng.IntN(10); {
		case exists && op == 0: // delete (self-destruct)
			u.Accounts[key] = &history.AccountChange{Deleted: true}
			delete(cur, key)
		case exists && op == 1: // destroyed and re-created with fresh storage
			ch := &history.AccountChange{Wiped: true, Account: &history.Account{Nonce: 1, Balance: uint256.NewInt(7), CodeHash: types.EmptyCodeHash}, Storage: map[common.Hash]common.Hash{}}
			nacc := &Account{Nonce: 1, Balance: uint256.NewInt(7), CodeHash: types.EmptyCodeHash, Storage: map[common.Hash]common.Hash{}}
			for range g.rng.IntN(4) {
				s, v := g.Slots[g.rng.IntN(len(g.Slots))], g.randValue()
				ch.Storage[s], nacc.Storage[s] = v, v
			}
			u.Accounts[key] = ch
			cur[key] = nacc
		default:
			if !exists {
				acc = &Account{Balance: new(uint256.Int), CodeHash: types.EmptyCodeHash, Storage: map[common.Hash]common.Hash{}}
				cur[key] = acc
			}
			ch := &history.AccountChange{}
			if !exists || g.rng.IntN(2) == 0 {
				acc.Nonce += uint64(g.rng.IntN(3))
				acc.Balance = uint256.NewInt(g.rng.Uint64N(1 << 60))
				if g.rng.IntN(8) == 0 {
					code := make([]byte, 1+g.rng.IntN(100))
					for i := range code {
						code[i] = byte(g.rng.UintN(256))
					}
					acc.CodeHash = crypto.Keccak256Hash(code)
					u.Codes[acc.CodeHash] = code
				}
				ch.Account = &history.Account{Nonce: acc.Nonce, Balance: acc.Balance.Clone(), CodeHash: acc.CodeHash}
			}
			if g.rng.IntN(2) == 0 {
				ch.Storage = map[common.Hash]common.Hash{}
				for range 1 + g.rng.IntN(6) {
					s := g.Slots[g.rng.IntN(len(g.Slots))]
					if g.rng.IntN(3) == 0 {
						ch.Storage[s] = common.Hash{} // clear (maybe of an absent slot)
						delete(acc.Storage, s)
					} else {
						v := g.randValue()
						ch.Storage[s] = v
						acc.Storage[s] = v
					}
				}
			}
			u.Accounts[key] = ch
		}
	}
	n := uint64(len(g.States))
	hdr := &types.Header{Number: new(big.Int).SetUint64(n), Root: cur.Root(), Difficulty: new(big.Int), Time: n}
	if n > 0 {
		hdr.ParentHash = g.Headers[n-1].Hash()
	}
	u.Header = hdr
	g.States = append(g.States, cur)
	g.Headers = append(g.Headers, hdr)
	return u
}

// Fork returns a generator that shares g's chain up to block n and then
// draws a different future.
func (g *Chain) Fork(n uint64, seed uint64) *Chain {
	return &Chain{
		rng:     rand.New(rand.NewPCG(seed, seed+1)),
		States:  slices.Clone(g.States[:n+1]),
		Headers: slices.Clone(g.Headers[:n+1]),
		Keys:    slices.Clone(g.Keys),
		Slots:   g.Slots,
	}
}
