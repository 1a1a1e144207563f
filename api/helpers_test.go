package api

import (
	"net"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
	"github.com/stretchr/testify/require"
)

func commonHash(s string) common.Hash { return common.HexToHash(s) }

func chainConfigOf(t *testing.T, c *gethChain) *params.ChainConfig {
	t.Helper()
	return params.AllDevChainProtocolChanges
}

func mustHeader(t *testing.T, c *gethChain, n uint64) *types.Header {
	t.Helper()
	h, err := c.store.HeaderByNumber(n)
	require.NoError(t, err)
	return h
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
