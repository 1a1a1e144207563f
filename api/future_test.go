package api

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/history/historytest"
	"github.com/strata-chain/strata/history/store"
)

// TestFutureBlocks: with future_wait 0 a request for a block above the head
// fails at once with geth's message, the head named in it and in the data;
// with a wait it is answered once the block is ingested, or fails naming
// the head when the wait runs out.
func TestFutureBlocks(t *testing.T) {
	ctx := context.Background()
	s, err := store.OpenMem(store.DefaultConfig())
	require.NoError(t, err)
	defer s.Close()
	g := historytest.NewChain(3)
	for range 6 {
		require.NoError(t, s.Ingest(ctx, g.Next()))
	}
	client := func(wait time.Duration) *rpc.Client {
		srv, err := NewRPCServer(Config{ChainConfig: params.TestChainConfig, Reader: s, FutureWait: wait})
		require.NoError(t, err)
		t.Cleanup(srv.Stop)
		c := rpc.DialInProc(srv)
		t.Cleanup(c.Close)
		return c
	}
	addr := common.HexToAddress("0x1234")

	var res hexutil.Big
	err = client(0).Call(&res, "eth_getBalance", addr, hexutil.Uint64(7))
	var de rpc.DataError
	require.True(t, errors.As(err, &de), "got %v", err)
	require.Equal(t, "header not found: block 7 is newer than the head 5", de.Error())
	data, _ := json.Marshal(de.ErrorData())
	require.JSONEq(t, `{"requested":"0x7","head":"0x5"}`, string(data))

	err = client(30*time.Millisecond).Call(&res, "eth_getBalance", addr, hexutil.Uint64(6))
	require.ErrorContains(t, err, "block 6 is newer than the head 5", "the wait ran out")

	c := client(time.Minute)
	done := make(chan error, 1)
	go func() { done <- c.Call(&res, "eth_getBalance", addr, hexutil.Uint64(6)) }()
	require.NoError(t, s.Ingest(ctx, g.Next()))
	select {
	case err := <-done:
		require.NoError(t, err, "answered once block 6 arrived")
	case <-time.After(30 * time.Second):
		t.Fatal("no answer after block 6 was ingested")
	}
}
