package api

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeClock is a clock the test moves.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// TestIPRateLimiter: each IP has its own bucket of Burst tokens refilling
// at PerSecond; a refused request learns how long until the next token, and
// buckets that refilled are forgotten.
func TestIPRateLimiter(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	l, err := newIPRateLimiter(RateLimitConfig{PerSecond: 2, Burst: 3}, clock.now)
	require.NoError(t, err)
	type step struct {
		advance time.Duration
		ip      string
		allowed bool
		wait    time.Duration
	}
	for i, s := range []step{
		{0, "a", true, 0},
		{0, "a", true, 0},
		{0, "a", true, 0},
		{0, "a", false, 500 * time.Millisecond},
		{0, "b", true, 0}, // another client has its own bucket
		{250 * time.Millisecond, "a", false, 250 * time.Millisecond},
		{250 * time.Millisecond, "a", true, 0},
		{0, "a", false, 500 * time.Millisecond},
	} {
		clock.t = clock.t.Add(s.advance)
		ok, wait := l.allow(s.ip)
		require.Equal(t, s.allowed, ok, "step %d", i)
		require.Equal(t, s.wait, wait, "step %d", i)
	}
	require.Equal(t, 2, l.size())
	clock.t = clock.t.Add(clientSweepInterval)
	ok, _ := l.allow("c")
	require.True(t, ok)
	require.Equal(t, 1, l.size(), "a and b refilled and were forgotten; c is new")

	off, err := newIPRateLimiter(RateLimitConfig{}, nil)
	require.NoError(t, err)
	require.Nil(t, off, "PerSecond 0 is off")
	def, err := newIPRateLimiter(RateLimitConfig{PerSecond: 2.5}, clock.now)
	require.NoError(t, err)
	require.Equal(t, 3, def.burst, "burst defaults to ceil(PerSecond)")
	def, err = newIPRateLimiter(RateLimitConfig{PerSecond: 0.1}, clock.now)
	require.NoError(t, err)
	require.Equal(t, 1, def.burst)
}

// TestRateLimitHandler: past the bucket a client gets HTTP 429 with a
// JSON-RPC error body and Retry-After; others are still served.
func TestRateLimitHandler(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	l, err := newIPRateLimiter(RateLimitConfig{PerSecond: 0.5, Burst: 1}, clock.now)
	require.NoError(t, err)
	served := 0
	h := rateLimitHandler(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { served++ }))
	do := func(remote string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/", nil)
		req.RemoteAddr = remote
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	require.Equal(t, 200, do("192.0.2.1:1000").Code)
	w := do("192.0.2.1:1001") // the same IP from another port
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	require.Equal(t, "application/json", w.Header().Get("Content-Type"))
	require.Equal(t, "2", w.Header().Get("Retry-After"))
	require.JSONEq(t, `{"jsonrpc":"2.0","id":null,"error":{"code":-32005,"message":"rate limit exceeded"}}`, w.Body.String())
	require.Equal(t, 200, do("[2001:db8::1]:1000").Code)
	require.Equal(t, 2, served)
}
