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

	"github.com/ethereum/go-ethereum/node"
	"github.com/ethereum/go-ethereum/rpc"
)

// ServerConfig says where the JSON-RPC listeners bind and what they let
// through: the same posture as geth's HTTP and WebSocket endpoints, with
// geth's defaults (docs/endpoint-posture.md compares each). Port 0 picks a
// free port. The HTTP port also accepts WebSocket upgrades (served as the
// WebSocket listener is: WSAPI, WSOrigins); a distinct non-zero WSPort adds
// a WebSocket-only listener.
//
// For the lists, nil means the default and a non-nil empty list means
// none, so a flag given as "" empties a list.
type ServerConfig struct {
	// Addr is the host both listeners bind ("" or 0.0.0.0: every
	// interface). Whether it is loopback decides the default namespaces.
	Addr     string
	HTTPPort int
	WSPort   int

	// HTTPAPI and WSAPI are the namespaces each listener serves (geth's
	// --http.api, --ws.api), from eth, optimism, debug and strata; rpc is
	// always served. nil serves all of them on a loopback Addr, and all but
	// debug (and admin) on any other, with a warning: a public listener
	// serves debug only if it is listed. A name that does not exist is an
	// error. Only NewServer can choose; Listen serves its rpc.Server whole.
	HTTPAPI []string
	WSAPI   []string
	// HTTPVirtualHosts are the Host headers HTTP requests may carry
	// (--http.vhosts; nil: "localhost" as geth). A Host that is an IP
	// address is always accepted, "*" accepts all; any other gets geth's
	// 403 "invalid host specified". WebSocket upgrades are checked by
	// origin instead, as in geth.
	HTTPVirtualHosts []string
	// HTTPCORSDomains are the browser origins that get CORS headers
	// (--http.corsdomain; nil: none, as geth). "*" allows any.
	HTTPCORSDomains []string
	// WSOrigins are the Origin headers a WebSocket upgrade may carry
	// (--ws.origins). nil is geth's default: http://localhost and
	// http://<this machine's hostname>, any port; "*" allows all. An
	// upgrade without an Origin header (not from a browser) is accepted,
	// one with another origin gets 403.
	WSOrigins []string
	// HTTPBodyLimit bounds an HTTP request's body in bytes (0: 5 MiB, as
	// geth); a larger Content-Length gets 413.
	HTTPBodyLimit int
	// WSReadLimit bounds one WebSocket message in bytes (0: 32 MiB, as
	// geth); a larger one closes the connection.
	WSReadLimit int64
	// BatchRequestLimit bounds the calls in one batch (0: 1000, as geth's
	// --rpc.batch-request-limit); a larger batch gets one -32600 "batch too
	// large" error.
	BatchRequestLimit int
	// BatchResponseMaxSize bounds a batch's response in bytes (0: 25 MB, as
	// geth's --rpc.batch-response-max-size); the calls past it get -32003
	// "response too large". geth bounds no single response; neither does
	// Strata beyond each method's own limits (Config).
	BatchResponseMaxSize int
	// RateLimit is the optional per-IP request rate (off by default; geth
	// has none).
	RateLimit RateLimitConfig
}

// Limits as geth's defaults.
const (
	DefaultHTTPBodyLimit        = 5 * 1024 * 1024
	DefaultWSReadLimit          = 32 * 1024 * 1024
	DefaultBatchRequestLimit    = 1000
	DefaultBatchResponseMaxSize = 25 * 1000 * 1000
)

// DefaultHTTPVirtualHosts is geth's --http.vhosts default.
func DefaultHTTPVirtualHosts() []string { return []string{"localhost"} }

// withDefaults fills the zero fields with geth's defaults and checks the
// rest.
func (c ServerConfig) withDefaults() (ServerConfig, error) {
	if c.HTTPBodyLimit < 0 || c.WSReadLimit < 0 || c.BatchRequestLimit < 0 || c.BatchResponseMaxSize < 0 {
		return c, fmt.Errorf("api: negative limit (body %d, ws read %d, batch %d, batch response %d)",
			c.HTTPBodyLimit, c.WSReadLimit, c.BatchRequestLimit, c.BatchResponseMaxSize)
	}
	if c.HTTPVirtualHosts == nil {
		c.HTTPVirtualHosts = DefaultHTTPVirtualHosts()
	}
	if c.HTTPBodyLimit == 0 {
		c.HTTPBodyLimit = DefaultHTTPBodyLimit
	}
	if c.WSReadLimit == 0 {
		c.WSReadLimit = DefaultWSReadLimit
	}
	if c.BatchRequestLimit == 0 {
		c.BatchRequestLimit = DefaultBatchRequestLimit
	}
	if c.BatchResponseMaxSize == 0 {
		c.BatchResponseMaxSize = DefaultBatchResponseMaxSize
	}
	return c, nil
}

// Server serves JSON-RPC over HTTP and WebSocket, each listener with its own
// rpc.Server holding only its namespaces (as geth). NewServer builds it
// without I/O; Start binds; Stop shuts it down.
type Server struct {
	cfg      ServerConfig
	log      *slog.Logger
	httpRPC  *rpc.Server
	wsRPC    *rpc.Server
	combined http.Handler // the HTTP port: JSON-RPC over HTTP and WebSocket upgrades
	wsOnly   http.Handler // the WebSocket port
	httpLn   net.Listener
	wsLn     net.Listener
	srvs     []*http.Server
}

// HTTP timeouts as geth's defaults.
const (
	readTimeout  = 30 * time.Second
	writeTimeout = 30 * time.Second
	idleTimeout  = 120 * time.Second
)

// shutdownTimeout bounds Close's wait for requests in flight.
const shutdownTimeout = 5 * time.Second

func isWebsocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket") &&
		strings.Contains(strings.ToLower(r.Header.Get("Connection")), "upgrade")
}

// NewServer builds the listeners' rpc servers from apis (NewAPIs) and
// wraps them in the posture cfg describes. It does no I/O.
func NewServer(cfg ServerConfig, apis []rpc.API, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	loopback := isLoopbackHost(cfg.Addr)
	httpNS, err := selectNamespaces("HTTP", cfg.HTTPAPI, apis, loopback, log)
	if err != nil {
		return nil, err
	}
	wsNS, err := selectNamespaces("WebSocket", cfg.WSAPI, apis, loopback, log)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, httpRPC: newLimitedRPC(cfg), wsRPC: newLimitedRPC(cfg)}
	if err := registerNamespaces(s.httpRPC, apis, httpNS); err != nil {
		return nil, err
	}
	if err := registerNamespaces(s.wsRPC, apis, wsNS); err != nil {
		return nil, err
	}
	log.Info("JSON-RPC posture", "addr", cfg.Addr, "http.api", strings.Join(httpNS, ","), "ws.api", strings.Join(wsNS, ","))
	return s, s.buildHandlers()
}

// Listen serves h, a server with every namespace (NewRPCServer), on both
// listeners with cfg's posture, and starts it. It sets h's limits. It
// cannot choose namespaces: HTTPAPI or WSAPI set is an error (use NewAPIs
// and NewServer), and on a non-loopback Addr it warns that debug is served.
func Listen(cfg ServerConfig, h *rpc.Server, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.HTTPAPI != nil || cfg.WSAPI != nil {
		return nil, errors.New("api: Listen serves one rpc.Server whole; choose namespaces with NewAPIs and NewServer")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	applyLimits(h, cfg)
	if !isLoopbackHost(cfg.Addr) {
		log.Warn("JSON-RPC listener beyond loopback serves every namespace, debug included", "addr", cfg.Addr)
	}
	s := &Server{cfg: cfg, log: log, httpRPC: h, wsRPC: h}
	if err := s.buildHandlers(); err != nil {
		return nil, err
	}
	if err := s.Start(context.Background()); err != nil {
		return nil, err
	}
	return s, nil
}

// newLimitedRPC is an rpc server with cfg's limits.
func newLimitedRPC(cfg ServerConfig) *rpc.Server {
	srv := rpc.NewServer()
	applyLimits(srv, cfg)
	return srv
}

// applyLimits sets go-ethereum's own limits on srv, before it serves.
func applyLimits(srv *rpc.Server, cfg ServerConfig) {
	srv.SetBatchLimits(cfg.BatchRequestLimit, cfg.BatchResponseMaxSize)
	srv.SetHTTPBodyLimit(cfg.HTTPBodyLimit)
	srv.SetWebsocketReadLimit(cfg.WSReadLimit)
}

// buildHandlers wraps the rpc servers as geth's node package does (CORS
// inside the virtual-host check, gzip; the origin check on WebSocket
// upgrades), all behind the per-IP rate limit. The CORS and origin checks
// are geth's rules built here (corsHandler, newOriginCheck say why).
func (s *Server) buildHandlers() error {
	rl, err := newIPRateLimiter(s.cfg.RateLimit, nil)
	if err != nil {
		return err
	}
	// The node package's stack with no CORS list of its own: corsHandler
	// takes the same place in it (inside the virtual-host check).
	httpH := node.NewHTTPHandlerStack(corsHandler(s.httpRPC, s.cfg.HTTPCORSDomains), nil, s.cfg.HTTPVirtualHosts, nil)
	// The origin check is geth's, done outside geth's handler (newOriginCheck
	// says why), which is then told to allow any origin.
	wsH := newOriginCheck(s.cfg.WSOrigins, s.log, node.NewWSHandlerStack(s.wsRPC.WebsocketHandler([]string{"*"}), nil))
	s.combined = rateLimitHandler(rl, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isWebsocket(r) {
			wsH.ServeHTTP(w, r)
			return
		}
		httpH.ServeHTTP(w, r)
	}))
	s.wsOnly = rateLimitHandler(rl, wsH)
	return nil
}

// Start binds the listeners before it returns, so HTTPAddr and WSAddr are
// valid, and serves in the background until Stop. ctx bounds the binds.
func (s *Server) Start(ctx context.Context) error {
	lc := new(net.ListenConfig)
	var err error
	if s.httpLn, err = lc.Listen(ctx, "tcp", net.JoinHostPort(s.cfg.Addr, strconv.Itoa(s.cfg.HTTPPort))); err != nil {
		return fmt.Errorf("JSON-RPC HTTP listener: %w", err)
	}
	s.serve(s.httpLn, s.combined)
	if s.cfg.WSPort != 0 && s.cfg.WSPort != s.cfg.HTTPPort {
		if s.wsLn, err = lc.Listen(ctx, "tcp", net.JoinHostPort(s.cfg.Addr, strconv.Itoa(s.cfg.WSPort))); err != nil {
			_ = s.Stop(ctx)
			return fmt.Errorf("JSON-RPC WebSocket listener: %w", err)
		}
		s.serve(s.wsLn, s.wsOnly)
	}
	s.log.Info("JSON-RPC listening", "http", s.httpLn.Addr(), "ws", s.WSAddr(),
		"vhosts", strings.Join(s.cfg.HTTPVirtualHosts, ","), "cors", strings.Join(s.cfg.HTTPCORSDomains, ","),
		"ws.origins", strings.Join(s.cfg.WSOrigins, ","), "ratelimit", s.cfg.RateLimit.PerSecond)
	return nil
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

// HTTPAddr is the bound HTTP address; empty before Start.
func (s *Server) HTTPAddr() string {
	if s.httpLn == nil {
		return ""
	}
	return s.httpLn.Addr().String()
}

// WSAddr is the bound WebSocket address: the WebSocket-only listener if
// there is one, else the HTTP listener.
func (s *Server) WSAddr() string {
	if s.wsLn != nil {
		return s.wsLn.Addr().String()
	}
	return s.HTTPAddr()
}

// Stop stops the listeners, letting requests in flight finish until ctx
// ends, then stops the rpc servers (closing WebSocket connections).
func (s *Server) Stop(ctx context.Context) error {
	var errs []error
	for _, srv := range s.srvs {
		errs = append(errs, srv.Shutdown(ctx))
	}
	s.httpRPC.Stop()
	if s.wsRPC != s.httpRPC { // Listen serves one server on both
		s.wsRPC.Stop()
	}
	return errors.Join(errs...)
}

// Close is Stop with five seconds for the requests in flight.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	return s.Stop(ctx)
}
