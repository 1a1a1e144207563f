package proofs

import (
	"context"
	"flag"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/holiman/uint256"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/history/statedb"
	"github.com/strata-chain/strata/history/store"
)

var seed = flag.Uint64("proofs.seed", 1, "seed of the randomized proof test")

// refChain is a chain whose state roots go-ethereum computes on its own
// in-memory trie database; the same changes go into a Strata store.
type refChain struct {
	db     state.Database
	roots  []common.Hash
	s      *store.Store
	parent *types.Header
	addrs  []common.Address
}

func newRefChain(t *testing.T) *refChain {
	s, err := store.OpenMem(store.DefaultConfig())
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return &refChain{db: state.NewDatabaseForTesting(), roots: []common.Hash{types.EmptyRootHash}, s: s}
}

// block applies change to the reference state, commits it and ingests the
// same update into the store.
func (c *refChain) block(t *testing.T, change func(sdb *state.StateDB)) {
	t.Helper()
	n := uint64(len(c.roots) - 1)
	if c.parent != nil {
		n++
	}
	sdb, err := state.New(c.roots[len(c.roots)-1], c.db)
	require.NoError(t, err)
	change(sdb)
	root, su, err := sdb.CommitWithUpdate(n, true, true)
	require.NoError(t, err)
	h := &types.Header{Number: new(big.Int).SetUint64(n), Root: root, Difficulty: new(big.Int)}
	if c.parent != nil {
		h.ParentHash = c.parent.Hash()
	}
	mp := sdb.GetStorageRoot(MessagePasserAddress)
	if mp == (common.Hash{}) {
		mp = types.EmptyRootHash
	}
	h.WithdrawalsHash = &mp
	u, err := statedb.ToBlockUpdate(h, su)
	require.NoError(t, err)
	require.NoError(t, c.s.Ingest(context.Background(), u))
	if c.parent == nil {
		c.roots = c.roots[:0]
	}
	c.roots = append(c.roots, root)
	c.parent = h
}

func TestAccountProofsAgainstGoEthereum(t *testing.T) {
	t.Logf("seed %d (set with -proofs.seed)", *seed)
	rng := rand.New(rand.NewPCG(*seed, 3))
	c := newRefChain(t)
	var addrs []common.Address
	slots := []common.Hash{}
	for i := 0; i < 16; i++ {
		slots = append(slots, common.BigToHash(big.NewInt(int64(i))))
	}
	const blocks = 60
	for b := 0; b < blocks; b++ {
		c.block(t, func(sdb *state.StateDB) {
			for i := 0; i < 1+rng.IntN(8); i++ {
				var a common.Address
				if len(addrs) > 0 && rng.IntN(3) > 0 {
					a = addrs[rng.IntN(len(addrs))]
				} else {
					a = common.BigToAddress(big.NewInt(rng.Int64N(1 << 40)))
					if b == 0 && i == 0 {
						a = MessagePasserAddress
					}
					addrs = append(addrs, a)
				}
				switch rng.IntN(6) {
				case 0: // drain: an empty account is deleted (EIP-158)
					sdb.SetBalance(a, new(uint256.Int), tracing.BalanceChangeUnspecified)
					if sdb.GetNonce(a) == 0 && len(sdb.GetCode(a)) == 0 && sdb.GetStorageRoot(a) == types.EmptyRootHash {
						continue
					}
					sdb.AddBalance(a, uint256.NewInt(1), tracing.BalanceChangeUnspecified)
				case 1:
					sdb.SetCode(a, []byte{0x60, byte(rng.IntN(256)), 0x00}, tracing.CodeChangeUnspecified)
				default:
					sdb.AddBalance(a, uint256.NewInt(1+rng.Uint64N(1e18)), tracing.BalanceChangeUnspecified)
					sdb.SetNonce(a, sdb.GetNonce(a)+1, tracing.NonceChangeUnspecified)
					for k := rng.IntN(5); k > 0; k-- {
						v := common.Hash{}
						if rng.IntN(4) > 0 {
							v = common.BigToHash(big.NewInt(1 + rng.Int64N(1e9)))
						}
						sdb.SetState(a, slots[rng.IntN(len(slots))], v)
					}
				}
			}
		})
	}
	absent := common.HexToAddress("0xdeadbeef00000000000000000000000000000001")
	checked := 0
	for n := uint64(0); n < blocks; n++ {
		st, err := c.s.StateAt(n)
		require.NoError(t, err)
		require.Equal(t, c.roots[n], st.Root())
		ref, err := state.New(c.roots[n], c.db)
		require.NoError(t, err)
		for _, a := range append([]common.Address{absent}, addrs...) {
			keys := []common.Hash{slots[rng.IntN(len(slots))], slots[rng.IntN(len(slots))], common.HexToHash("0xffff")}
			p, err := Account(st, a, keys)
			require.NoError(t, err)
			requireMatchesReference(t, c.roots[n], ref, a, keys, p)
			checked++
		}
		st.Close()
	}
	require.Greater(t, checked, blocks*10)
}

// requireMatchesReference verifies p against the independently computed
// root and compares every value with go-ethereum's own state.
func requireMatchesReference(t *testing.T, root common.Hash, ref *state.StateDB, a common.Address, keys []common.Hash, p *AccountProof) {
	t.Helper()
	val, err := trie.VerifyProof(root, crypto.Keccak256(a[:]), proofDB(p.AccountProof))
	require.NoError(t, err)
	require.Equal(t, ref.Exist(a), p.Exists, "%s exists", a)
	if !p.Exists {
		require.Nil(t, val)
		require.Equal(t, common.Hash{}, p.CodeHash, "absent account: zero code hash as geth")
		require.Equal(t, common.Hash{}, p.StorageHash, "absent account: zero storage hash as geth")
		for _, s := range p.Storage {
			require.Empty(t, s.Proof)
			require.Equal(t, common.Hash{}, s.Value)
		}
		return
	}
	var acc types.StateAccount
	require.NoError(t, rlp.DecodeBytes(val, &acc))
	require.Equal(t, ref.GetNonce(a), p.Nonce)
	require.Equal(t, ref.GetBalance(a), p.Balance)
	require.Equal(t, ref.GetCodeHash(a), p.CodeHash)
	require.Equal(t, ref.GetStorageRoot(a), p.StorageHash)
	require.Equal(t, acc.Root, p.StorageHash)
	for i, s := range p.Storage {
		require.Equal(t, keys[i], s.Key, "request order")
		require.Equal(t, ref.GetState(a, keys[i]), s.Value)
		if p.StorageHash == types.EmptyRootHash {
			require.Empty(t, s.Proof, "no storage: empty proofs as geth")
			continue
		}
		sv, err := trie.VerifyProof(p.StorageHash, crypto.Keccak256(keys[i][:]), proofDB(s.Proof))
		require.NoError(t, err)
		if s.Value == (common.Hash{}) {
			require.Nil(t, sv)
		} else {
			var content []byte
			require.NoError(t, rlp.DecodeBytes(sv, &content))
			require.Equal(t, s.Value, common.BytesToHash(content))
		}
	}
}

func TestOutputRoot(t *testing.T) {
	c := newRefChain(t)
	for b := 0; b < 3; b++ {
		c.block(t, func(sdb *state.StateDB) {
			sdb.SetNonce(MessagePasserAddress, 1, tracing.NonceChangeUnspecified)
			sdb.SetState(MessagePasserAddress, common.BigToHash(big.NewInt(int64(b))), common.HexToHash("0x01"))
		})
	}
	for n := uint64(0); n < 3; n++ {
		out, err := OutputAt(c.s, n)
		require.NoError(t, err)
		h, err := c.s.HeaderByNumber(n)
		require.NoError(t, err)
		ref, err := state.New(c.roots[n], c.db)
		require.NoError(t, err)
		mp := ref.GetStorageRoot(MessagePasserAddress)
		require.Equal(t, mp, out.WithdrawalStorageRoot)
		var buf []byte
		buf = append(buf, make([]byte, 32)...)
		buf = append(buf, h.Root[:]...)
		buf = append(buf, mp[:]...)
		hash := h.Hash()
		buf = append(buf, hash[:]...)
		require.Equal(t, crypto.Keccak256Hash(buf), out.OutputRoot, "keccak256(0 ‖ stateRoot ‖ messagePasserStorageRoot ‖ blockHash)")
		require.Equal(t, common.Hash{}, out.Version)
	}
}

func TestOutputRefusesWithdrawalsRootMismatch(t *testing.T) {
	c := newRefChain(t)
	c.block(t, func(sdb *state.StateDB) {
		sdb.SetNonce(MessagePasserAddress, 1, tracing.NonceChangeUnspecified)
		sdb.SetState(MessagePasserAddress, common.HexToHash("0x01"), common.HexToHash("0x01"))
	})
	// Block 1 claims a withdrawals root that is not the message passer's.
	wrong := common.HexToHash("0x1234")
	sdb, err := state.New(c.roots[0], c.db)
	require.NoError(t, err)
	sdb.AddBalance(common.HexToAddress("0x99"), uint256.NewInt(1), tracing.BalanceChangeUnspecified)
	root, su, err := sdb.CommitWithUpdate(1, true, true)
	require.NoError(t, err)
	h := &types.Header{Number: big.NewInt(1), ParentHash: c.parent.Hash(), Root: root, Difficulty: new(big.Int), WithdrawalsHash: &wrong}
	u, err := statedb.ToBlockUpdate(h, su)
	require.NoError(t, err)
	require.NoError(t, c.s.Ingest(context.Background(), u))
	_, err = OutputAt(c.s, 1)
	require.ErrorContains(t, err, "differs from the message passer's storage root")
}

// lyingState returns a wrong balance or slot value from its flat reads, as a
// corrupt store would; the trie nodes stay right.
type lyingState struct {
	history.State
	slot bool
}

func (l lyingState) Account(h common.Hash) (*types.StateAccount, error) {
	acc, err := l.State.Account(h)
	if acc != nil && !l.slot {
		acc.Balance = new(uint256.Int).AddUint64(acc.Balance, 1)
	}
	return acc, err
}

func (l lyingState) Storage(a, s common.Hash) (common.Hash, error) {
	v, err := l.State.Storage(a, s)
	if l.slot {
		v[31] ^= 1
	}
	return v, err
}

func TestCorruptStateIsNeverServed(t *testing.T) {
	c := newRefChain(t)
	a := common.HexToAddress("0xaa")
	c.block(t, func(sdb *state.StateDB) {
		sdb.AddBalance(a, uint256.NewInt(5), tracing.BalanceChangeUnspecified)
		sdb.SetState(a, common.HexToHash("0x01"), common.HexToHash("0x02"))
	})
	for _, slot := range []bool{false, true} {
		st, err := c.s.StateAt(0)
		require.NoError(t, err)
		_, err = Account(lyingState{st, slot}, a, []common.Hash{common.HexToHash("0x01")})
		require.ErrorIs(t, err, ErrProofVerification)
		st.Close()
	}
}
