package api

import (
	"context"
	"errors"

	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/strata-chain/strata/history"
)

// Tier is one retention tier as the store reports it.
type Tier struct {
	Name     string `json:"name"`
	Earliest uint64 `json:"earliest"`
	Latest   uint64 `json:"latest"`
	Bytes    uint64 `json:"bytes"`
	Empty    bool   `json:"empty"`
}

// ProofsSyncStatus is op-reth's debug_proofsSyncStatus answer: the range of
// blocks whose proofs can be served for any account.
type ProofsSyncStatus struct {
	Earliest uint64 `json:"earliest"`
	Latest   uint64 `json:"latest"`
}

// ProofsSyncStatus is debug_proofsSyncStatus (op-reth's form): the oldest
// block with full state (the window's lower edge) and the head. Pinned
// accounts are provable below it too; strata_tiers tells.
func (api *DebugAPI) ProofsSyncStatus(context.Context) (*ProofsSyncStatus, error) {
	head, err := api.b.cfg.Reader.Head()
	if errors.Is(err, history.ErrEmpty) {
		return nil, errHeaderNotFound
	}
	if err != nil {
		return nil, err
	}
	oldest, err := api.b.cfg.Reader.Oldest()
	if err != nil {
		return nil, err
	}
	return &ProofsSyncStatus{Earliest: oldest, Latest: head.Number}, nil
}

// TierAnswer is one tier in strata_tiers, numbers as hex quantities.
type TierAnswer struct {
	Name     string         `json:"name"`
	Earliest hexutil.Uint64 `json:"earliest"`
	Latest   hexutil.Uint64 `json:"latest"`
	Bytes    hexutil.Uint64 `json:"bytes"`
	Empty    bool           `json:"empty"`
}

// StrataAPI is the strata_ namespace: what this node holds.
type StrataAPI struct{ b *backend }

// Tiers is strata_tiers: each retention tier's blocks and logical bytes.
// recent serves every block from earliest to the head with every node
// version; window serves its blocks from checkpoints (a proof between
// checkpoints is rebuilt); pinned serves the pinned accounts at any block.
func (api *StrataAPI) Tiers(context.Context) ([]TierAnswer, error) {
	if api.b.cfg.Tiers == nil {
		return nil, errors.New("this node reports no tiers")
	}
	var out []TierAnswer
	for _, t := range api.b.cfg.Tiers() {
		out = append(out, TierAnswer{Name: t.Name, Earliest: hexutil.Uint64(t.Earliest), Latest: hexutil.Uint64(t.Latest), Bytes: hexutil.Uint64(t.Bytes), Empty: t.Empty})
	}
	return out, nil
}
