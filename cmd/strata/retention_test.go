package main

import (
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/bench"
	"github.com/strata-chain/strata/retention"
	"github.com/strata-chain/strata/sequencer"
)

// TestTieredRetentionEndToEnd runs a devnet whose tiers are a few seconds
// long, so blocks cross all of them while it runs: proofs verify against the
// block's root in the recent tier, at and between the window's checkpoints,
// and for the message passer below the window; other accounts below the
// window get an error naming the oldest block; debug_proofsSyncStatus and
// strata_tiers report the boundaries.
func TestTieredRetentionEndToEnd(t *testing.T) {
	cfg := testNodeConfig(t.TempDir())
	cfg.Sequencer.BlockTime = 20 * time.Millisecond
	cfg.Retention = retention.Spans{Recent: 800 * time.Millisecond, Window: 1600 * time.Millisecond, Checkpoint: 8,
		Pinned: []common.Address{sequencer.MessagePasserAddress}} // 40 and 80 blocks
	n, err := newNode(cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer n.Close()
	deadline := time.Now().Add(2 * time.Minute)
	runUntil(t, n, func(info sequencer.BlockInfo) bool {
		o, _ := n.store.Oldest()
		if time.Now().After(deadline) {
			t.Errorf("tiers did not move in time: block %d, oldest %d, tiers %+v", info.Number, o, n.store.Tiers())
			return true
		}
		return o >= 64 && info.Number >= 200
	})
	if t.Failed() {
		return
	}
	cl, err := rpc.Dial("http://" + n.api.HTTPAddr())
	require.NoError(t, err)
	defer cl.Close()

	var sync struct{ Earliest, Latest uint64 }
	require.NoError(t, cl.Call(&sync, "debug_proofsSyncStatus"))
	head, err := n.store.Head()
	require.NoError(t, err)
	require.Equal(t, head.Number, sync.Latest)
	require.Positive(t, sync.Earliest)
	require.Zero(t, sync.Earliest%8, "the window starts at a checkpoint")
	var tiers []struct {
		Name             string
		Earliest, Latest hexutil.Uint64
		Bytes            hexutil.Uint64
	}
	require.NoError(t, cl.Call(&tiers, "strata_tiers"))
	require.Len(t, tiers, 3)
	require.Equal(t, sync.Earliest, uint64(tiers[1].Earliest))
	recentStart := uint64(tiers[0].Earliest)
	require.Greater(t, recentStart, sync.Earliest)

	dev := crypto.PubkeyToAddress(sequencer.DevKeys(1)[0].PublicKey)
	prove := func(a common.Address, b uint64) error {
		var raw json.RawMessage
		if err := cl.Call(&raw, "eth_getProof", a, []string{"0x0", "0x1"}, hexutil.Uint64(b)); err != nil {
			return err
		}
		var blk struct {
			Root common.Hash `json:"stateRoot"`
		}
		require.NoError(t, cl.Call(&blk, "eth_getBlockByNumber", hexutil.Uint64(b), false))
		require.NoError(t, bench.VerifyAccountResult(raw, blk.Root), "block %d %s", b, a)
		return nil
	}
	for _, b := range []uint64{head.Number, recentStart, sync.Earliest, sync.Earliest + 8, sync.Earliest + 3, recentStart - 1} {
		for _, a := range []common.Address{sequencer.MessagePasserAddress, sequencer.TokenAddress, dev} {
			require.NoError(t, prove(a, b), "block %d (window %d-%d) %s", b, sync.Earliest, recentStart-1, a)
		}
	}
	for _, b := range []uint64{1, sync.Earliest - 1} {
		require.NoError(t, prove(sequencer.MessagePasserAddress, b), "pinned account at block %d below the window", b)
		err := prove(dev, b)
		require.ErrorContains(t, err, "oldest available block is")
	}
	var out map[string]any
	require.NoError(t, cl.Call(&out, "optimism_outputAtBlock", hexutil.Uint64(1)), "output roots at any age")
}
