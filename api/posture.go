package api

import (
	"fmt"
	"log/slog"
	"net"
	"strings"
)

// The endpoint posture (docs/endpoint-posture.md): what each listener binds
// and lets through. JSON-RPC: ServerConfig (namespaces, virtual hosts,
// CORS, WebSocket origins, body, message and batch limits, the per-IP rate
// limit), with geth's defaults; the heavy calls' own limits are in Config.
// The operator servers (OpsConfig, GRPCConfig) bind loopback unless told
// otherwise, whatever the JSON-RPC address.

// isLoopbackHost reports whether a listen host reaches only this machine:
// a loopback IP or "localhost". The empty host and 0.0.0.0 listen on every
// interface; any other name may resolve beyond loopback, so it counts as
// public.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkOperatorAddr checks an operator server's host:port and warns when it
// binds beyond loopback: those servers have neither TLS nor auth.
func checkOperatorAddr(server, addr string, log *slog.Logger) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s address %q: %w", server, addr, err)
	}
	if !isLoopbackHost(host) {
		log.Warn("Operator server listens beyond loopback without TLS or auth; put a TLS-terminating, authenticating proxy in front (docs/endpoint-posture.md)",
			"server", server, "addr", addr)
	}
	return nil
}
