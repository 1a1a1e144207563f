package store

import (
	"bytes"
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

// modelAccount is the naive reference model's account: plain values, no trie.
type modelAccount struct {
	nonce    uint64
	balance  *uint256.Int
	codeHash common.Hash
	storage  map[common.Hash]common.Hash
}

// model is the full state at one block, keyed by address hash.
type model map[common.Hash]*modelAccount

func (m model) clone() model {
	out := make(model, len(m))
	for k, a := range m {
		c := *a
		c.balance = a.balance.Clone()
		c.storage = maps.Clone(a.storage)
		out[k] = &c
	}
	return out
}

func sortedHashes[V any](m map[common.Hash]V) []common.Hash {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b common.Hash) int { return bytes.Compare(a[:], b[:]) })
	return keys
}

// storageRoot computes the root from scratch with a StackTrie, a code path
// independent of the trie.Trie the store uses.
func (a *modelAccount) storageRoot() common.Hash {
	st := trie.NewStackTrie(nil)
	for _, k := range sortedHashes(a.storage) {
		val := a.storage[k]
		v, _ := rlp.EncodeToBytes(common.TrimLeftZeroes(val[:]))
		st.Update(k[:], v)
	}
	return st.Hash()
}

func (a *modelAccount) stateAccount() *types.StateAccount {
	return &types.StateAccount{Nonce: a.nonce, Balance: a.balance.Clone(), Root: a.storageRoot(), CodeHash: a.codeHash[:]}
}

// root computes the state root from scratch.
func (m model) root() common.Hash {
	st := trie.NewStackTrie(nil)
	for _, k := range sortedHashes(m) {
		blob, _ := rlp.EncodeToBytes(m[k].stateAccount())
		st.Update(k[:], blob)
	}
	return st.Hash()
}

// chainGen makes a deterministic random chain of BlockUpdates and keeps the
// model state after every block.
type chainGen struct {
	rng     *rand.Rand
	states  []model
	headers []*types.Header
	keys    []common.Hash // every address hash ever used, present or not
	slots   []common.Hash // slot hashes drawn from a small pool so they collide
}

func newChainGen(seed uint64) *chainGen {
	g := &chainGen{rng: rand.New(rand.NewPCG(seed, seed^0x5eed))}
	for i := range 64 {
		g.slots = append(g.slots, crypto.Keccak256Hash([]byte{byte(i)}))
	}
	return g
}

func (g *chainGen) newKey() common.Hash {
	var k common.Hash
	for i := range k {
		k[i] = byte(g.rng.UintN(256))
	}
	g.keys = append(g.keys, k)
	return k
}

func (g *chainGen) randValue() common.Hash {
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

// next returns the update of the next block and appends the new model state.
func (g *chainGen) next() *history.BlockUpdate {
	var cur model
	if len(g.states) > 0 {
		cur = g.states[len(g.states)-1].clone()
	} else {
		cur = model{}
	}
	u := &history.BlockUpdate{Accounts: map[common.Hash]*history.AccountChange{}, Codes: map[common.Hash][]byte{}}
	ops := 1 + g.rng.IntN(12)
	if len(g.states) == 0 {
		ops = 20
	}
	existing := sortedHashes(cur)
	for range ops {
		var key common.Hash
		if len(existing) > 0 && g.rng.IntN(3) > 0 {
			key = existing[g.rng.IntN(len(existing))]
		} else {
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
			nacc := &modelAccount{nonce: 1, balance: uint256.NewInt(7), codeHash: types.EmptyCodeHash, storage: map[common.Hash]common.Hash{}}
			for range g.rng.IntN(4) {
				s, v := g.slots[g.rng.IntN(len(g.slots))], g.randValue()
				ch.Storage[s], nacc.storage[s] = v, v
			}
			u.Accounts[key] = ch
			cur[key] = nacc
		default:
			if !exists {
				acc = &modelAccount{balance: new(uint256.Int), codeHash: types.EmptyCodeHash, storage: map[common.Hash]common.Hash{}}
				cur[key] = acc
			}
			ch := &history.AccountChange{}
			if !exists || g.rng.IntN(2) == 0 {
				acc.nonce += uint64(g.rng.IntN(3))
				acc.balance = uint256.NewInt(g.rng.Uint64N(1 << 60))
				if g.rng.IntN(8) == 0 {
					code := make([]byte, 1+g.rng.IntN(100))
					for i := range code {
						code[i] = byte(g.rng.UintN(256))
					}
					acc.codeHash = crypto.Keccak256Hash(code)
					u.Codes[acc.codeHash] = code
				}
				ch.Account = &history.Account{Nonce: acc.nonce, Balance: acc.balance.Clone(), CodeHash: acc.codeHash}
			}
			if g.rng.IntN(2) == 0 {
				ch.Storage = map[common.Hash]common.Hash{}
				for range 1 + g.rng.IntN(6) {
					s := g.slots[g.rng.IntN(len(g.slots))]
					if g.rng.IntN(3) == 0 {
						ch.Storage[s] = common.Hash{} // clear (maybe of an absent slot)
						delete(acc.storage, s)
					} else {
						v := g.randValue()
						ch.Storage[s] = v
						acc.storage[s] = v
					}
				}
			}
			u.Accounts[key] = ch
		}
	}
	n := uint64(len(g.states))
	hdr := &types.Header{Number: new(big.Int).SetUint64(n), Root: cur.root(), Difficulty: new(big.Int), Time: n}
	if n > 0 {
		hdr.ParentHash = g.headers[n-1].Hash()
	}
	u.Header = hdr
	g.states = append(g.states, cur)
	g.headers = append(g.headers, hdr)
	return u
}
