package api

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateLimitConfig is the optional per-client limit of the JSON-RPC
// listeners: a token bucket per remote IP. geth has none; the zero value
// (PerSecond 0) is off.
type RateLimitConfig struct {
	// PerSecond is the sustained rate each remote IP may make HTTP requests
	// at (a batch is one request; a WebSocket upgrade is one request, the
	// messages over the connection are not counted). 0 disables the limit.
	PerSecond float64
	// Burst is the bucket's size: how many requests a client that has been
	// idle may make at once. 0 means max(1, ceil(PerSecond)).
	Burst int
}

// rateLimitErrorCode is the JSON-RPC code of a refused request: EIP-1474's
// "limit exceeded", the code the heavy-call limits answer with too.
const rateLimitErrorCode = -32005

// rateLimitBody is what a refused request gets with HTTP 429: a JSON-RPC
// error object (id null: the request was not read), so JSON-RPC clients
// surface the message rather than a decode error.
var rateLimitBody = fmt.Sprintf(`{"jsonrpc":"2.0","id":null,"error":{"code":%d,"message":"rate limit exceeded"}}`+"\n", rateLimitErrorCode)

// clientSweepInterval is how often buckets that have refilled are dropped:
// a full bucket is the same as a new one, so forgetting it loses nothing and
// the map holds only the clients seen in about the last refill period.
const clientSweepInterval = time.Minute

// ipRateLimiter keeps one token bucket per remote IP. It is safe for
// concurrent use.
type ipRateLimiter struct {
	limit rate.Limit
	burst int
	now   func() time.Time

	mu        sync.Mutex
	clients   map[string]*rate.Limiter
	lastSweep time.Time
}

// newIPRateLimiter returns nil when cfg disables the limit, and an error for
// a negative rate or burst.
func newIPRateLimiter(cfg RateLimitConfig, now func() time.Time) (*ipRateLimiter, error) {
	if cfg.PerSecond < 0 || cfg.Burst < 0 || math.IsNaN(cfg.PerSecond) || math.IsInf(cfg.PerSecond, 0) {
		return nil, fmt.Errorf("rate limit %v/s burst %d: both must be finite and non-negative", cfg.PerSecond, cfg.Burst)
	}
	if cfg.PerSecond == 0 {
		return nil, nil
	}
	burst := cfg.Burst
	if burst == 0 {
		burst = max(1, int(math.Ceil(cfg.PerSecond)))
	}
	if now == nil {
		now = time.Now
	}
	return &ipRateLimiter{limit: rate.Limit(cfg.PerSecond), burst: burst, now: now,
		clients: make(map[string]*rate.Limiter), lastSweep: now()}, nil
}

// allow takes a token from ip's bucket. When there is none it returns
// false and how long until one refills.
func (l *ipRateLimiter) allow(ip string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) >= clientSweepInterval {
		for k, b := range l.clients {
			if b.TokensAt(now) >= float64(l.burst) {
				delete(l.clients, k)
			}
		}
		l.lastSweep = now
	}
	b, ok := l.clients[ip]
	if !ok {
		b = rate.NewLimiter(l.limit, l.burst)
		l.clients[ip] = b
	}
	if b.AllowN(now, 1) {
		return true, 0
	}
	missing := 1 - b.TokensAt(now)
	return false, time.Duration(missing / float64(l.limit) * float64(time.Second))
}

// size is the number of clients with a bucket.
func (l *ipRateLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.clients)
}

// remoteIP is the IP of a request's peer. Behind a reverse proxy that is the
// proxy's: limit there, or per forwarded address in the proxy.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// rateLimitHandler answers HTTP 429 with a JSON-RPC error body and a
// Retry-After header once a client's bucket is empty; l nil serves all.
func rateLimitHandler(l *ipRateLimiter, next http.Handler) http.Handler {
	if l == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok, wait := l.allow(remoteIP(r))
		if ok {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", fmt.Sprint(max(1, int(math.Ceil(wait.Seconds())))))
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(rateLimitBody))
	})
}
