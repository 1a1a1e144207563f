package bench

import (
	"context"

	"github.com/ethereum/go-ethereum/core/types"

	"github.com/strata-chain/strata/history"
)

// RecordedChain is a stopped node's chain that `strata bench tiers`
// re-ingests: its headers, its genesis state and each block's update.
type RecordedChain interface {
	Head(ctx context.Context) (*types.Header, error)
	Header(ctx context.Context, n uint64) (*types.Header, error)
	// Genesis yields block 0's state; release it when done.
	Genesis(ctx context.Context) (src history.GenesisSource, release func(), err error)
	UpdateAt(n uint64) (*history.BlockUpdate, error)
}

// TierStatus is what one retention tier of a store holds.
type TierStatus struct {
	Name     string // recent, window, pinned
	Earliest uint64 // first block the tier serves
	Latest   uint64 // last block the tier serves
	Bytes    uint64 // logical (uncompressed) bytes of the tier's blocks
	Empty    bool   // the tier holds no block yet
}

// TierStore is a fresh store the tiers bench re-ingests into and migrates
// (history.Migrator) down the tiers of the retention it was opened with.
type TierStore interface {
	history.Reader
	history.Ingester
	history.GenesisLoader
	history.Migrator
	Tiers() []TierStatus
	// Compact compacts the whole store; LiveTableBytes is then the size of
	// its live tables.
	Compact() error
	LiveTableBytes() uint64
	Close() error
}
