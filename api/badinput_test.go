package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/history"
)

// prunedReader holds state only from block oldest on, as a store whose old
// history retention dropped would.
type prunedReader struct {
	history.Reader
	oldest uint64
}

func (p prunedReader) Oldest() (uint64, error) { return p.oldest, nil }
func (p prunedReader) StateAt(n uint64) (history.State, error) {
	if n < p.oldest {
		return nil, &history.PrunedError{Number: n, Oldest: p.oldest}
	}
	return p.Reader.StateAt(n)
}

// post sends a raw JSON-RPC body over HTTP and returns the response body.
func post(t *testing.T, url, body string) string {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(out)
}

type rpcError struct {
	Error *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Result json.RawMessage `json:"result"`
}

func TestBadInputGetsJSONRPCErrors(t *testing.T) {
	c := newGethChain(t)
	srv, err := NewRPCServer(Config{ChainConfig: chainConfigOf(t, c), Reader: prunedReader{c.store, 2}})
	require.NoError(t, err)
	defer srv.Stop()
	s, err := Listen(ServerConfig{Addr: "127.0.0.1"}, srv, nil)
	require.NoError(t, err)
	defer s.Close()
	url := "http://" + s.HTTPAddr()
	addr := c.touched[0].Hex()
	tooMany := make([]string, 1025)
	for i := range tooMany {
		tooMany[i] = "0x1"
	}
	tooManyJSON, _ := json.Marshal(tooMany)
	h, err := c.store.HeaderByNumber(3)
	require.NoError(t, err)
	for _, tc := range []struct {
		name, method, params string
		code                 int
		msg                  string
	}{
		{"too many keys", "eth_getProof", fmt.Sprintf(`["%s",%s,"latest"]`, addr, tooManyJSON), -32602, "too many storage keys requested (max 1024, got 1025)"},
		{"bad hex key", "eth_getProof", fmt.Sprintf(`["%s",["0xzz"],"latest"]`, addr), -32602, `invalid hex in storage key: "0xzz"`},
		{"long key", "eth_getProof", fmt.Sprintf(`["%s",["0x%s"],"latest"]`, addr, strings.Repeat("ab", 33)), -32602, "storage key too long (want at most 32 bytes)"},
		{"unknown number", "eth_getProof", fmt.Sprintf(`["%s",[],"0x999"]`, addr), -32000, "header not found"},
		{"unknown hash", "eth_getProof", fmt.Sprintf(`["%s",[],"%s"]`, addr, common.HexToHash("0x1234").Hex()), -32000, "header for hash not found"},
		{"pruned block", "eth_getProof", fmt.Sprintf(`["%s",[],"0x1"]`, addr), -32000, "state at block 1 is not available: oldest available block is 2"},
		{"pruned by hash", "eth_getBalance", fmt.Sprintf(`["%s","%s"]`, addr, mustHeader(t, c, 0).Hash().Hex()), -32000, "oldest available block is 2"},
		{"both number and hash", "eth_getProof", fmt.Sprintf(`["%s",[],{"blockNumber":"0x1","blockHash":"%s"}]`, addr, h.Hash().Hex()), -32602, "cannot specify both BlockHash and BlockNumber, choose one or the other"},
		{"neither number nor hash", "eth_getProof", fmt.Sprintf(`["%s",[],{}]`, addr), -32000, "neither block nor hash specified"},
		{"not an address", "eth_getProof", `["0x12",[],"latest"]`, -32602, "invalid argument 0"},
		{"keys not a list", "eth_getProof", fmt.Sprintf(`["%s","0x1","latest"]`, addr), -32602, "invalid argument 1"},
		{"missing params", "eth_getProof", `[]`, -32602, "missing value for required argument 0"},
		{"future block balance", "eth_getBalance", fmt.Sprintf(`["%s","0xffff"]`, addr), -32000, "header not found"},
		{"storage key too long", "eth_getStorageAt", fmt.Sprintf(`["%s","0x%s","latest"]`, addr, strings.Repeat("00", 33)), -32602, "storage key too long"},
		{"output at a tag", "optimism_outputAtBlock", `["latest"]`, -32602, "invalid argument 0"},
		{"output in the future", "optimism_outputAtBlock", `["0x999"]`, -32000, "header not found"},
		{"output of a pruned block", "optimism_outputAtBlock", `["0x1"]`, -32000, "oldest available block is 2"},
		{"garbage transaction", "eth_sendRawTransaction", `["0x1234"]`, -32000, "transaction type not supported"},
		{"empty transaction", "eth_sendRawTransaction", `["0x"]`, -32000, "typed transaction too short"},
		{"no pool", "eth_sendRawTransaction", fmt.Sprintf(`["%s"]`, signedTx(t)), -32000, "this node does not accept transactions"},
		{"unknown method", "eth_mine", `[]`, -32601, "the method eth_mine does not exist/is not available"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := post(t, url, fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"%s","params":%s}`, tc.method, tc.params))
			var r rpcError
			require.NoError(t, json.Unmarshal([]byte(body), &r), body)
			require.NotNil(t, r.Error, "want an error, got %s", body)
			require.Equal(t, tc.code, r.Error.Code, body)
			require.Contains(t, r.Error.Message, tc.msg)
		})
	}
	// Unknown blocks are null for block reads, as geth answers.
	for _, params := range []string{`["0x999",false]`} {
		body := post(t, url, `{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":`+params+`}`)
		require.JSONEq(t, `{"jsonrpc":"2.0","id":1,"result":null}`, body)
	}
	// Malformed JSON is a parse error, not a crash.
	body := post(t, url, `{"jsonrpc":"2.0","id":1,"method":"eth_getProof","params":[`)
	require.Contains(t, body, `"code":-32700`)
	// The server still answers.
	body = post(t, url, `{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`)
	require.Contains(t, body, `"result":"0x6"`)
}

func TestBatchLimit(t *testing.T) {
	c := newGethChain(t)
	srv, err := NewRPCServer(Config{ChainConfig: chainConfigOf(t, c), Reader: c.store})
	require.NoError(t, err)
	defer srv.Stop()
	s, err := Listen(ServerConfig{Addr: "127.0.0.1"}, srv, nil)
	require.NoError(t, err)
	defer s.Close()
	var b bytes.Buffer
	b.WriteString("[")
	for i := 0; i < DefaultBatchRequestLimit+1; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"jsonrpc":"2.0","id":%d,"method":"eth_blockNumber","params":[]}`, i)
	}
	b.WriteString("]")
	body := post(t, "http://"+s.HTTPAddr(), b.String())
	require.Contains(t, body, "batch too large")
}

func TestWebSocket(t *testing.T) {
	c := newGethChain(t)
	srv, err := NewRPCServer(Config{ChainConfig: chainConfigOf(t, c), Reader: c.store})
	require.NoError(t, err)
	defer srv.Stop()
	s, err := Listen(ServerConfig{Addr: "127.0.0.1", WSPort: freePort(t)}, srv, nil)
	require.NoError(t, err)
	defer s.Close()
	for _, addr := range []string{s.WSAddr(), s.HTTPAddr()} {
		cl, err := rpc.Dial("ws://" + addr)
		require.NoError(t, err, addr)
		var raw json.RawMessage
		require.NoError(t, cl.Call(&raw, "eth_getProof", c.touched[0], c.slots, "latest"))
		require.Equal(t, rawCall(c.geth, "eth_getProof", c.touched[0], c.slots, "latest"), string(raw))
		cl.Close()
	}
}

func signedTx(t *testing.T) string {
	t.Helper()
	key, _ := crypto.GenerateKey()
	tx := types.MustSignNewTx(key, types.LatestSigner(params.AllDevChainProtocolChanges), &types.DynamicFeeTx{ChainID: params.AllDevChainProtocolChanges.ChainID, Gas: 21000, To: &common.Address{}})
	b, err := tx.MarshalBinary()
	require.NoError(t, err)
	return hexutil.Encode(b)
}

// refusingPool refuses every transaction with the pool's error.
type refusingPool struct{ got []*types.Transaction }

func (p *refusingPool) SubmitTransaction(tx *types.Transaction) error {
	p.got = append(p.got, tx)
	if len(p.got) > 1 {
		return errors.New("already known")
	}
	return nil
}

func TestSendRawTransaction(t *testing.T) {
	c := newGethChain(t)
	pool := &refusingPool{}
	srv, err := NewRPCServer(Config{ChainConfig: chainConfigOf(t, c), Reader: c.store, TxPool: pool})
	require.NoError(t, err)
	defer srv.Stop()
	cl := rpc.DialInProc(srv)
	defer cl.Close()
	raw := signedTx(t)
	var hash common.Hash
	require.NoError(t, cl.Call(&hash, "eth_sendRawTransaction", raw))
	require.Len(t, pool.got, 1)
	require.Equal(t, pool.got[0].Hash(), hash)
	require.ErrorContains(t, cl.Call(&hash, "eth_sendRawTransaction", raw), "already known")
}
