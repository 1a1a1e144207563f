package proofs

import (
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/strata-chain/strata/history"
)

// MessagePasserAddress is the OP Stack's L2ToL1MessagePasser predeploy.
var MessagePasserAddress = common.HexToAddress("0x4200000000000000000000000000000000000016")

// OutputVersionV0 is the only output root version.
var OutputVersionV0 = common.Hash{}

// OutputRootV0 is keccak256(version ‖ stateRoot ‖ messagePasserStorageRoot ‖ blockHash)
// with version zero, as the OP Stack defines it.
func OutputRootV0(stateRoot, messagePasserStorageRoot, blockHash common.Hash) common.Hash {
	return crypto.Keccak256Hash(OutputVersionV0[:], stateRoot[:], messagePasserStorageRoot[:], blockHash[:])
}

// Chain is what Output reads.
type Chain interface {
	HeaderByNumber(n uint64) (*types.Header, error)
	StateAt(n uint64) (history.State, error)
}

// Output is the output of one L2 block.
type Output struct {
	Version               common.Hash
	OutputRoot            common.Hash
	StateRoot             common.Hash
	WithdrawalStorageRoot common.Hash
	Header                *types.Header
}

// OutputAt computes block n's output root. The message passer's storage
// root comes from the state (proven against the state root); when the header
// carries it too (Isthmus withdrawalsRoot) the two must agree, or no output
// is given.
func OutputAt(c Chain, n uint64) (*Output, error) {
	h, err := c.HeaderByNumber(n)
	if err != nil {
		return nil, err
	}
	st, err := c.StateAt(n)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if st.Root() != h.Root {
		return nil, fmt.Errorf("state of block %d has root %s, header has %s", n, st.Root(), h.Root)
	}
	p, err := Account(st, MessagePasserAddress, nil)
	if err != nil {
		return nil, fmt.Errorf("message passer at block %d: %w", n, err)
	}
	storageRoot := types.EmptyRootHash
	if p.Exists {
		storageRoot = p.StorageHash
	}
	if h.WithdrawalsHash != nil && *h.WithdrawalsHash != storageRoot && *h.WithdrawalsHash != types.EmptyWithdrawalsHash {
		return nil, fmt.Errorf("block %d: header withdrawalsRoot %s differs from the message passer's storage root %s", n, *h.WithdrawalsHash, storageRoot)
	}
	return &Output{
		Version:               OutputVersionV0,
		OutputRoot:            OutputRootV0(h.Root, storageRoot, h.Hash()),
		StateRoot:             h.Root,
		WithdrawalStorageRoot: storageRoot,
		Header:                h,
	}, nil
}
