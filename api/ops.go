package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// OpsConfig configures the operator HTTP server.
type OpsConfig struct {
	// Addr is host:port to listen on, independent of the JSON-RPC address
	// (proposed flags metrics.addr and metrics.port; geth's --metrics.addr
	// defaults to 127.0.0.1 too). "" is DefaultOpsAddr, loopback; port 0
	// picks a free port. Anything else than loopback is served with a
	// warning: the server has no TLS and no auth (docs/endpoint-posture.md).
	Addr string
	// Gatherer is served at /metrics.
	Gatherer prometheus.Gatherer
	// Ready answers /readyz: nil is ready, an error is 503 with its text.
	// Nil means always ready.
	Ready func() error
	// Status, if set, is served as GET /v1/status (the Status service's REST
	// mapping, StatusGateway).
	Status StatusFunc
	Log    *slog.Logger
}

// OpsServer serves what operators and orchestrators poll, over HTTP:
// /metrics (Prometheus), /healthz (the process lives), /readyz (the data
// served is fresh and the SLOs are met) and GET /v1/status. NewOpsServer
// only builds it; Start listens, Stop shuts it down.
type OpsServer struct {
	cfg OpsConfig
	srv *http.Server
	ln  net.Listener
}

// DefaultOpsAddr is where the operator HTTP server listens by default:
// loopback, geth's metrics port.
const DefaultOpsAddr = "127.0.0.1:6060"

// NewOpsServer builds the server's handlers. It does no I/O.
func NewOpsServer(cfg OpsConfig) (*OpsServer, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Addr == "" {
		cfg.Addr = DefaultOpsAddr
	}
	if err := checkOperatorAddr("metrics", cfg.Addr, cfg.Log); err != nil {
		return nil, err
	}
	if cfg.Gatherer == nil {
		cfg.Gatherer = prometheus.NewRegistry()
	}
	if cfg.Ready == nil {
		cfg.Ready = func() error { return nil }
	}
	mux := http.NewServeMux()
	if cfg.Status != nil {
		// The gateway calls the Status service in process; the context
		// only matters for gateways that dial a remote endpoint.
		gw, err := StatusGateway(context.Background(), cfg.Status)
		if err != nil {
			return nil, err
		}
		mux.Handle("/v1/", gw)
	}
	mux.Handle("/metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := cfg.Ready(); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return &OpsServer{cfg: cfg, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}, nil
}

// Start binds the listener before it returns, so Addr is valid, and serves
// in the background until Stop. ctx bounds the bind only.
func (o *OpsServer) Start(ctx context.Context) error {
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", o.cfg.Addr)
	if err != nil {
		return fmt.Errorf("metrics listener %s: %w", o.cfg.Addr, err)
	}
	o.ln = ln
	go func() {
		if err := o.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			o.cfg.Log.Error("Metrics server failed", "err", err)
		}
	}()
	return nil
}

// Addr is the bound address; empty before Start.
func (o *OpsServer) Addr() string {
	if o.ln == nil {
		return ""
	}
	return o.ln.Addr().String()
}

// Stop stops listening and waits, until ctx ends, for requests in flight.
func (o *OpsServer) Stop(ctx context.Context) error { return o.srv.Shutdown(ctx) }
