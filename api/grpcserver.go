package api

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// GRPCConfig configures the gRPC server.
type GRPCConfig struct {
	// Addr is host:port to listen on, independent of the JSON-RPC address
	// (proposed flags grpc.addr and grpc.port). "" is DefaultGRPCAddr,
	// loopback; port 0 picks a free port. Anything else than loopback is
	// served with a warning: the server has no TLS and no auth
	// (docs/endpoint-posture.md shows how to put both in front of it).
	Addr string
	// Status, if set, is served as strata.v1.Status.
	Status StatusFunc
	Log    *slog.Logger
}

// GRPCServer serves the standard gRPC health service, strata.v1.Status and
// whatever else is registered on Server before Start (the node registers
// the strata.v1.BlockStream followers read). The health service answers
// SERVING from Start until Stop.
type GRPCServer struct {
	cfg    GRPCConfig
	srv    *grpc.Server
	health *health.Server
	ln     net.Listener
}

// DefaultGRPCAddr is where the gRPC server listens by default: loopback.
const DefaultGRPCAddr = "127.0.0.1:9545"

// NewGRPCServer builds the server with the health and Status services. It
// does no I/O; a malformed Addr is reported by Start.
func NewGRPCServer(cfg GRPCConfig) *GRPCServer {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Addr == "" {
		cfg.Addr = DefaultGRPCAddr
	}
	_ = checkOperatorAddr("gRPC", cfg.Addr, cfg.Log)
	g := &GRPCServer{cfg: cfg, srv: grpc.NewServer(), health: health.NewServer()}
	healthpb.RegisterHealthServer(g.srv, g.health)
	if cfg.Status != nil {
		RegisterStatus(g.srv, cfg.Status)
	}
	return g
}

// Server is the gRPC server, to register more services on before Start.
func (g *GRPCServer) Server() *grpc.Server { return g.srv }

// Start binds the listener before it returns, so Addr is valid, serves in
// the background until Stop and reports SERVING. ctx bounds the bind only.
func (g *GRPCServer) Start(ctx context.Context) error {
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", g.cfg.Addr)
	if err != nil {
		return fmt.Errorf("grpc listener %s: %w", g.cfg.Addr, err)
	}
	g.ln = ln
	go func() {
		if err := g.srv.Serve(ln); err != nil {
			g.cfg.Log.Error("gRPC server failed", "err", err)
		}
	}()
	g.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	return nil
}

// Addr is the bound address; empty before Start.
func (g *GRPCServer) Addr() string {
	if g.ln == nil {
		return ""
	}
	return g.ln.Addr().String()
}

// Stop reports NOT_SERVING, stops accepting and lets the calls in flight
// finish; when ctx ends first, the calls still running are cut off. That is
// not an error: a follower's block stream never ends by itself.
func (g *GRPCServer) Stop(ctx context.Context) error {
	g.health.Shutdown()
	done := make(chan struct{})
	go func() {
		g.srv.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		g.srv.Stop()
		<-done
		return nil
	}
}
