package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/history/historytest"
	"github.com/strata-chain/strata/history/store"
)

// postureAPIs are the namespaces over a chain of six blocks (head 5) in memory.
func postureAPIs(t *testing.T) []rpc.API {
	t.Helper()
	s, err := store.OpenMem(store.DefaultConfig())
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	g := historytest.NewChain(3)
	for range 6 {
		require.NoError(t, s.Ingest(context.Background(), g.Next()))
	}
	apis, err := NewAPIs(Config{ChainConfig: params.TestChainConfig, Reader: s})
	require.NoError(t, err)
	return apis
}

// startPosture serves apis on free loopback ports with cfg.
func startPosture(t *testing.T, apis []rpc.API, cfg ServerConfig) *Server {
	t.Helper()
	cfg.Addr = "127.0.0.1"
	s, err := NewServer(cfg, apis, nil)
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// httpResult is what a raw HTTP exchange came back with.
type httpResult struct {
	status int
	header http.Header
	body   string
}

// send makes one raw HTTP request; host overrides the Host header.
func send(t *testing.T, method, url, host, body string, header map[string]string) httpResult {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out []byte
	if resp.StatusCode != http.StatusSwitchingProtocols {
		out, err = io.ReadAll(resp.Body)
		require.NoError(t, err)
	}
	return httpResult{resp.StatusCode, resp.Header, string(out)}
}

// wsUpgrade is a WebSocket handshake's headers, with origin if not empty.
func wsUpgrade(origin string) map[string]string {
	h := map[string]string{"Connection": "Upgrade", "Upgrade": "websocket",
		"Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
	if origin != "" {
		h["Origin"] = origin
	}
	return h
}

const blockNumberCall = `{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`

// TestVirtualHosts: the Host header is checked as geth checks it.
func TestVirtualHosts(t *testing.T) {
	apis := postureAPIs(t)
	for _, tc := range []struct {
		name   string
		vhosts []string
		host   string
		status int
	}{
		{"default, localhost", nil, "localhost:8545", 200},
		{"default, LOCALHOST", nil, "LOCALHOST", 403},
		{"default, loopback IP", nil, "127.0.0.1:8545", 200},
		{"default, any IP", nil, "203.0.113.7", 200},
		{"default, IPv6", nil, "[::1]:8545", 200},
		{"default, another name", nil, "evil.example", 403},
		{"listed name", []string{"rpc.example"}, "rpc.example:443", 200},
		{"listed name, localhost no longer", []string{"rpc.example"}, "localhost", 403},
		{"wildcard", []string{"*"}, "evil.example", 200},
		{"empty list, a name", []string{}, "localhost", 403},
		{"empty list, an IP", []string{}, "127.0.0.1", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startPosture(t, apis, ServerConfig{HTTPVirtualHosts: tc.vhosts})
			r := send(t, http.MethodPost, "http://"+s.HTTPAddr(), tc.host, blockNumberCall, nil)
			require.Equal(t, tc.status, r.status, r.body)
			if tc.status == 403 {
				require.Equal(t, "invalid host specified\n", r.body, "geth's body")
			} else {
				require.Contains(t, r.body, `"result":"0x5"`)
			}
		})
	}
}

// TestWebSocketOrigins: an upgrade with an Origin outside the list gets
// 403, with geth's default list (http://localhost, http://<hostname>, any
// port) when none is given; one without an Origin is accepted.
func TestWebSocketOrigins(t *testing.T) {
	apis := postureAPIs(t)
	hostname, err := os.Hostname()
	require.NoError(t, err)
	for _, tc := range []struct {
		name    string
		origins []string
		origin  string
		status  int
	}{
		{"default, no origin", nil, "", 101},
		{"default, localhost", nil, "http://localhost", 101},
		{"default, localhost on a port", nil, "http://localhost:3000", 101},
		{"default, this host", nil, "http://" + hostname, 101},
		{"default, https localhost", nil, "https://localhost", 403},
		{"default, another origin", nil, "http://evil.example", 403},
		{"listed", []string{"https://app.example"}, "https://app.example", 101},
		{"listed, other scheme", []string{"https://app.example"}, "http://app.example", 403},
		{"listed, localhost no longer", []string{"https://app.example"}, "http://localhost", 403},
		{"wildcard", []string{"*"}, "http://evil.example", 101},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startPosture(t, apis, ServerConfig{WSOrigins: tc.origins, WSPort: freePort(t)})
			// The WebSocket port and the HTTP port's upgrades check alike.
			for _, addr := range []string{s.WSAddr(), s.HTTPAddr()} {
				r := send(t, http.MethodGet, "http://"+addr, "", "", wsUpgrade(tc.origin))
				require.Equal(t, tc.status, r.status, "%s: %s", addr, r.body)
			}
		})
	}
}

// TestCORS: without a CORS list no response carries CORS headers (geth's
// default); with one, only listed origins get them, preflight or not.
func TestCORS(t *testing.T) {
	apis := postureAPIs(t)
	preflight := func(origin string) map[string]string {
		return map[string]string{"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
	}
	for _, tc := range []struct {
		name    string
		cors    []string
		method  string
		header  map[string]string
		allowed string // Access-Control-Allow-Origin expected, "" none
	}{
		{"default, preflight", nil, http.MethodOptions, preflight("https://app.example"), ""},
		{"default, post", nil, http.MethodPost, map[string]string{"Origin": "https://app.example"}, ""},
		{"listed, preflight", []string{"https://app.example"}, http.MethodOptions, preflight("https://app.example"), "https://app.example"},
		{"listed, post", []string{"https://app.example"}, http.MethodPost, map[string]string{"Origin": "https://app.example"}, "https://app.example"},
		{"unlisted, preflight", []string{"https://app.example"}, http.MethodOptions, preflight("https://evil.example"), ""},
		{"unlisted, post", []string{"https://app.example"}, http.MethodPost, map[string]string{"Origin": "https://evil.example"}, ""},
		{"wildcard", []string{"*"}, http.MethodOptions, preflight("https://evil.example"), "*"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startPosture(t, apis, ServerConfig{HTTPCORSDomains: tc.cors})
			body := ""
			if tc.method == http.MethodPost {
				body = blockNumberCall
			}
			r := send(t, tc.method, "http://"+s.HTTPAddr(), "", body, tc.header)
			require.Equal(t, tc.allowed, r.header.Get("Access-Control-Allow-Origin"))
			require.Equal(t, http.StatusOK, r.status, "geth answers preflights 200 (its rs/cors v1.7.0), not rs/cors v1.11's 204")
			if tc.method == http.MethodPost {
				require.Contains(t, r.body, `"result":"0x5"`, "CORS is browser-enforced: the answer is served")
			}
		})
	}
}

// TestLimits: the body, batch and WebSocket message limits, default and
// set, answered as go-ethereum's rpc server answers them.
func TestLimits(t *testing.T) {
	apis := postureAPIs(t)
	big := `{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":["` + strings.Repeat("a", DefaultHTTPBodyLimit) + `"]}`

	s := startPosture(t, apis, ServerConfig{})
	url := "http://" + s.HTTPAddr()
	r := send(t, http.MethodPost, url, "", big, nil)
	require.Equal(t, http.StatusRequestEntityTooLarge, r.status, "5 MiB by default")
	require.Contains(t, r.body, "content length too large")
	r = send(t, http.MethodPost, url, "", batchOf(DefaultBatchRequestLimit, "eth_blockNumber"), nil)
	require.Equal(t, 200, r.status)
	require.NotContains(t, r.body, "error")
	r = send(t, http.MethodPost, url, "", batchOf(DefaultBatchRequestLimit+1, "eth_blockNumber"), nil)
	require.Equal(t, 200, r.status)
	require.JSONEq(t, `[{"jsonrpc":"2.0","id":0,"error":{"code":-32600,"message":"batch too large"}}]`, r.body)

	s = startPosture(t, apis, ServerConfig{HTTPBodyLimit: 300, BatchRequestLimit: 3, BatchResponseMaxSize: 100, WSReadLimit: 200})
	url = "http://" + s.HTTPAddr()
	r = send(t, http.MethodPost, url, "", blockNumberCall+strings.Repeat(" ", 300), nil)
	require.Equal(t, http.StatusRequestEntityTooLarge, r.status)
	r = send(t, http.MethodPost, url, "", batchOf(4, "eth_blockNumber"), nil)
	require.Contains(t, r.body, `"code":-32600`)
	// A block is over 100 bytes: the first answer passes the limit, the
	// calls after it are not made.
	block := `{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["latest",false]}`
	r = send(t, http.MethodPost, url, "", `[`+block+`,`+block+`,`+block+`]`, nil)
	var answers []rpcError
	require.NoError(t, json.Unmarshal([]byte(r.body), &answers), r.body)
	require.Len(t, answers, 3)
	require.Nil(t, answers[0].Error, r.body)
	for _, a := range answers[1:] {
		require.NotNil(t, a.Error, r.body)
		require.Equal(t, -32003, a.Error.Code)
		require.Equal(t, "response too large", a.Error.Message)
	}

	cl, err := rpc.Dial("ws://" + s.WSAddr())
	require.NoError(t, err)
	defer cl.Close()
	var n hexutil.Uint64
	require.NoError(t, cl.Call(&n, "eth_blockNumber"))
	require.Error(t, cl.Call(&n, "eth_getBalance", strings.Repeat("a", 300), "latest"), "a message over the read limit ends the connection")
}

// TestServerRateLimit: with a rate limit the listeners answer a client
// past its bucket with 429, WebSocket upgrades included.
func TestServerRateLimit(t *testing.T) {
	apis := postureAPIs(t)
	// One token refilling every 1000 s: the second request is refused
	// however slow the machine.
	s := startPosture(t, apis, ServerConfig{RateLimit: RateLimitConfig{PerSecond: 0.001, Burst: 1}, WSPort: freePort(t)})
	r := send(t, http.MethodPost, "http://"+s.HTTPAddr(), "", blockNumberCall, nil)
	require.Equal(t, 200, r.status)
	for _, addr := range []string{s.HTTPAddr(), s.WSAddr()} {
		r = send(t, http.MethodPost, "http://"+addr, "", blockNumberCall, nil)
		require.Equal(t, http.StatusTooManyRequests, r.status)
		require.Contains(t, r.body, `"code":-32005`)
		r = send(t, http.MethodGet, "http://"+addr, "", "", wsUpgrade(""))
		require.Equal(t, http.StatusTooManyRequests, r.status)
	}
}

// TestNamespaces: which namespaces each listener serves (rpc_modules and a
// debug call), by bind address and list.
func TestNamespaces(t *testing.T) {
	apis := postureAPIs(t)
	all := []string{"debug", "eth", "optimism", "rpc", "strata"}
	for _, tc := range []struct {
		name             string
		addr             string
		httpAPI, wsAPI   []string
		wantHTTP, wantWS []string
		err              string
	}{
		{"loopback default: everything", "127.0.0.1", nil, nil, all, all, ""},
		{"localhost default: everything", "localhost", nil, nil, all, all, ""},
		{"public default: no debug", "0.0.0.0", nil, nil, []string{"eth", "optimism", "rpc", "strata"}, []string{"eth", "optimism", "rpc", "strata"}, ""},
		{"every interface default: no debug", "", nil, nil, []string{"eth", "optimism", "rpc", "strata"}, []string{"eth", "optimism", "rpc", "strata"}, ""},
		{"public, debug listed", "0.0.0.0", []string{"eth", "debug"}, nil, []string{"debug", "eth", "rpc"}, []string{"eth", "optimism", "rpc", "strata"}, ""},
		{"per listener", "127.0.0.1", []string{"eth"}, []string{"optimism", " eth", "eth"}, []string{"eth", "rpc"}, []string{"eth", "optimism", "rpc"}, ""},
		{"empty list", "127.0.0.1", []string{}, nil, []string{"rpc"}, all, ""},
		{"unknown", "127.0.0.1", []string{"eth", "net"}, nil, nil, nil, `HTTP API list names "net": no such namespace (available: eth,optimism,debug,strata)`},
		{"admin does not exist", "0.0.0.0", nil, []string{"admin"}, nil, nil, `WebSocket API list names "admin"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// NewServer does no I/O: the rpc servers are asked in process.
			s, err := NewServer(ServerConfig{Addr: tc.addr, HTTPAPI: tc.httpAPI, WSAPI: tc.wsAPI}, apis, nil)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			defer func() { require.NoError(t, s.Stop(context.Background())) }()
			for _, l := range []struct {
				srv  *rpc.Server
				want []string
			}{{s.httpRPC, tc.wantHTTP}, {s.wsRPC, tc.wantWS}} {
				cl := rpc.DialInProc(l.srv)
				var mods map[string]string
				require.NoError(t, cl.Call(&mods, "rpc_modules"))
				var got []string
				for m := range mods {
					got = append(got, m)
				}
				slices.Sort(got)
				require.Equal(t, l.want, got)
				var raw json.RawMessage
				err := cl.Call(&raw, "debug_chainConfig")
				if slices.Contains(l.want, "debug") {
					require.NoError(t, err)
				} else {
					require.ErrorContains(t, err, "the method debug_chainConfig does not exist/is not available")
				}
				cl.Close()
			}
		})
	}
}

// TestServerConfigRefused: bad limits and a namespace list given to Listen
// are errors, not silently ignored.
func TestServerConfigRefused(t *testing.T) {
	apis := postureAPIs(t)
	for _, cfg := range []ServerConfig{
		{HTTPBodyLimit: -1}, {WSReadLimit: -1}, {BatchRequestLimit: -1}, {BatchResponseMaxSize: -1},
		{RateLimit: RateLimitConfig{PerSecond: -1}}, {RateLimit: RateLimitConfig{PerSecond: 1, Burst: -1}},
	} {
		_, err := NewServer(cfg, apis, nil)
		require.Error(t, err, "%+v", cfg)
	}
	srv := rpc.NewServer()
	defer srv.Stop()
	_, err := Listen(ServerConfig{Addr: "127.0.0.1", HTTPAPI: []string{"eth"}}, srv, nil)
	require.ErrorContains(t, err, "NewServer")
}

// TestOperatorAddrs: the operator servers bind loopback by default,
// whatever the JSON-RPC address, and refuse a malformed address.
func TestOperatorAddrs(t *testing.T) {
	o, err := NewOpsServer(OpsConfig{})
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:6060", o.cfg.Addr)
	g := NewGRPCServer(GRPCConfig{})
	require.Equal(t, "127.0.0.1:9545", g.cfg.Addr)
	_, err = NewOpsServer(OpsConfig{Addr: "no-port"})
	require.ErrorContains(t, err, `metrics address "no-port"`)
	for _, tc := range []struct {
		addr string
		warn bool
	}{{"127.0.0.1:1", false}, {"[::1]:1", false}, {"localhost:1", false}, {":1", true}, {"0.0.0.0:1", true}, {"10.0.0.1:1", true}, {"node.example:1", true}} {
		var logged strings.Builder
		require.NoError(t, checkOperatorAddr("gRPC", tc.addr, slog.New(slog.NewTextHandler(&logged, nil))))
		require.Equal(t, tc.warn, strings.Contains(logged.String(), "without TLS or auth"), tc.addr)
	}
}

// TestListenKeepsThePosture: Listen, serving one rpc.Server whole, checks
// hosts and origins and applies the limits as NewServer does.
func TestListenKeepsThePosture(t *testing.T) {
	srv := rpc.NewServer()
	require.NoError(t, registerNamespaces(srv, postureAPIs(t), []string{NamespaceEth}))
	s, err := Listen(ServerConfig{Addr: "127.0.0.1", BatchRequestLimit: 2}, srv, nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	url := "http://" + s.HTTPAddr()
	require.Equal(t, 403, send(t, http.MethodPost, url, "evil.example", blockNumberCall, nil).status)
	require.Equal(t, 403, send(t, http.MethodGet, url, "", "", wsUpgrade("http://evil.example")).status)
	require.Contains(t, send(t, http.MethodPost, url, "", batchOf(3, "eth_blockNumber"), nil).body, "batch too large")
	require.Contains(t, send(t, http.MethodPost, url, "localhost", blockNumberCall, nil).body, `"result":"0x5"`)
}
