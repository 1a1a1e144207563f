package history

import (
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
)

var (
	// ErrNotFound is returned for a block, transaction or code the store
	// does not hold.
	ErrNotFound = errors.New("not found")
	// ErrEmpty is returned by reads on a store that holds no block yet.
	ErrEmpty = errors.New("store holds no block")
	// ErrClosed is returned by any call after Close.
	ErrClosed = errors.New("store closed")
)

// RootMismatchError is a critical ingest error (ClassOf: ClassCritical): the
// state root computed from a block's update differs from the root in its
// header. Nothing of the block was written.
type RootMismatchError struct {
	Number   uint64
	Hash     common.Hash
	Want     common.Hash // the header's root
	Computed common.Hash
}

func (e *RootMismatchError) Error() string {
	return fmt.Sprintf("state root mismatch at block %d (%s): header has %s, computed %s", e.Number, e.Hash, e.Want, e.Computed)
}

// NotNextError is returned when a block does not extend the stored head:
// either its number is not head+1 or its parent hash is not the head's hash
// (a reorg the producer has to resolve by unwinding first; ClassOf:
// ClassReorg).
type NotNextError struct {
	Head       Head
	Number     uint64
	ParentHash common.Hash
}

func (e *NotNextError) Error() string {
	return fmt.Sprintf("block %d (parent %s) does not extend head %d (%s)", e.Number, e.ParentHash, e.Head.Number, e.Head.Hash)
}

// PrunedError is returned for a block older than the oldest one the store
// holds state for.
type PrunedError struct {
	Number uint64
	Oldest uint64
}

func (e *PrunedError) Error() string {
	return fmt.Sprintf("state at block %d is not available: oldest available block is %d", e.Number, e.Oldest)
}

// FutureError is returned for a block newer than the stored head.
type FutureError struct {
	Number uint64
	Head   uint64
}

func (e *FutureError) Error() string {
	return fmt.Sprintf("block %d is newer than the head %d", e.Number, e.Head)
}
