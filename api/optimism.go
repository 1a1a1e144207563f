package api

import (
	"context"
	"errors"
	"fmt"

	"github.com/ethereum-optimism/optimism/op-node/rollup"
	"github.com/ethereum-optimism/optimism/op-node/rollup/derive"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/proofs"
)

// OptimismAPI is op-node's optimism namespace, for proposers and
// challengers.
type OptimismAPI struct{ b *backend }

// BlockID is op-service's eth.BlockID.
type BlockID struct {
	Hash   common.Hash `json:"hash"`
	Number uint64      `json:"number"`
}

// L1BlockRef is op-service's eth.L1BlockRef.
type L1BlockRef struct {
	Hash       common.Hash `json:"hash"`
	Number     uint64      `json:"number"`
	ParentHash common.Hash `json:"parentHash"`
	Time       uint64      `json:"timestamp"`
}

// L2BlockRef is op-service's eth.L2BlockRef: numbers are plain JSON numbers.
type L2BlockRef struct {
	Hash           common.Hash `json:"hash"`
	Number         uint64      `json:"number"`
	ParentHash     common.Hash `json:"parentHash"`
	Time           uint64      `json:"timestamp"`
	L1Origin       BlockID     `json:"l1origin"`
	SequenceNumber uint64      `json:"sequenceNumber"`
}

// SyncStatus is op-service's eth.SyncStatus. Strata follows no L1: the L1
// references are zero. The L2 references carry each block's L1 origin and
// sequence number when the node has a rollup config (see l2Ref); without
// one every L2 block's origin is L1 block 0, so its sequence number is its
// number.
type SyncStatus struct {
	CurrentL1          L1BlockRef `json:"current_l1"`
	CurrentL1Finalized L1BlockRef `json:"current_l1_finalized"`
	HeadL1             L1BlockRef `json:"head_l1"`
	SafeL1             L1BlockRef `json:"safe_l1"`
	FinalizedL1        L1BlockRef `json:"finalized_l1"`
	UnsafeL2           L2BlockRef `json:"unsafe_l2"`
	SafeL2             L2BlockRef `json:"safe_l2"`
	FinalizedL2        L2BlockRef `json:"finalized_l2"`
	PendingSafeL2      L2BlockRef `json:"pending_safe_l2"`
	CrossUnsafeL2      L2BlockRef `json:"cross_unsafe_l2"`
	LocalSafeL2        L2BlockRef `json:"local_safe_l2"`
}

// OutputResponse is op-node's eth.OutputResponse.
type OutputResponse struct {
	Version               common.Hash `json:"version"`
	OutputRoot            common.Hash `json:"outputRoot"`
	BlockRef              L2BlockRef  `json:"blockRef"`
	WithdrawalStorageRoot common.Hash `json:"withdrawalStorageRoot"`
	StateRoot             common.Hash `json:"stateRoot"`
	Status                *SyncStatus `json:"syncStatus"`
}

var errNoRollupConfig = errors.New("this node has no rollup config")

// RollupConfig is optimism_rollupConfig: the op-node rollup config, the
// struct op-node's node API returns (its own JSON).
func (api *OptimismAPI) RollupConfig(ctx context.Context) (*rollup.Config, error) {
	if api.b.cfg.RollupConfig == nil {
		return nil, errNoRollupConfig
	}
	return api.b.cfg.RollupConfig, nil
}

// l2Ref is op-node's L2BlockRef of the block with header h. With a rollup
// config it is op-node's derive.L2BlockToBlockRef: the rollup's genesis
// block has the genesis L1 block as its origin and sequence number 0, and a
// block whose first transaction is a deposit has the L1 origin and sequence
// number of that L1-attributes deposit (in the calldata format of the
// block's fork). Any other block (no rollup config, an Ethereum-shaped
// block, a body not held) has origin zero and its number as its sequence
// number.
func (b *backend) l2Ref(h *types.Header) (L2BlockRef, error) {
	n := h.Number.Uint64()
	ref := L2BlockRef{Hash: h.Hash(), Number: n, ParentHash: h.ParentHash, Time: h.Time, SequenceNumber: n}
	rc := b.cfg.RollupConfig
	if rc == nil {
		return ref, nil
	}
	var txs types.Transactions
	if n != rc.Genesis.L2.Number {
		var err error
		if txs, err = b.cfg.Reader.Body(n); err != nil && !errors.Is(err, history.ErrNotFound) {
			return L2BlockRef{}, err
		}
		if len(txs) == 0 || !txs[0].IsDepositTx() {
			return ref, nil
		}
	}
	op, err := derive.L2BlockToBlockRef(rc, types.NewBlockWithHeader(h).WithBody(types.Body{Transactions: txs}))
	if err != nil {
		return L2BlockRef{}, fmt.Errorf("block %d: %w", n, err)
	}
	ref.L1Origin = BlockID{Hash: op.L1Origin.Hash, Number: op.L1Origin.Number}
	ref.SequenceNumber = op.SequenceNumber
	return ref, nil
}

// OutputAtBlock is optimism_outputAtBlock: the v0 output root of a block
// given as a hex number (tags are not accepted, as in op-node). A block
// above the head is answered as eth_getProof answers it: waited for up to
// FutureWait, then "header not found" naming the block and the head (code
// -32000, the numbers also in the error's data).
func (api *OptimismAPI) OutputAtBlock(ctx context.Context, number hexutil.Uint64) (*OutputResponse, error) {
	head, err := api.b.cfg.Reader.Head()
	if errors.Is(err, history.ErrEmpty) {
		return nil, errHeaderNotFound
	}
	if err != nil {
		return nil, err
	}
	if uint64(number) > head.Number {
		if _, err := api.b.waitFor(uint64(number), head.Number); err != nil {
			return nil, err
		}
	}
	release, err := api.b.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	out, err := proofs.OutputAt(api.b.cfg.Reader, uint64(number))
	if errors.Is(err, history.ErrNotFound) {
		return nil, errHeaderNotFound
	}
	if err != nil {
		return nil, err
	}
	ref, err := api.b.l2Ref(out.Header)
	if err != nil {
		return nil, err
	}
	status, err := api.SyncStatus(ctx)
	if err != nil {
		return nil, err
	}
	return &OutputResponse{
		Version:               out.Version,
		OutputRoot:            out.OutputRoot,
		BlockRef:              ref,
		WithdrawalStorageRoot: out.WithdrawalStorageRoot,
		StateRoot:             out.StateRoot,
		Status:                status,
	}, nil
}

// SyncStatus is optimism_syncStatus.
func (api *OptimismAPI) SyncStatus(ctx context.Context) (*SyncStatus, error) {
	head, err := api.b.cfg.Reader.Head()
	if errors.Is(err, history.ErrEmpty) {
		return &SyncStatus{}, nil
	}
	if err != nil {
		return nil, err
	}
	safe, fin := head.Number, head.Number
	if api.b.cfg.Finality != nil {
		safe, fin = api.b.cfg.Finality()
	}
	ref := func(n uint64) (L2BlockRef, error) {
		h, err := api.b.cfg.Reader.HeaderByNumber(n)
		if err != nil {
			return L2BlockRef{}, err
		}
		return api.b.l2Ref(h)
	}
	var s SyncStatus
	if s.UnsafeL2, err = ref(head.Number); err != nil {
		return nil, err
	}
	if s.SafeL2, err = ref(safe); err != nil {
		return nil, err
	}
	if s.FinalizedL2, err = ref(fin); err != nil {
		return nil, err
	}
	s.PendingSafeL2, s.LocalSafeL2, s.CrossUnsafeL2 = s.SafeL2, s.SafeL2, s.UnsafeL2
	return &s, nil
}
