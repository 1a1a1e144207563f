package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"
)

// TestNodeEndpointPosture checks that the posture flags reach the node's
// listeners: a foreign Host is refused as geth refuses it, a namespace left
// out of http.api is not served, the batch limit is the flag's, and the
// operator listeners bind metrics.addr and grpc.addr, not http.addr.
func TestNodeEndpointPosture(t *testing.T) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	addFlags(fs)
	require.NoError(t, fs.Parse([]string{"--http.api", "eth,optimism", "--rpc.batch_request_limit", "2",
		"--http.addr", "0.0.0.0", "--metrics.addr", "127.0.0.1", "--grpc.addr", "127.0.0.1"}))
	v, err := loadConfig(fs, "")
	require.NoError(t, err)
	parsed, err := nodeConfigFrom(v)
	require.NoError(t, err)

	cfg := testNodeConfig("")
	cfg.HTTPAddr, cfg.HTTPPort, cfg.WSPort = parsed.HTTPAddr, 0, 0
	cfg.MetricsAddr, cfg.MetricsPort = parsed.MetricsAddr, freePort(t)
	cfg.GRPCAddr, cfg.GRPCPort = parsed.GRPCAddr, freePort(t)
	cfg.Posture = parsed.Posture
	n, err := newNode(cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.NoError(t, n.Start(context.Background()))
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, n.Stop(ctx))
	}()
	require.True(t, strings.HasPrefix(n.ops.Addr(), "127.0.0.1:"), "ops binds metrics.addr: %s", n.ops.Addr())
	require.True(t, strings.HasPrefix(n.grpc.Addr(), "127.0.0.1:"), "gRPC binds grpc.addr: %s", n.grpc.Addr())

	_, port, err := net.SplitHostPort(n.api.HTTPAddr())
	require.NoError(t, err)
	url := "http://127.0.0.1:" + port
	post := func(host, body string) (int, string) {
		req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		if host != "" {
			req.Host = host
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	tests := []struct {
		name, host, body string
		status           int
		contains         string
	}{
		{"foreign host", "evil.example", `{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}`, http.StatusForbidden, "invalid host specified"},
		{"listed host", "localhost", `{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}`, http.StatusOK, `"result":"0x`},
		{"namespace not listed", "", `{"jsonrpc":"2.0","id":1,"method":"debug_getRawHeader","params":["0x0"]}`, http.StatusOK, `"code":-32601`},
		{"batch over the flag's limit", "", `[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"},{"jsonrpc":"2.0","id":2,"method":"eth_chainId"},{"jsonrpc":"2.0","id":3,"method":"eth_chainId"}]`, http.StatusOK, "batch too large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(tc.host, tc.body)
			require.Equal(t, tc.status, status, body)
			require.Contains(t, body, tc.contains)
		})
	}
}
