package api

import (
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// originRule is one entry of a WebSocket origin list, split as geth splits
// it: an entry with "://" names a scheme, host and optional port; one
// without names a host (and optional port) under any scheme. An empty part
// matches anything.
type originRule struct{ scheme, host, port string }

// parseOrigin splits an origin (an allow-list entry or an Origin header) as
// go-ethereum's rpc package does, lower-cased.
func parseOrigin(origin string) (originRule, bool) {
	origin = strings.ToLower(origin)
	u, err := url.Parse(origin)
	if err != nil {
		return originRule{}, false
	}
	if strings.Contains(origin, "://") {
		return originRule{u.Scheme, u.Hostname(), u.Port()}, true
	}
	r := originRule{host: u.Scheme, port: u.Opaque}
	if r.host == "" {
		r.host = origin
	}
	return r, true
}

func (r originRule) allows(o originRule) bool {
	return (r.scheme == "" || r.scheme == o.scheme) &&
		(r.host == "" || r.host == o.host) &&
		(r.port == "" || r.port == o.port)
}

// originCheck is go-ethereum's WebSocket origin check (the check inside
// rpc.Server.WebsocketHandler) with the same rules and the same 403, done
// before the upgrade: geth's own leaks a goroutine and a read lock for each
// upgrade it accepts from a listed origin (it leaves a set iterator
// unfinished), which a client could repeat at will. The rpc handler behind
// it is then built to allow any origin.
//
// Rules: an upgrade without an Origin header (not from a browser) passes;
// "*" in the list passes all; an empty list is geth's default,
// http://localhost and http://<this machine's hostname> on any port.
type originCheck struct {
	all   bool
	rules []originRule
	log   *slog.Logger
	next  http.Handler
}

func newOriginCheck(allowed []string, log *slog.Logger, next http.Handler) *originCheck {
	c := &originCheck{log: log, next: next}
	var entries []string
	for _, o := range allowed {
		if o == "*" {
			c.all = true
		}
		if o != "" {
			entries = append(entries, o)
		}
	}
	if len(entries) == 0 {
		entries = append(entries, "http://localhost")
		if h, err := os.Hostname(); err == nil {
			entries = append(entries, "http://"+h)
		}
	}
	for _, e := range entries {
		if r, ok := parseOrigin(e); ok {
			c.rules = append(c.rules, r)
		} else {
			log.Warn("Unparsable WebSocket origin in the allow list, ignored", "origin", e)
		}
	}
	return c
}

func (c *originCheck) allowed(r *http.Request) bool {
	if _, ok := r.Header["Origin"]; !ok || c.all {
		return true
	}
	o, ok := parseOrigin(r.Header.Get("Origin"))
	if !ok {
		return false
	}
	for _, rule := range c.rules {
		if rule.allows(o) {
			return true
		}
	}
	return false
}

// ServeHTTP refuses an upgrade from an origin outside the list as gorilla's
// upgrader (inside geth's handler) does: 403 "Forbidden".
func (c *originCheck) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !c.allowed(r) {
		c.log.Debug("Rejected WebSocket connection", "origin", r.Header.Get("Origin"), "remote", r.RemoteAddr)
		w.Header().Set("Sec-Websocket-Version", "13")
		http.Error(w, http.StatusText(http.StatusForbidden), http.StatusForbidden)
		return
	}
	c.next.ServeHTTP(w, r)
}
