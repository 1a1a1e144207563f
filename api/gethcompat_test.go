package api

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/bench"
)

// rawCall returns a method's raw JSON result, or its error text.
func rawCall(c interface {
	CallContext(ctx context.Context, result any, method string, args ...any) error
}, method string, args ...any) string {
	var raw json.RawMessage
	if err := c.CallContext(context.Background(), &raw, method, args...); err != nil {
		return "error: " + err.Error()
	}
	return string(raw)
}

// TestByteIdenticalToGeth compares Strata's raw JSON with go-ethereum's for
// the same chain: eth_getProof for every touched (and one absent) account
// with storage keys in every form, at every block and with every block
// selector, and the other state and block methods.
func TestByteIdenticalToGeth(t *testing.T) {
	c := newGethChain(t)
	compared := 0
	same := func(method string, args ...any) {
		t.Helper()
		want := rawCall(c.geth, method, args...)
		got := rawCall(c.strata, method, args...)
		require.NotContains(t, want, "error:", "geth must answer %s %v", method, args)
		require.Equal(t, want, got, "%s %v", method, args)
		compared++
	}
	for n := uint64(0); n <= c.blocks; n++ {
		num := hexutil.Uint64(n)
		h, err := c.store.HeaderByNumber(n)
		require.NoError(t, err)
		hash := h.Hash()
		for _, a := range c.touched {
			same("eth_getProof", a, c.slots, num)
			same("eth_getBalance", a, num)
			same("eth_getTransactionCount", a, num)
			same("eth_getCode", a, num)
			same("eth_getStorageAt", a, "0x0", num)
		}
		// Every block form: bare hash string (op-node), EIP-1898 objects.
		a := c.touched[0]
		same("eth_getProof", a, c.slots, hash.Hex())
		same("eth_getProof", a, c.slots, map[string]any{"blockHash": hash})
		same("eth_getProof", a, c.slots, map[string]any{"blockHash": hash, "requireCanonical": true})
		same("eth_getProof", a, c.slots, map[string]any{"blockNumber": num})
		same("eth_getBlockByNumber", num, false)
		same("eth_getBlockByNumber", num, true)
		same("eth_getBlockByHash", hash, true)
	}
	for _, tag := range []string{"latest", "earliest"} {
		same("eth_getProof", c.touched[1], c.slots, tag)
		same("eth_getBlockByNumber", tag, false)
	}
	// op-geth requires the block argument; Strata answers its error.
	require.Equal(t, rawCall(c.geth, "eth_getProof", c.touched[1], []string{}), rawCall(c.strata, "eth_getProof", c.touched[1], []string{}))
	for _, tx := range c.txs {
		same("eth_getTransactionReceipt", tx)
		same("eth_getTransactionByHash", tx)
	}
	same("eth_chainId")
	same("eth_blockNumber")
	t.Logf("%d answers byte-identical to geth", compared)
}

// TestServedProofsVerify checks every eth_getProof answer against the state
// root geth reports for the block.
func TestServedProofsVerify(t *testing.T) {
	c := newGethChain(t)
	for n := uint64(0); n <= c.blocks; n++ {
		var blk struct {
			Root string `json:"stateRoot"`
		}
		require.NoError(t, c.geth.CallContext(context.Background(), &blk, "eth_getBlockByNumber", hexutil.Uint64(n), false))
		for _, a := range c.touched {
			var raw json.RawMessage
			require.NoError(t, c.strata.CallContext(context.Background(), &raw, "eth_getProof", a, c.slots, hexutil.Uint64(n)))
			require.NoError(t, bench.VerifyAccountResult(raw, commonHash(blk.Root)), fmt.Sprintf("block %d account %s", n, a))
		}
	}
}
