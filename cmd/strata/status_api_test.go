package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/strata-chain/strata/api/statuspb"
	"github.com/strata-chain/strata/sequencer"
)

// TestStatusAndReadiness: GET /v1/status and strata.v1.Status agree with
// the node; /readyz answers ready while the SLOs hold and 503 naming the
// broken SLO when the upstream runs ahead; the metrics carry SLO states.
func TestStatusAndReadiness(t *testing.T) {
	cfg := testNodeConfig(t.TempDir())
	cfg.MetricsPort, cfg.GRPCPort = freePort(t), freePort(t)
	n, err := startNode(context.Background(), cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer n.Close()
	runUntil(t, n, func(info sequencer.BlockInfo) bool { return info.Number >= 10 })

	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + n.ops.Addr() + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	code, body := get("/v1/status")
	require.Equal(t, http.StatusOK, code, body)
	var st struct {
		Mode         string  `json:"mode"`
		Head         string  `json:"head"`
		UpstreamHead string  `json:"upstream_head"`
		LagBlocks    string  `json:"lag_blocks"`
		LagMs        float64 `json:"lag_ms"`
		OldestBlock  string  `json:"oldest_block"`
		NewestBlock  string  `json:"newest_block"`
		Ready        bool    `json:"ready"`
		Slos         []struct {
			Name, State string
			Target      float64
		} `json:"slos"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &st), body)
	head, err := n.store.Head()
	require.NoError(t, err)
	require.Equal(t, "sequencer", st.Mode)
	require.Equal(t, st.Head, st.NewestBlock)
	require.Equal(t, "0", st.OldestBlock)
	require.Equal(t, "0", st.LagBlocks)
	require.Len(t, st.Slos, 3)
	for _, o := range st.Slos {
		require.Equal(t, "ok", o.State, body)
	}
	require.Equal(t, 5.0, st.Slos[0].Target, "max_lag_blocks from the contract")
	require.Equal(t, 150_000.0, st.Slos[1].Target, "the test contract's max_lag of 10 min at 200 ms, scaled to 50 ms blocks")

	conn, err := grpc.NewClient(n.grpc.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	gs, err := statuspb.NewStatusClient(conn).GetStatus(ctx, &statuspb.GetStatusRequest{})
	require.NoError(t, err)
	require.Equal(t, head.Number, gs.Head)
	require.Equal(t, head.Hash.Hex(), gs.HeadHash)

	code, body = get("/readyz")
	require.Equal(t, http.StatusOK, code, body)

	// The upstream announces 40 blocks the node does not have.
	n.slo.Upstream(head.Number+40, time.Now().Add(-200*time.Second))
	n.lastMu.Lock()
	n.lastCommit = time.Now()
	n.lastMu.Unlock()
	code, body = get("/readyz")
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Contains(t, body, "max_lag_blocks breached")
	require.Contains(t, body, "max_lag_ms breached")
	_, metrics := get("/metrics")
	require.Contains(t, metrics, `strata_slo_state{slo="max_lag_blocks"} 2`)
	require.Contains(t, metrics, "strata_lag_blocks 40")
	require.Contains(t, metrics, `strata_mode{mode="sequencer"} 1`)
	require.True(t, strings.Contains(metrics, "strata_proof_seconds_bucket"))
	code, _ = get("/healthz")
	require.Equal(t, http.StatusOK, code, "alive while not ready")

	// Every series the Grafana dashboard queries is exported.
	raw, err := os.ReadFile("../../configs/grafana-dashboard.json")
	require.NoError(t, err)
	names := regexp.MustCompile(`strata_[a-z0-9_]+`).FindAllString(string(raw), -1)
	require.NotEmpty(t, names)
	for _, name := range names {
		require.Contains(t, metrics, "\n"+name, "dashboard series %s is not exported", name)
	}
}
