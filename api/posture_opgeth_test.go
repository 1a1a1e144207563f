package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/sequencer"
	"github.com/strata-chain/strata/sequencer/engine/opgethtest"
)

// hostileAnswer is what a hostile request gets: the HTTP status, the
// JSON-RPC error code (0 if none: an HTTP-level refusal or a result) and
// whether a CORS header came back.
type hostileAnswer struct {
	Status  int
	RPCCode int
	RPCMsg  string
	CORS    string
	Body    string // the body of an HTTP-level refusal, "" otherwise
}

// answerOf reduces an HTTP exchange to what the endpoints must agree on.
func answerOf(t *testing.T, r httpResult) hostileAnswer {
	t.Helper()
	a := hostileAnswer{Status: r.status, CORS: r.header.Get("Access-Control-Allow-Origin")}
	body := strings.TrimSpace(r.body)
	switch {
	case strings.HasPrefix(body, "["):
		var all []rpcError
		require.NoError(t, json.Unmarshal([]byte(body), &all), body)
		if len(all) > 0 && all[0].Error != nil {
			a.RPCCode, a.RPCMsg = all[0].Error.Code, all[0].Error.Message
		}
	case strings.HasPrefix(body, "{"):
		var one rpcError
		require.NoError(t, json.Unmarshal([]byte(body), &one), body)
		if one.Error != nil {
			a.RPCCode, a.RPCMsg = one.Error.Code, one.Error.Message
		}
	default:
		a.Body = body
	}
	return a
}

// TestHostileRequestsAgainstOpGeth sends the same hostile requests to
// op-geth and to Strata, both with the defaults (plus one CORS domain and a
// WebSocket listener on each), and requires the same HTTP status, JSON-RPC
// error code and message, CORS header and refusal body. It needs the op-geth
// binary: $STRATA_OPGETH, else bin/op-geth (`make op-geth`); without either
// it is skipped.
func TestHostileRequestsAgainstOpGeth(t *testing.T) {
	if os.Getenv("STRATA_OPGETH") == "" {
		root, err := opgethtest.RepoRoot()
		if err != nil {
			t.Skip("no op-geth: STRATA_OPGETH is unset")
		}
		if _, err := os.Stat(filepath.Join(root, "bin", "op-geth")); err != nil {
			t.Skip("no op-geth: STRATA_OPGETH is unset and there is no bin/op-geth (make op-geth)")
		}
	}
	const app = "https://app.example"
	g, err := sequencer.Genesis(sequencer.DefaultConfig(), 1_700_000_000_000)
	require.NoError(t, err)
	wsPort := freePort(t)
	geth := opgethtest.Start(t, g, opgethtest.WithArgs("--http.corsdomain", app,
		"--ws", "--ws.addr", "127.0.0.1", "--ws.port", fmt.Sprint(wsPort), "--ws.api", "eth"))
	gethWS := fmt.Sprintf("http://127.0.0.1:%d", wsPort)

	s := startPosture(t, postureAPIs(t), ServerConfig{HTTPCORSDomains: []string{app}, WSPort: freePort(t)})
	strataHTTP, strataWS := "http://"+s.HTTPAddr(), "http://"+s.WSAddr()

	preflight := func(origin string) map[string]string {
		return map[string]string{"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
	}
	oversized := `{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":["` + strings.Repeat("a", DefaultHTTPBodyLimit) + `"]}`
	for _, tc := range []struct {
		name   string
		ws     bool // to the WebSocket listener
		method string
		host   string
		body   string
		header map[string]string
	}{
		{"bad Host", false, http.MethodPost, "evil.example", `{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}`, nil},
		{"bad Host with a port", false, http.MethodPost, "evil.example:8545", `{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}`, nil},
		{"IP Host", false, http.MethodPost, "203.0.113.7", `{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x00"]}`, nil},
		{"bad Origin on a WebSocket upgrade", true, http.MethodGet, "", "", wsUpgrade("http://evil.example")},
		{"localhost Origin on a WebSocket upgrade", true, http.MethodGet, "", "", wsUpgrade("http://localhost:3000")},
		{"oversized body", false, http.MethodPost, "", oversized, nil},
		{"oversized batch", false, http.MethodPost, "", batchOf(DefaultBatchRequestLimit+1, "eth_chainId"), nil},
		{"largest batch", false, http.MethodPost, "", batchOf(DefaultBatchRequestLimit, "eth_chainId"), nil},
		{"eth_sendRawTransaction 0x00", false, http.MethodPost, "", `{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x00"]}`, nil},
		{"eth_sendRawTransaction 0x", false, http.MethodPost, "", `{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x"]}`, nil},
		{"eth_sendRawTransaction bad hex", false, http.MethodPost, "", `{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x0"]}`, nil},
		{"CORS preflight, unlisted origin", false, http.MethodOptions, "", "", preflight("https://evil.example")},
		{"CORS preflight, listed origin", false, http.MethodOptions, "", "", preflight(app)},
		{"cross-origin POST, unlisted origin", false, http.MethodPost, "", `{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x00"]}`, map[string]string{"Origin": "https://evil.example"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gethURL, strataURL := geth.HTTPURL, strataHTTP
			if tc.ws {
				gethURL, strataURL = gethWS, strataWS
			}
			want := answerOf(t, send(t, tc.method, gethURL, tc.host, tc.body, tc.header))
			got := answerOf(t, send(t, tc.method, strataURL, tc.host, tc.body, tc.header))
			require.Equal(t, want, got, "op-geth's answer, then Strata's")
			t.Logf("both: %+v", got)
		})
	}
}

// batchOf is n calls of method in one batch.
func batchOf(n int, method string) string {
	calls := make([]string, n)
	for i := range calls {
		calls[i] = fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"%s","params":[]}`, i, method)
	}
	return "[" + strings.Join(calls, ",") + "]"
}
