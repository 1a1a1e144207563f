package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/rpc"
)

// ServerConfig says where to listen. Port 0 picks a free port. The HTTP
// port also accepts WebSocket upgrades; a distinct non-zero WSPort adds a
// WebSocket-only listener.
type ServerConfig struct {
	Addr     string
	HTTPPort int
	WSPort   int
}

// Server serves an rpc.Server over HTTP and WebSocket.
type Server struct {
	log    *slog.Logger
	rpc    *rpc.Server
	httpLn net.Listener
	wsLn   net.Listener
	srvs   []*http.Server
}

// HTTP timeouts as geth's defaults.
const (
	readTimeout  = 30 * time.Second
	writeTimeout = 30 * time.Second
	idleTimeout  = 120 * time.Second
)

func isWebsocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket") &&
		strings.Contains(strings.ToLower(r.Header.Get("Connection")), "upgrade")
}

// Listen binds the listeners and serves until Close.
func Listen(cfg ServerConfig, h *rpc.Server, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{log: log, rpc: h}
	ws := h.WebsocketHandler([]string{"*"})
	both := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isWebsocket(r) {
			ws.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
	var err error
	if s.httpLn, err = net.Listen("tcp", net.JoinHostPort(cfg.Addr, strconv.Itoa(cfg.HTTPPort))); err != nil {
		return nil, fmt.Errorf("JSON-RPC HTTP listener: %w", err)
	}
	s.serve(s.httpLn, both)
	if cfg.WSPort != 0 && cfg.WSPort != cfg.HTTPPort {
		if s.wsLn, err = net.Listen("tcp", net.JoinHostPort(cfg.Addr, strconv.Itoa(cfg.WSPort))); err != nil {
			s.Close()
			return nil, fmt.Errorf("JSON-RPC WebSocket listener: %w", err)
		}
		s.serve(s.wsLn, ws)
	}
	return s, nil
}

func (s *Server) serve(ln net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadTimeout: readTimeout, WriteTimeout: writeTimeout, IdleTimeout: idleTimeout, ReadHeaderTimeout: readTimeout}
	s.srvs = append(s.srvs, srv)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("JSON-RPC server failed", "addr", ln.Addr(), "err", err)
		}
	}()
}

// HTTPAddr is the bound HTTP address.
func (s *Server) HTTPAddr() string { return s.httpLn.Addr().String() }

// WSAddr is the bound WebSocket address: the WebSocket-only listener if
// there is one, else the HTTP listener.
func (s *Server) WSAddr() string {
	if s.wsLn != nil {
		return s.wsLn.Addr().String()
	}
	return s.HTTPAddr()
}

// Close stops the listeners, letting requests in flight finish for up to
// five seconds, then stops the rpc server (closing WebSocket connections).
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	for _, srv := range s.srvs {
		errs = append(errs, srv.Shutdown(ctx))
	}
	s.rpc.Stop()
	return errors.Join(errs...)
}
