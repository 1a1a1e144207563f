package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/strata-chain/strata/api/statuspb"
)

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// TestOpsServer: New binds nothing; after Start the server answers
// /healthz, /readyz (503 with the reason while not ready), /metrics and
// GET /v1/status; after Stop it no longer listens.
func TestOpsServer(t *testing.T) {
	addr := freeAddr(t)
	reg := prometheus.NewRegistry()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "strata_test_gauge", Help: "test"})
	reg.MustRegister(g)
	g.Set(7)
	var notReady error = errors.New("lag_blocks breached")
	o, err := NewOpsServer(OpsConfig{Addr: addr, Gatherer: reg, Ready: func() error { return notReady },
		Status: func() *statuspb.NodeStatus { return &statuspb.NodeStatus{Mode: "live", Head: 42} }})
	require.NoError(t, err)
	require.Empty(t, o.Addr())
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err, "New must not bind")
	require.NoError(t, ln.Close())

	require.NoError(t, o.Start(context.Background()))
	require.Equal(t, addr, o.Addr())
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + o.Addr() + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	code, body := get("/healthz")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "ok\n", body)
	code, body = get("/readyz")
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Contains(t, body, "not ready: lag_blocks breached")
	notReady = nil
	code, body = get("/readyz")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "ready\n", body)
	code, body = get("/metrics")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "strata_test_gauge 7")
	code, body = get("/v1/status")
	require.Equal(t, http.StatusOK, code, body)
	var st struct {
		Mode string `json:"mode"`
		Head string `json:"head"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &st), body)
	require.Equal(t, "live", st.Mode)
	require.Equal(t, "42", st.Head)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, o.Stop(ctx))
	_, err = http.Get("http://" + addr + "/healthz")
	require.Error(t, err)
	http.DefaultClient.CloseIdleConnections()
}

// TestGRPCServer: New binds nothing; after Start the health service says
// SERVING and strata.v1.Status answers; Stop ends a stream still open when
// its context runs out.
func TestGRPCServer(t *testing.T) {
	addr := freeAddr(t)
	g := NewGRPCServer(GRPCConfig{Addr: addr, Status: func() *statuspb.NodeStatus { return &statuspb.NodeStatus{Head: 9} }})
	require.Empty(t, g.Addr())
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err, "New must not bind")
	require.NoError(t, ln.Close())
	require.NoError(t, g.Start(context.Background()))
	require.Equal(t, addr, g.Addr())

	conn, err := grpc.NewClient(g.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	hc, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	require.NoError(t, err)
	require.Equal(t, healthpb.HealthCheckResponse_SERVING, hc.Status)
	st, err := statuspb.NewStatusClient(conn).GetStatus(ctx, &statuspb.GetStatusRequest{})
	require.NoError(t, err)
	require.Equal(t, uint64(9), st.Head)

	// A Watch stream stays open until the server ends it.
	watch, err := healthpb.NewHealthClient(conn).Watch(ctx, &healthpb.HealthCheckRequest{})
	require.NoError(t, err)
	first, err := watch.Recv()
	require.NoError(t, err)
	require.Equal(t, healthpb.HealthCheckResponse_SERVING, first.Status)
	stopCtx, stopCancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer stopCancel()
	require.NoError(t, g.Stop(stopCtx))
	for {
		if _, err := watch.Recv(); err != nil {
			break
		}
	}
}
