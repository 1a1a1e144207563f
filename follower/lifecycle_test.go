package follower_test

import (
	"context"
	"log/slog"
	"net"
	"testing"

	"github.com/ethereum/go-ethereum/params"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/follower"
	"github.com/strata-chain/strata/history/store"
)

// TestLifecycle: New checks the config and does no I/O (an upstream nobody
// listens on is fine until Start), Run before Start and a second Start are
// refused, a failed Start holds no connection, and Stop is safe at any time.
func TestLifecycle(t *testing.T) {
	s, err := store.OpenMem(store.DefaultConfig())
	require.NoError(t, err)
	defer s.Close()
	quiet := slog.New(slog.DiscardHandler)

	_, err = follower.New(follower.DefaultConfig(), s, quiet)
	require.ErrorContains(t, err, "no upstream URL")
	cfg := follower.DefaultConfig()
	cfg.URL = "strata://127.0.0.1:1"
	_, err = follower.New(cfg, s, quiet)
	require.ErrorContains(t, err, "needs the chain config")
	cfg.URL = "http://127.0.0.1:1"
	_, err = follower.New(cfg, s, quiet)
	require.ErrorContains(t, err, "a genesis file is needed")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := ln.Addr().String()
	require.NoError(t, ln.Close())
	cfg.URL, cfg.GenesisFile = "http://"+closed, t.TempDir()+"/missing.json"
	f, err := follower.New(cfg, s, quiet)
	require.NoError(t, err, "New does no I/O")
	require.Nil(t, f.ChainConfig(), "the genesis file is read by Start")
	require.ErrorContains(t, f.Run(context.Background()), "Run before Start")
	require.ErrorContains(t, f.Start(context.Background()), "open genesis")
	f.Stop()
	f.Stop()

	cfg = follower.DefaultConfig()
	cfg.URL, cfg.ChainConfig = "strata://"+closed, params.AllDevChainProtocolChanges
	f, err = follower.New(cfg, s, quiet)
	require.NoError(t, err)
	require.Equal(t, params.AllDevChainProtocolChanges, f.ChainConfig())
	f.Stop() // never started
}
