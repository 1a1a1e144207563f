package history

import (
	"context"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/triedb/database"
)

// Ingester takes blocks in order. Ingest verifies u's state root against its
// header and commits the block atomically; on any error nothing of u is
// written. Errors: *NotNextError, *RootMismatchError, or a storage error.
// Ingest calls must not run concurrently with each other; they may run
// concurrently with reads.
type Ingester interface {
	Ingest(ctx context.Context, u *BlockUpdate) error
}

// BatchIngester commits a run of consecutive blocks in one batch: one
// write and one fsync for the run, so a crash leaves the store at the block
// before the run or at its last block. Every update must carry complete
// precomputed nodes (BlockUpdate.NodesComplete); each block's root is still
// checked against its header before anything commits.
type BatchIngester interface {
	IngestBatch(ctx context.Context, us []*BlockUpdate) error
}

// State is the state of the chain as of one block. Reads see a consistent
// snapshot taken when the State was opened. A State is safe for concurrent
// reads (go-ethereum's trie prefetcher reads it from several goroutines);
// Close it once, when every read is done.
type State interface {
	// Root is the state root of the block.
	Root() common.Hash
	// Account returns the account with that address hash, nil if absent.
	Account(addrHash common.Hash) (*types.StateAccount, error)
	// Storage returns the value of the slot (by keccak256 of the slot key),
	// the zero hash if absent.
	Storage(addrHash, slotHash common.Hash) (common.Hash, error)
	// Code returns the code with that hash, ErrNotFound if unknown.
	Code(codeHash common.Hash) ([]byte, error)
	// Nodes is the trie node source for go-ethereum's trie package: tries
	// opened over it at Root() read this block's nodes. Every node it returns
	// has been checked against the hash the trie asked for.
	Nodes() database.NodeDatabase
	// Close releases the snapshot.
	Close() error
}

// Reader reads blocks and historical state. It is safe for concurrent use.
type Reader interface {
	// Head is the newest block; ErrEmpty on an empty store.
	Head() (Head, error)
	// Oldest is the oldest block whose state is held.
	Oldest() (uint64, error)
	// HeaderByNumber returns the canonical header at n, ErrNotFound if the
	// store does not hold it.
	HeaderByNumber(n uint64) (*types.Header, error)
	// NumberByHash returns the number of the canonical block with that hash,
	// ErrNotFound otherwise.
	NumberByHash(hash common.Hash) (uint64, error)
	// Body returns the transactions of block n (nil if the producer gave
	// none), ErrNotFound if the block is not held.
	Body(n uint64) (types.Transactions, error)
	// Receipts returns the consensus fields of block n's receipts (derived
	// fields unset), ErrNotFound if the block is not held.
	Receipts(n uint64) (types.Receipts, error)
	// TxLookup returns the block number and index of a transaction,
	// ErrNotFound if unknown.
	TxLookup(hash common.Hash) (number uint64, index uint64, err error)
	// Code returns the code with that hash, ErrNotFound if unknown.
	Code(codeHash common.Hash) ([]byte, error)
	// StateAt opens the state as of block n: *PrunedError if n is older than
	// the oldest held block, *FutureError if newer than the head.
	StateAt(n uint64) (State, error)
}
