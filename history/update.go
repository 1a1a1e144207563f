package history

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/trie/trienode"
	"github.com/holiman/uint256"
)

// Account is the part of an account a block sets directly. The storage root
// is not part of it: ingest computes it from the storage changes.
type Account struct {
	Nonce    uint64
	Balance  *uint256.Int // never nil
	CodeHash common.Hash  // types.EmptyCodeHash for an account without code
}

// AccountChange is what one block did to one account.
//
// Deleted means the account does not exist after the block; its storage is
// wiped and Account and Storage are ignored. Otherwise Account, if non-nil,
// replaces nonce, balance and code hash (nil keeps them, or creates a zero
// account if there was none), Wiped drops all storage the account had before
// the block (an account destroyed and re-created within the block), and
// Storage then applies.
type AccountChange struct {
	Deleted bool
	Wiped   bool
	Account *Account
	// Storage maps keccak256(slot) to the slot's new value; the zero hash
	// clears the slot.
	Storage map[common.Hash]common.Hash
	// StorageRoot is the account's storage root after the block. Producers
	// that set BlockUpdate.Nodes set it for every non-deleted account.
	StorageRoot *common.Hash
}

// BlockUpdate is one block and the state change it makes: the unit of ingest.
// Producers fill it; history verifies and stores it.
type BlockUpdate struct {
	// Header is the sealed header. Header.Root is the post-state root that
	// ingest must reproduce.
	Header *types.Header
	// Transactions and Receipts are the block body and its receipts. Either
	// may be nil when the producer does not have them (a state-only source);
	// when both are set they have the same length.
	Transactions types.Transactions
	Receipts     types.Receipts
	// Accounts maps keccak256(address) to the change of that account.
	Accounts map[common.Hash]*AccountChange
	// Codes holds every contract code the block introduces, by code hash.
	Codes map[common.Hash][]byte
	// Nodes, when set, are the changed trie nodes as go-ethereum's trie
	// computed them while the producer committed the block (StateDB.
	// CommitWithUpdate in this process). Ingest then writes them instead of
	// hashing the tries again, after checking that the account trie root
	// among them hashes to Header.Root. Updates that crossed a process
	// boundary leave it nil and are re-hashed.
	Nodes *trienode.MergedNodeSet
	// NodesComplete, with Nodes set, says the update also lists everything
	// the block removes: a deletion in Nodes for every trie node, and a zero
	// value in Storage for every slot, of the storage a deleted or wiped
	// account had; a deleted account is listed only if it existed. Ingest
	// can then write the update without reading the parent state, so many
	// such blocks commit in one batch (catch-up replay produces them).
	NodesComplete bool
}

// Check refuses an update no head can take: one without a header (the
// error starts with what), or whose transactions and receipts do not pair
// up. Every store runs it before anything else.
func (u *BlockUpdate) Check(what string) error {
	if u == nil || u.Header == nil || u.Header.Number == nil {
		return fmt.Errorf("%s: update without header", what)
	}
	if u.Transactions != nil && u.Receipts != nil && len(u.Transactions) != len(u.Receipts) {
		return fmt.Errorf("ingest block %d: %d transactions but %d receipts", u.Number(), len(u.Transactions), len(u.Receipts))
	}
	return nil
}

// Number is the block number of the update.
func (u *BlockUpdate) Number() uint64 { return u.Header.Number.Uint64() }

// Head identifies the newest block a store holds.
type Head struct {
	Number uint64
	Hash   common.Hash
	Root   common.Hash
}

// SortedHashes returns the keys of a map keyed by hash (a BlockUpdate's
// accounts, an account's storage, a node set's owners) in increasing order.
// Whoever writes or replays an update walks its maps in this order, so what
// it writes does not depend on map iteration.
func SortedHashes[V any](m map[common.Hash]V) []common.Hash {
	keys := make([]common.Hash, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b common.Hash) int { return bytes.Compare(a[:], b[:]) })
	return keys
}
