package history

import (
	"context"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// GenesisAccount is one account of a bulk-loaded genesis state.
type GenesisAccount struct {
	AddrHash common.Hash
	Account  Account
	Code     []byte // nil unless Account.CodeHash names code
	// Storage yields the account's slots in increasing slot-hash order; nil
	// for none. Zero values are not allowed.
	Storage func(yield func(slotHash, value common.Hash) error) error
}

// GenesisSource yields genesis accounts in increasing address-hash order and
// io.EOF after the last one. Sorted input lets the store build the tries
// bottom-up without holding the state in memory.
type GenesisSource interface {
	Next() (*GenesisAccount, error)
}

// BulkProgress reports a bulk load's progress.
type BulkProgress struct {
	Accounts, Slots, Nodes uint64
	Bytes                  uint64
}

// GenesisLoader writes a (large) genesis state into an empty store as
// block 0. header is block 0 without its root; the loader computes the root
// from the source, seals the header and returns it.
type GenesisLoader interface {
	LoadGenesis(ctx context.Context, src GenesisSource, header *types.Header, progress func(BulkProgress)) (*types.Header, error)
}
