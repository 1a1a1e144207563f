package main

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
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// readiness answers whether the node serves fresh data; nil means ready.
type readiness func() error

// opsServer serves /metrics, /healthz (alive), /readyz (fresh, SLOs met)
// and the REST gateway (GET /v1/status) over HTTP.
type opsServer struct {
	addr  string
	ln    net.Listener
	srv   *http.Server
	ready readiness
}

func newOpsServer(addr string, gatherer prometheus.Gatherer, ready readiness, rest http.Handler) *opsServer {
	o := &opsServer{addr: addr, ready: ready}
	mux := http.NewServeMux()
	if rest != nil {
		mux.Handle("/v1/", rest)
	}
	mux.Handle("/metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := o.ready(); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	o.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return o
}

// Start binds the listener before returning, so Addr is valid.
func (o *opsServer) Start(log *slog.Logger) error {
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("metrics listener %s: %w", o.addr, err)
	}
	o.ln = ln
	go func() {
		if err := o.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("Metrics server failed", "err", err)
		}
	}()
	return nil
}

func (o *opsServer) Addr() string { return o.ln.Addr().String() }

func (o *opsServer) Stop(ctx context.Context) error { return o.srv.Shutdown(ctx) }

// grpcServer serves the standard gRPC health service; the status and stream
// services join it later.
type grpcServer struct {
	addr   string
	ln     net.Listener
	srv    *grpc.Server
	health *health.Server
}

func newGRPCServer(addr string) *grpcServer {
	g := &grpcServer{addr: addr, srv: grpc.NewServer(), health: health.NewServer()}
	healthpb.RegisterHealthServer(g.srv, g.health)
	return g
}

func (g *grpcServer) Start(log *slog.Logger) error {
	ln, err := net.Listen("tcp", g.addr)
	if err != nil {
		return fmt.Errorf("grpc listener %s: %w", g.addr, err)
	}
	g.ln = ln
	go func() {
		if err := g.srv.Serve(ln); err != nil {
			log.Error("gRPC server failed", "err", err)
		}
	}()
	return nil
}

func (g *grpcServer) Addr() string { return g.ln.Addr().String() }

func (g *grpcServer) setServing(ok bool) {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if ok {
		st = healthpb.HealthCheckResponse_SERVING
	}
	g.health.SetServingStatus("", st)
}

func (g *grpcServer) Stop() {
	g.health.Shutdown()
	g.srv.GracefulStop()
}
