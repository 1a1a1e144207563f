package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/rpc"
	"github.com/stretchr/testify/require"
)

// waitQueued waits until n waiters are queued.
func waitQueued(t *testing.T, f *fairPermits, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		q := 0
		for _, ws := range f.waiting {
			q += len(ws)
		}
		return q == n
	}, 5*time.Second, time.Millisecond)
}

// TestFairPermitsServeTheLighterCallerFirst: with every permit held by a
// greedy caller that also has a queue of requests, a permit it gives back
// goes to another caller's single request, not to the greedy caller's
// older ones; within one caller, requests are served in order.
func TestFairPermitsServeTheLighterCallerFirst(t *testing.T) {
	ctx := context.Background()
	f := newFairPermits(2)
	r1, err := f.acquire(ctx, "greedy")
	require.NoError(t, err)
	r2, err := f.acquire(ctx, "greedy")
	require.NoError(t, err)

	var order []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	releases := make(chan func(), 8)
	start := func(key, label string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rel, err := f.acquire(ctx, key)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, label)
			mu.Unlock()
			releases <- rel
		}()
	}
	for i, label := range []string{"greedy-1", "greedy-2", "greedy-3"} {
		start("greedy", label)
		waitQueued(t, f, i+1)
	}
	start("victim", "victim")
	waitQueued(t, f, 4)

	r1() // greedy still holds one, the victim none: the victim goes next
	rel := <-releases
	mu.Lock()
	require.Equal(t, []string{"victim"}, order)
	mu.Unlock()
	r2()
	rel2 := <-releases
	rel()
	rel3 := <-releases
	rel2()
	rel4 := <-releases
	rel3()
	rel4()
	wg.Wait()
	require.Equal(t, []string{"victim", "greedy-1", "greedy-2", "greedy-3"}, order)
	require.Equal(t, 2, f.free, "every permit came back")
	require.Empty(t, f.inUse)
}

// TestFairPermitsCancelledWaiter: a waiter whose context ends leaves the
// queue; one cancelled just as it is granted gives the permit back.
func TestFairPermitsCancelledWaiter(t *testing.T) {
	f := newFairPermits(1)
	hold, err := f.acquire(context.Background(), "a")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := f.acquire(ctx, "b")
		done <- err
	}()
	waitQueued(t, f, 1)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	waitQueued(t, f, 0)
	hold()
	require.Equal(t, 1, f.free)

	// Granted and cancelled at once, many times: the permit never leaks.
	for range 200 {
		hold, err := f.acquire(context.Background(), "a")
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		got := make(chan func(), 1)
		go func() {
			rel, err := f.acquire(ctx, "b")
			if err == nil {
				got <- rel
			} else {
				got <- nil
			}
		}()
		waitQueued(t, f, 1)
		go cancel()
		hold()
		if rel := <-got; rel != nil {
			rel()
		}
		f.mu.Lock()
		require.Equal(t, 1, f.free)
		require.Empty(t, f.waiting)
		f.mu.Unlock()
	}
}

// TestFairPermitsNeverExceedTheLimit: many callers racing never hold more
// than the limit at once, and all finish.
func TestFairPermitsNeverExceedTheLimit(t *testing.T) {
	f := newFairPermits(3)
	var held, peak atomic.Int32
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rel, err := f.acquire(context.Background(), string(rune('a'+i%5)))
			if err != nil {
				t.Error(err)
				return
			}
			n := held.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(100 * time.Microsecond)
			held.Add(-1)
			rel()
		}()
	}
	wg.Wait()
	require.LessOrEqual(t, peak.Load(), int32(3))
	require.Equal(t, 3, f.free)
}

type keyService struct{}

func (keyService) Key(ctx context.Context) string { return callerKey(ctx) }

// TestCallerKeyIsTheConnection: through go-ethereum's HTTP server, two
// clients on their own connections are two callers, and one client's
// calls on its kept-alive connection are one.
func TestCallerKeyIsTheConnection(t *testing.T) {
	srv := rpc.NewServer()
	require.NoError(t, srv.RegisterName("t", keyService{}))
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Stop()
	dial := func() *rpc.Client {
		c, err := rpc.DialOptions(context.Background(), hs.URL, rpc.WithHTTPClient(&http.Client{Transport: &http.Transport{}}))
		require.NoError(t, err)
		return c
	}
	a, b := dial(), dial()
	defer a.Close()
	defer b.Close()
	key := func(c *rpc.Client) string {
		var k string
		require.NoError(t, c.Call(&k, "t_key"))
		return k
	}
	ka := key(a)
	require.NotEmpty(t, ka)
	require.Equal(t, ka, key(a), "one connection, one caller")
	require.NotEqual(t, ka, key(b), "two connections, two callers")
}
