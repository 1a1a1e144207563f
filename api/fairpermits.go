package api

import (
	"context"
	"sync"

	"github.com/ethereum/go-ethereum/rpc"
)

// fairPermits bounds the proofs built at once and shares the permits
// fairly between callers: a caller is one connection (rpc.PeerInfo's
// remote address: for HTTP and WebSocket the client's address and port).
// While callers wait, a freed permit goes to the waiting caller holding
// the fewest permits (ties: the one that has waited longest), not to
// whoever queued first, so one caller with many requests in flight cannot
// push another's wait behind all of them.
//
// Invariants: inUse[k] counts the permits caller k holds; free + the sum
// of inUse is the limit; a caller's waiters are granted in the order they
// came; a waiter whose context ends is either removed from its queue or,
// if it was granted meanwhile, gives its permit back.
type fairPermits struct {
	mu      sync.Mutex
	free    int
	inUse   map[string]int
	waiting map[string][]*permitWaiter // per caller, oldest first
	seq     uint64                     // arrival order of waiters
}

type permitWaiter struct {
	ready   chan struct{} // closed when the permit is granted
	seq     uint64
	granted bool
}

func newFairPermits(limit int) *fairPermits {
	return &fairPermits{free: max(limit, 1), inUse: map[string]int{}, waiting: map[string][]*permitWaiter{}}
}

// callerKey names the caller of the request in ctx: its remote address, or
// its transport for an in-process call.
func callerKey(ctx context.Context) string {
	p := rpc.PeerInfoFromContext(ctx)
	if p.RemoteAddr != "" {
		return p.RemoteAddr
	}
	return p.Transport
}

// acquire takes a permit for caller key, waiting while all are in use.
func (f *fairPermits) acquire(ctx context.Context, key string) (release func(), err error) {
	f.mu.Lock()
	if f.free > 0 && len(f.waiting) == 0 {
		f.free--
		f.inUse[key]++
		f.mu.Unlock()
		return f.releaser(key), nil
	}
	f.seq++
	w := &permitWaiter{ready: make(chan struct{}), seq: f.seq}
	f.waiting[key] = append(f.waiting[key], w)
	f.mu.Unlock()
	select {
	case <-w.ready:
		return f.releaser(key), nil
	case <-ctx.Done():
		f.mu.Lock()
		granted := w.granted
		if !granted {
			f.remove(key, w)
		}
		f.mu.Unlock()
		if granted {
			f.releaser(key)()
		}
		return nil, ctx.Err()
	}
}

// releaser returns the function that gives key's permit back, once.
func (f *fairPermits) releaser(key string) func() {
	var once sync.Once
	return func() { once.Do(func() { f.release(key) }) }
}

func (f *fairPermits) release(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.inUse[key]--; f.inUse[key] == 0 {
		delete(f.inUse, key)
	}
	next, ok := f.pick()
	if !ok {
		f.free++
		return
	}
	w := f.waiting[next][0]
	f.remove(next, w)
	w.granted = true
	f.inUse[next]++
	close(w.ready)
}

// pick is the waiting caller holding the fewest permits, the oldest waiter
// among equals.
func (f *fairPermits) pick() (string, bool) {
	best, found := "", false
	for k, ws := range f.waiting {
		if !found || f.inUse[k] < f.inUse[best] || (f.inUse[k] == f.inUse[best] && ws[0].seq < f.waiting[best][0].seq) {
			best, found = k, true
		}
	}
	return best, found
}

func (f *fairPermits) remove(key string, w *permitWaiter) {
	ws := f.waiting[key]
	for i, x := range ws {
		if x == w {
			ws = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(f.waiting, key)
	} else {
		f.waiting[key] = ws
	}
}
