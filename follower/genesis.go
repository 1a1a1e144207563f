package follower

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/holiman/uint256"

	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/history/chain"
)

// genesis is a genesis file read for a bulk load: the header fields and the
// chain config as go-ethereum parses them, and the alloc in a compact form
// sorted by address hash. The alloc is streamed from the file account by
// account, so a file of millions of accounts is never held as JSON or as
// go-ethereum's map, only once in this form.
type genesis struct {
	g        *core.Genesis // without alloc
	config   *params.ChainConfig
	accounts []genesisAccount
}

type genesisAccount struct {
	hash    common.Hash
	nonce   uint64
	balance *uint256.Int
	code    []byte
	storage []slot // sorted by key hash
}

type slot struct{ key, value common.Hash } // key is keccak256 of the slot

func readGenesis(path string) (*genesis, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open genesis: %w", err)
	}
	defer f.Close()
	dec := json.NewDecoder(bufio.NewReaderSize(f, 1<<20))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("genesis %s: not a JSON object", path)
	}
	rest := map[string]json.RawMessage{}
	out := &genesis{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("genesis %s: %w", path, err)
		}
		key, _ := tok.(string)
		if key != "alloc" {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, fmt.Errorf("genesis %s: field %s: %w", path, key, err)
			}
			rest[key] = raw
			continue
		}
		if err := out.readAlloc(dec); err != nil {
			return nil, fmt.Errorf("genesis %s: alloc: %w", path, err)
		}
	}
	rest["alloc"] = json.RawMessage("{}")
	head, err := json.Marshal(rest)
	if err != nil {
		return nil, err
	}
	out.g = new(core.Genesis)
	if err := json.Unmarshal(head, out.g); err != nil {
		return nil, fmt.Errorf("genesis %s: %w", path, err)
	}
	if out.g.Config == nil {
		return nil, fmt.Errorf("genesis %s has no chain config", path)
	}
	out.config = out.g.Config
	slices.SortFunc(out.accounts, func(a, b genesisAccount) int { return bytes.Compare(a.hash[:], b.hash[:]) })
	for i := 1; i < len(out.accounts); i++ {
		if out.accounts[i].hash == out.accounts[i-1].hash {
			return nil, fmt.Errorf("genesis %s lists an account twice", path)
		}
	}
	return out, nil
}

// readAlloc streams the alloc object: one account decoded at a time.
func (g *genesis) readAlloc(dec *json.Decoder) error {
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fmt.Errorf("not an object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		var addr common.Address
		if err := addr.UnmarshalText([]byte(withPrefix(tok.(string)))); err != nil {
			return fmt.Errorf("address %q: %w", tok, err)
		}
		var acc types.Account
		if err := dec.Decode(&acc); err != nil {
			return fmt.Errorf("account %s: %w", addr, err)
		}
		ga := genesisAccount{hash: crypto.Keccak256Hash(addr[:]), nonce: acc.Nonce, balance: new(uint256.Int), code: acc.Code}
		if acc.Balance != nil {
			if ga.balance.SetFromBig(acc.Balance) || acc.Balance.Sign() < 0 {
				return fmt.Errorf("account %s: balance out of range", addr)
			}
		}
		for k, v := range acc.Storage {
			if v != (common.Hash{}) {
				ga.storage = append(ga.storage, slot{crypto.Keccak256Hash(k[:]), v})
			}
		}
		slices.SortFunc(ga.storage, func(a, b slot) int { return bytes.Compare(a.key[:], b.key[:]) })
		g.accounts = append(g.accounts, ga)
	}
	_, err := dec.Token() // '}'
	return err
}

func withPrefix(s string) string {
	if len(s) >= 2 && (s[:2] == "0x" || s[:2] == "0X") {
		return s
	}
	return "0x" + s
}

// header is block 0's header without its root, as op-geth makes it. The
// alloc was streamed out of g.g, so what ToBlock derives from it is derived
// here: from Isthmus the withdrawalsRoot is the message passer's storage
// root.
func (g *genesis) header() *types.Header {
	h := g.g.ToBlock().Header() // the alloc is empty: cheap
	h.Root = common.Hash{}
	if g.config.IsOptimismIsthmus(g.g.Timestamp) {
		root := g.storageRoot(crypto.Keccak256Hash(chain.MessagePasser[:]))
		h.WithdrawalsHash = &root
	}
	return h
}

// storageRoot is the storage root of the account with that address hash,
// the zero hash if the alloc has no such account (as op-geth's hashAlloc
// leaves it).
func (g *genesis) storageRoot(addrHash common.Hash) common.Hash {
	i, found := slices.BinarySearchFunc(g.accounts, addrHash, func(a genesisAccount, h common.Hash) int { return bytes.Compare(a.hash[:], h[:]) })
	if !found {
		return common.Hash{}
	}
	st := trie.NewStackTrie(nil)
	for _, s := range g.accounts[i].storage {
		v, _ := rlp.EncodeToBytes(common.TrimLeftZeroes(s.value[:])) // encoding bytes cannot fail
		st.Update(s.key[:], v)
	}
	return st.Hash()
}

// source serves the alloc to history.GenesisLoader.
func (g *genesis) source() history.GenesisSource { return &allocSource{accounts: g.accounts} }

type allocSource struct {
	accounts []genesisAccount
	i        int
}

func (s *allocSource) Next() (*history.GenesisAccount, error) {
	if s.i == len(s.accounts) {
		return nil, io.EOF
	}
	a := s.accounts[s.i]
	s.i++
	out := &history.GenesisAccount{AddrHash: a.hash, Account: history.Account{Nonce: a.nonce, Balance: a.balance, CodeHash: types.EmptyCodeHash}}
	if len(a.code) > 0 {
		out.Code = a.code
		out.Account.CodeHash = crypto.Keccak256Hash(a.code)
	}
	if len(a.storage) > 0 {
		out.Storage = func(yield func(common.Hash, common.Hash) error) error {
			for _, s := range a.storage {
				if err := yield(s.key, s.value); err != nil {
					return err
				}
			}
			return nil
		}
	}
	return out, nil
}
