package follower_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/api"
	"github.com/strata-chain/strata/follower"
	"github.com/strata-chain/strata/history/store"
)

// TestReorgs rewinds geth (debug_setHead) by 1, 2 and 10 blocks after the
// follower has followed it, grows a different branch, and checks that the
// follower unwinds and then answers eth_getProof at every block exactly as
// geth does.
func TestReorgs(t *testing.T) {
	c := newGethChain(t)
	ctx := context.Background()
	s, err := store.OpenMem(store.DefaultConfig())
	require.NoError(t, err)
	defer s.Close()
	cfg := follower.DefaultConfig()
	cfg.URL, cfg.GenesisFile = c.url, c.genesisFile
	cfg.CatchupThreshold = 1 // blocks are requested ahead, so a reorg must drop them
	f, err := follower.New(cfg, s, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer f.Stop()
	require.NoError(t, f.Start(ctx))
	follow := func(to common.Hash) {
		t.Helper()
		runCtx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		f.OnBlock(func(info follower.BlockInfo) {
			if info.Hash == to {
				cancel()
			}
		})
		require.NoError(t, f.Run(runCtx))
		head, err := s.Head()
		require.NoError(t, err)
		require.Equal(t, to, head.Hash, "the follower is on geth's head")
	}
	gethHead := func() (uint64, common.Hash) {
		var h struct {
			Number hexutil.Uint64 `json:"number"`
			Hash   common.Hash    `json:"hash"`
		}
		require.NoError(t, c.rpc.Call(&h, "eth_getBlockByNumber", "latest", false))
		return uint64(h.Number), h.Hash
	}
	_, hash := gethHead()
	follow(hash)
	key, _ := crypto.HexToECDSA(devKey)
	dev := crypto.PubkeyToAddress(key.PublicKey)
	srv, err := api.NewRPCServer(api.Config{ChainConfig: f.ChainConfig(), Reader: s})
	require.NoError(t, err)
	defer srv.Stop()
	strata := rpc.DialInProc(srv)
	defer strata.Close()
	for _, depth := range []uint64{1, 2, 10} {
		t.Run(fmt.Sprintf("depth %d", depth), func(t *testing.T) {
			head, _ := gethHead()
			require.Greater(t, head, depth)
			require.NoError(t, c.rpc.Call(nil, "debug_setHead", hexutil.Uint64(head-depth)))
			var nonce hexutil.Uint64
			require.NoError(t, c.rpc.Call(&nonce, "eth_getTransactionCount", dev, "pending")) // the rewound blocks' transactions are back in the pool
			c.setNonce(uint64(nonce))
			// A different branch (other transactions), longer than the old one.
			var last common.Hash
			for i := uint64(0); i <= 2; i++ {
				to := common.BigToAddress(new(big.Int).SetUint64(0x7000 + depth*100 + i))
				c.touched = append(c.touched, to)
				last = c.send(&to, big.NewInt(int64(i+1)), 21_000, nil)
			}
			c.wait(last)
			newHead, newHash := gethHead()
			for deadline := time.Now().Add(time.Minute); newHead <= head && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
				newHead, newHash = gethHead() // geth makes a block a second
			}
			require.Greater(t, newHead, head, "the new branch is longer")
			follow(newHash)
			for n := uint64(0); n <= newHead; n++ {
				for _, a := range c.touched {
					var want, got json.RawMessage
					require.NoError(t, c.rpc.Call(&want, "eth_getProof", a, []string{"0x0", "0xb"}, hexutil.Uint64(n)))
					require.NoError(t, strata.Call(&got, "eth_getProof", a, []string{"0x0", "0xb"}, hexutil.Uint64(n)))
					require.Equal(t, string(want), string(got), "eth_getProof %s at block %d", a, n)
				}
			}
		})
	}
}
