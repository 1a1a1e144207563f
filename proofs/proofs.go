// Package proofs builds Merkle proofs and output roots from historical
// state, and verifies each one against the block's state root before it is
// handed out: Strata never serves a proof it has not checked.
package proofs

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethdb/memorydb"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/holiman/uint256"

	"github.com/strata-chain/strata/history"
)

// ErrProofVerification means a proof built from the store did not verify
// against the state root or disagreed with the stored values: the store is
// inconsistent, and nothing is served.
var ErrProofVerification = errors.New("proof does not verify against the state root")

// StorageProof is the proof of one storage slot.
type StorageProof struct {
	Key   common.Hash // the slot, as asked
	Value common.Hash // zero when the slot is empty
	Proof [][]byte    // root to leaf; empty when the account has no storage
}

// AccountProof is the proof of an account and of some of its slots, with the
// same content geth's eth_getProof gives: for an account that does not
// exist, CodeHash and StorageHash are the zero hash and every slot has an
// empty proof.
type AccountProof struct {
	Address      common.Address
	Exists       bool
	Nonce        uint64
	Balance      *uint256.Int
	CodeHash     common.Hash
	StorageHash  common.Hash
	AccountProof [][]byte // root to the leaf, or to where the key diverges
	Storage      []StorageProof
}

// proofList collects trie.Prove's nodes in order (root first).
type proofList [][]byte

func (l *proofList) Put(_ []byte, v []byte) error {
	*l = append(*l, common.CopyBytes(v))
	return nil
}
func (l *proofList) Delete([]byte) error { return errors.New("proof list is append-only") }

// Account proves addr and its slots keys (in order) in the state st, and
// verifies every proof against st.Root() and the stored values first.
func Account(st history.State, addr common.Address, keys []common.Hash) (*AccountProof, error) {
	root := st.Root()
	addrHash := crypto.Keccak256Hash(addr[:])
	acc, err := st.Account(addrHash)
	if err != nil {
		return nil, fmt.Errorf("read account %s: %w", addr, err)
	}
	tr, err := trie.New(trie.StateTrieID(root), st.Nodes())
	if err != nil {
		return nil, fmt.Errorf("open state trie %s: %w", root, err)
	}
	res := &AccountProof{Address: addr, Balance: new(uint256.Int), Storage: make([]StorageProof, len(keys))}
	var accProof proofList
	if err := tr.Prove(addrHash[:], &accProof); err != nil {
		return nil, fmt.Errorf("prove account %s: %w", addr, err)
	}
	res.AccountProof = accProof
	if acc != nil {
		res.Exists = true
		res.Nonce, res.Balance = acc.Nonce, acc.Balance.Clone()
		res.CodeHash, res.StorageHash = common.BytesToHash(acc.CodeHash), acc.Root
	}
	if err := verifyAccount(root, addrHash, accProof, acc); err != nil {
		return nil, err
	}
	var storageTrie *trie.Trie
	if acc != nil && acc.Root != types.EmptyRootHash {
		if storageTrie, err = trie.New(trie.StorageTrieID(root, addrHash, acc.Root), st.Nodes()); err != nil {
			return nil, fmt.Errorf("open storage trie of %s: %w", addr, err)
		}
	}
	for i, key := range keys {
		res.Storage[i] = StorageProof{Key: key, Proof: [][]byte{}}
		if storageTrie == nil {
			continue
		}
		slotHash := crypto.Keccak256Hash(key[:])
		v, err := st.Storage(addrHash, slotHash)
		if err != nil {
			return nil, fmt.Errorf("read slot %s of %s: %w", key, addr, err)
		}
		var p proofList
		if err := storageTrie.Prove(slotHash[:], &p); err != nil {
			return nil, fmt.Errorf("prove slot %s of %s: %w", key, addr, err)
		}
		if err := verifySlot(acc.Root, slotHash, p, v); err != nil {
			return nil, fmt.Errorf("slot %s of %s: %w", key, addr, err)
		}
		res.Storage[i].Value, res.Storage[i].Proof = v, p
	}
	return res, nil
}

func proofDB(p [][]byte) *memorydb.Database {
	db := memorydb.New()
	for _, n := range p {
		db.Put(crypto.Keccak256(n), n)
	}
	return db
}

// verifyAccount checks that the proof proves acc (nil: absence) at root.
func verifyAccount(root, addrHash common.Hash, p [][]byte, acc *types.StateAccount) error {
	val, err := trie.VerifyProof(root, addrHash[:], proofDB(p))
	if err != nil {
		return fmt.Errorf("%w: account %s: %v", ErrProofVerification, addrHash, err)
	}
	if acc == nil {
		if val != nil {
			return fmt.Errorf("%w: account %s is absent in the store but the proof holds it", ErrProofVerification, addrHash)
		}
		return nil
	}
	want, err := rlp.EncodeToBytes(acc)
	if err != nil {
		return err
	}
	if !bytes.Equal(val, want) {
		return fmt.Errorf("%w: account %s differs from the proof", ErrProofVerification, addrHash)
	}
	return nil
}

// verifySlot checks that the proof proves v (zero: absence) at storageRoot.
func verifySlot(storageRoot, slotHash common.Hash, p [][]byte, v common.Hash) error {
	val, err := trie.VerifyProof(storageRoot, slotHash[:], proofDB(p))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrProofVerification, err)
	}
	var got common.Hash
	if val != nil {
		var content []byte
		if err := rlp.DecodeBytes(val, &content); err != nil {
			return fmt.Errorf("%w: slot leaf: %v", ErrProofVerification, err)
		}
		got = common.BytesToHash(content)
	}
	if got != v {
		return fmt.Errorf("%w: stored value %s, proof holds %s", ErrProofVerification, v, got)
	}
	return nil
}
