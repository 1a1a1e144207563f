package sequencer

import (
	"bytes"
	"io"
	"math/big"
	"slices"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/holiman/uint256"

	"github.com/strata-chain/strata/history"
)

// fillerBalance is each filler account's balance: 1 ether.
var fillerBalance = uint256.NewInt(1e18)

// holderTokens is each filler holder's token balance.
var holderTokens = common.BigToHash(big.NewInt(1e18))

// FillerAddress is the i-th filler account of the initial state.
func FillerAddress(i int) common.Address {
	return common.BytesToAddress(crypto.Keccak256([]byte("strata filler account"), big.NewInt(int64(i)).Bytes())[12:])
}

// holders is how many filler accounts hold tokens.
func (s InitialState) holders() int { return min(s.Accounts, s.Slots/2) }

// storageSlots is how many filler slots the storage contract holds.
func (s InitialState) storageSlots() int { return s.Slots - s.holders() }

// initialSlotHash is the hashed key of the storage contract's i-th filler slot.
func initialSlotHash(i int) common.Hash {
	key := crypto.Keccak256Hash([]byte("strata initial slot"), big.NewInt(int64(i)).Bytes())
	return crypto.Keccak256Hash(key[:])
}

func sortHashes(h []common.Hash) {
	slices.SortFunc(h, func(a, b common.Hash) int { return bytes.Compare(a[:], b[:]) })
}

// genesisSource streams g's alloc merged with the initial state's filler in
// address-hash order, for history.GenesisLoader. Memory is one hash per
// filler account and per filler slot of the largest contract.
type genesisSource struct {
	initial InitialState
	base    []baseAccount
	fillers []common.Hash // hashed filler addresses, sorted
	bi, fi  int
}

type baseAccount struct {
	hash common.Hash
	addr common.Address
	acc  types.Account
}

func newGenesisSource(g *core.Genesis, initial InitialState) *genesisSource {
	src := &genesisSource{initial: initial}
	for a, acc := range g.Alloc {
		src.base = append(src.base, baseAccount{crypto.Keccak256Hash(a[:]), a, acc})
	}
	slices.SortFunc(src.base, func(a, b baseAccount) int { return bytes.Compare(a.hash[:], b.hash[:]) })
	src.fillers = make([]common.Hash, 0, initial.Accounts)
	for i := 0; i < initial.Accounts; i++ {
		a := FillerAddress(i)
		h := crypto.Keccak256Hash(a[:])
		if _, clash := g.Alloc[a]; !clash {
			src.fillers = append(src.fillers, h)
		}
	}
	sortHashes(src.fillers)
	return src
}

func (s *genesisSource) Next() (*history.GenesisAccount, error) {
	useBase := s.bi < len(s.base) && (s.fi == len(s.fillers) || bytes.Compare(s.base[s.bi].hash[:], s.fillers[s.fi][:]) < 0)
	if !useBase {
		if s.fi == len(s.fillers) {
			return nil, io.EOF
		}
		s.fi++
		return &history.GenesisAccount{AddrHash: s.fillers[s.fi-1], Account: history.Account{Balance: fillerBalance.Clone(), CodeHash: types.EmptyCodeHash}}, nil
	}
	b := s.base[s.bi]
	s.bi++
	ga := &history.GenesisAccount{
		AddrHash: b.hash,
		Account:  history.Account{Nonce: b.acc.Nonce, Balance: uint256.MustFromBig(b.acc.Balance), CodeHash: types.EmptyCodeHash},
	}
	if len(b.acc.Code) > 0 {
		ga.Code = b.acc.Code
		ga.Account.CodeHash = crypto.Keccak256Hash(b.acc.Code)
	}
	var extra func() ([]common.Hash, common.Hash)
	switch b.addr {
	case TokenAddress:
		if n := s.initial.holders(); n > 0 {
			extra = func() ([]common.Hash, common.Hash) {
				hs := make([]common.Hash, n)
				for i := range hs {
					slot := TokenBalanceSlot(FillerAddress(i))
					hs[i] = crypto.Keccak256Hash(slot[:])
				}
				return hs, holderTokens
			}
		}
	case StorageContractAddress:
		if n := s.initial.storageSlots(); n > 0 {
			extra = func() ([]common.Hash, common.Hash) {
				hs := make([]common.Hash, n)
				for i := range hs {
					hs[i] = initialSlotHash(i)
				}
				return hs, common.BigToHash(big.NewInt(1))
			}
		}
	}
	if len(b.acc.Storage) > 0 || extra != nil {
		ga.Storage = mergedStorage(b.acc.Storage, extra)
	}
	return ga, nil
}

// mergedStorage yields the alloc's slots merged with extra filler slots, all
// by slot hash; an alloc slot wins over a filler slot with the same hash.
func mergedStorage(alloc map[common.Hash]common.Hash, extra func() ([]common.Hash, common.Hash)) func(func(common.Hash, common.Hash) error) error {
	return func(yield func(common.Hash, common.Hash) error) error {
		type kv struct{ k, v common.Hash }
		base := make([]kv, 0, len(alloc))
		for k, v := range alloc {
			if v != (common.Hash{}) {
				base = append(base, kv{crypto.Keccak256Hash(k[:]), v})
			}
		}
		slices.SortFunc(base, func(a, b kv) int { return bytes.Compare(a.k[:], b.k[:]) })
		var fill []common.Hash
		var fillValue common.Hash
		if extra != nil {
			fill, fillValue = extra()
			sortHashes(fill)
		}
		i, j := 0, 0
		for i < len(base) || j < len(fill) {
			switch {
			case j == len(fill) || (i < len(base) && bytes.Compare(base[i].k[:], fill[j][:]) < 0):
				if err := yield(base[i].k, base[i].v); err != nil {
					return err
				}
				i++
			case i < len(base) && base[i].k == fill[j]:
				j++ // the alloc's value wins
			default:
				if err := yield(fill[j], fillValue); err != nil {
					return err
				}
				j++
			}
		}
		return nil
	}
}
