package follower_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"

	"github.com/strata-chain/strata/api"
	"github.com/strata-chain/strata/catchup"
	"github.com/strata-chain/strata/follower"
	"github.com/strata-chain/strata/history/store"
	"github.com/strata-chain/strata/history/stream"
	"github.com/strata-chain/strata/sequencer"
)

// serveStream serves a store's block stream on a free port.
func serveStream(t *testing.T, s *store.Store) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer()
	stream.Register(srv, s, func() (stream.GenesisExport, error) { return s.GenesisState() })
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return ln.Addr().String()
}

// TestRelayTree runs a sequencer, a follower of its block stream and a
// follower of that follower: all three answer eth_getProof identically at
// every block. The first follower starts far behind and catches up in
// batches; the second ingests one block at a time; all three stores hold
// the same bytes (digest).
func TestRelayTree(t *testing.T) {
	cfg := sequencer.DefaultConfig()
	cfg.BlockTime = 20 * time.Millisecond
	cfg.Load.Accounts = 4
	cfg.Initial = sequencer.InitialState{Accounts: 200, Slots: 300}
	origin, err := store.OpenMem(store.DefaultConfig())
	require.NoError(t, err)
	defer origin.Close()
	seq, err := sequencer.Open(cfg, origin, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	seq.OnBlock(func(info sequencer.BlockInfo) {
		if info.Number == 90 {
			cancel()
		}
	})
	require.NoError(t, seq.Run(ctx))
	head, err := origin.Head()
	require.NoError(t, err)

	stores := []*store.Store{origin}
	upstream := serveStream(t, origin)
	for i := 0; i < 2; i++ {
		s, err := store.OpenMem(store.DefaultConfig())
		require.NoError(t, err)
		defer s.Close()
		fcfg := follower.DefaultConfig()
		fcfg.URL, fcfg.ChainConfig = "strata://"+upstream, seq.ChainConfig()
		fcfg.Catchup.BatchBlocks = 16
		if i == 1 {
			fcfg.CatchupThreshold = 0 // never: block by block
		}
		f, err := follower.New(fcfg, s, slog.New(slog.DiscardHandler))
		require.NoError(t, err)
		require.NoError(t, f.Start(context.Background()))
		runCtx, stop := context.WithTimeout(context.Background(), time.Minute)
		batches := 0
		f.OnBatch(func(b catchup.Batch) {
			batches++
			require.Equal(t, follower.ModeCatchup, f.Mode())
			if b.To == head.Number {
				stop()
			}
		})
		f.OnBlock(func(info follower.BlockInfo) {
			if info.Number == head.Number {
				stop()
			}
		})
		require.NoError(t, f.Run(runCtx))
		stop()
		f.Stop()
		got, err := s.Head()
		require.NoError(t, err)
		require.Equal(t, head, got, "follower %d reached the origin's head", i+1)
		if i == 0 {
			require.Greater(t, batches, 1, "the first follower caught up in batches")
		} else {
			require.Zero(t, batches)
		}
		require.Equal(t, follower.ModeLive, f.Mode())
		want, err := origin.Digest()
		require.NoError(t, err)
		d, err := s.Digest()
		require.NoError(t, err)
		require.Equal(t, want, d, "follower %d holds the origin's bytes", i+1)
		stores = append(stores, s)
		upstream = serveStream(t, s) // the next follows this one
	}

	addrs := []common.Address{sequencer.MessagePasserAddress, sequencer.StorageContractAddress, sequencer.TokenAddress, sequencer.FillerAddress(3), common.HexToAddress("0xdead")}
	for _, k := range sequencer.DevKeys(2) {
		addrs = append(addrs, crypto.PubkeyToAddress(k.PublicKey))
	}
	var clients []*rpc.Client
	for _, s := range stores {
		srv, err := api.NewRPCServer(api.Config{ChainConfig: seq.ChainConfig(), Reader: s})
		require.NoError(t, err)
		defer srv.Stop()
		c := rpc.DialInProc(srv)
		defer c.Close()
		clients = append(clients, c)
	}
	for n := uint64(0); n <= head.Number; n++ {
		for _, a := range addrs {
			var want json.RawMessage
			require.NoError(t, clients[0].Call(&want, "eth_getProof", a, []string{"0x0", "0x1"}, hexutil.Uint64(n)))
			for i, c := range clients[1:] {
				var got json.RawMessage
				require.NoError(t, c.Call(&got, "eth_getProof", a, []string{"0x0", "0x1"}, hexutil.Uint64(n)))
				require.Equal(t, string(want), string(got), "follower %d, %s at block %d", i+1, a, n)
			}
		}
		var wantBlock, gotBlock json.RawMessage
		require.NoError(t, clients[0].Call(&wantBlock, "eth_getBlockByNumber", hexutil.Uint64(n), true))
		require.NoError(t, clients[2].Call(&gotBlock, "eth_getBlockByNumber", hexutil.Uint64(n), true))
		require.Equal(t, string(wantBlock), string(gotBlock))
	}
}
