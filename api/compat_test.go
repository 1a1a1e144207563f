package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/stretchr/testify/require"
)

// TestCompatErrors: the two answers issue 18 found unlike geth's.
// eth_sendRawTransaction with bytes that do not decode is -32000 with the
// decoder's message (bad hex stays -32602, from the rpc layer);
// optimism_outputAtBlock above the head names the head, as eth_getProof
// does, in the message and the data.
func TestCompatErrors(t *testing.T) {
	s := startPosture(t, postureAPIs(t), ServerConfig{})
	url := "http://" + s.HTTPAddr()
	for _, tc := range []struct {
		name, body string
		code       int
		msg        string
	}{
		{"raw tx 0x00", `{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x00"]}`, -32000, "typed transaction too short"},
		{"raw tx unknown type", `{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x1234"]}`, -32000, "transaction type not supported"},
		{"raw tx bad rlp", `{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0xc0"]}`, -32000, "rlp: too few elements for types.LegacyTx"},
		{"raw tx bad hex", `{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x0"]}`, -32602, "invalid argument 0: json: cannot unmarshal hex string of odd length into Go value of type hexutil.Bytes"},
		{"output above the head", `{"jsonrpc":"2.0","id":1,"method":"optimism_outputAtBlock","params":["0x9"]}`, -32000, "header not found: block 9 is newer than the head 5"},
		{"proof above the head", `{"jsonrpc":"2.0","id":1,"method":"eth_getProof","params":["0x0000000000000000000000000000000000001234",[],"0x9"]}`, -32000, "header not found: block 9 is newer than the head 5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := send(t, http.MethodPost, url, "", tc.body, nil)
			require.Equal(t, 200, r.status)
			var e rpcError
			require.NoError(t, json.Unmarshal([]byte(r.body), &e), r.body)
			require.NotNil(t, e.Error, r.body)
			require.Equal(t, tc.code, e.Error.Code, r.body)
			require.Equal(t, tc.msg, e.Error.Message)
		})
	}
	// The numbers are in the data too, as eth_getProof's.
	cl, err := rpc.Dial(url)
	require.NoError(t, err)
	defer cl.Close()
	var out json.RawMessage
	err = cl.Call(&out, "optimism_outputAtBlock", hexutil.Uint64(9))
	var de rpc.DataError
	require.True(t, errors.As(err, &de), "%v", err)
	require.Equal(t, map[string]any{"requested": "0x9", "head": "0x5"}, de.ErrorData())
}
