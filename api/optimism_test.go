package api

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/sequencer"
)

// opOutputResponse mirrors op-service's eth.OutputResponse field names and
// Go types (eth.Bytes32 decodes from 0x-hex like common.Hash; uint64 fields
// decode only from plain JSON numbers).
type opOutputResponse struct {
	Version    common.Hash `json:"version"`
	OutputRoot common.Hash `json:"outputRoot"`
	BlockRef   struct {
		Hash       common.Hash `json:"hash"`
		Number     uint64      `json:"number"`
		ParentHash common.Hash `json:"parentHash"`
		Time       uint64      `json:"timestamp"`
		L1Origin   struct {
			Hash   common.Hash `json:"hash"`
			Number uint64      `json:"number"`
		} `json:"l1origin"`
		SequenceNumber uint64 `json:"sequenceNumber"`
	} `json:"blockRef"`
	WithdrawalStorageRoot common.Hash `json:"withdrawalStorageRoot"`
	StateRoot             common.Hash `json:"stateRoot"`
	Status                *struct {
		UnsafeL2 struct {
			Number uint64 `json:"number"`
		} `json:"unsafe_l2"`
		SafeL2 struct {
			Number uint64 `json:"number"`
		} `json:"safe_l2"`
		FinalizedL2 struct {
			Number uint64 `json:"number"`
		} `json:"finalized_l2"`
		CurrentL1 struct {
			Number uint64 `json:"number"`
		} `json:"current_l1"`
	} `json:"syncStatus"`
}

func TestOutputAtBlock(t *testing.T) {
	c := newGethChain(t)
	for n := uint64(0); n <= c.blocks; n++ {
		var raw json.RawMessage
		require.NoError(t, c.strata.CallContext(context.Background(), &raw, "optimism_outputAtBlock", hexutil.Uint64(n)))
		var out opOutputResponse
		require.NoError(t, json.Unmarshal(raw, &out), "op-node's shape: %s", raw)
		var top map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(raw, &top))
		require.ElementsMatch(t, []string{"version", "outputRoot", "blockRef", "withdrawalStorageRoot", "stateRoot", "syncStatus"}, keys(top))
		var ref map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(top["blockRef"], &ref))
		require.ElementsMatch(t, []string{"hash", "number", "parentHash", "timestamp", "l1origin", "sequenceNumber"}, keys(ref))
		h := mustHeader(t, c, n)
		require.Equal(t, n, out.BlockRef.Number, "op-proposer checks blockRef.number")
		require.Equal(t, h.Hash(), out.BlockRef.Hash)
		require.Equal(t, h.ParentHash, out.BlockRef.ParentHash)
		require.Equal(t, h.Time, out.BlockRef.Time)
		require.Equal(t, common.Hash{}, out.Version, "op-proposer rejects versions other than 0")
		require.Equal(t, h.Root, out.StateRoot)
		// The message passer's storage root from geth's own proof.
		var proof struct {
			StorageHash common.Hash `json:"storageHash"`
		}
		require.NoError(t, c.geth.CallContext(context.Background(), &proof, "eth_getProof", sequencer.MessagePasserAddress, []string{}, hexutil.Uint64(n)))
		require.Equal(t, proof.StorageHash, out.WithdrawalStorageRoot)
		hash := h.Hash()
		want := crypto.Keccak256Hash(make([]byte, 32), h.Root[:], proof.StorageHash[:], hash[:])
		require.Equal(t, want, out.OutputRoot, "v0: keccak256(0 ‖ stateRoot ‖ messagePasserStorageRoot ‖ blockHash)")
		require.NotNil(t, out.Status)
		require.Equal(t, c.blocks, out.Status.UnsafeL2.Number)
	}
	// Numbers are plain JSON decimals, not hex quantities.
	var raw json.RawMessage
	require.NoError(t, c.strata.CallContext(context.Background(), &raw, "optimism_outputAtBlock", hexutil.Uint64(3)))
	require.Contains(t, string(raw), `"number":3,`)
	require.Contains(t, string(raw), `"sequenceNumber":3}`)
}

func TestSyncStatusKeys(t *testing.T) {
	c := newGethChain(t)
	var raw map[string]json.RawMessage
	require.NoError(t, c.strata.CallContext(context.Background(), &raw, "optimism_syncStatus"))
	for _, k := range []string{"current_l1", "current_l1_finalized", "head_l1", "safe_l1", "finalized_l1", "unsafe_l2", "safe_l2", "finalized_l2", "pending_safe_l2", "cross_unsafe_l2", "local_safe_l2"} {
		require.Contains(t, raw, k)
	}
	var unsafe struct {
		Number uint64 `json:"number"`
	}
	require.NoError(t, json.Unmarshal(raw["unsafe_l2"], &unsafe))
	require.Equal(t, c.blocks, unsafe.Number)
}

func keys(m map[string]json.RawMessage) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
