package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"
)

// victimClient is the client index of the fairness victim.
const victimClient = -1

// soakRequest is one eth_getProof of a soak. At is when it was scheduled
// (since the measured window began) and Latency runs from that time, not
// from when it was sent: a request that waited for a free slot because the
// server was slow counts the wait, so a stall cannot hide its own tail
// (no coordinated omission).
type soakRequest struct {
	At      time.Duration
	Latency time.Duration
	Client  int  // 0.. within its phase, or victimClient
	Err     bool // no answer (error or timeout)
}

// soakProver sends verified eth_getProof requests to one server and
// records them. It is safe for concurrent use.
type soakProver struct {
	url     string
	addrs   []common.Address
	slots   []string
	head    func() uint64 // newest block to ask for; blocks are drawn from [1, head]
	timeout time.Duration
	t0      time.Time // the measured window's start

	mu       sync.Mutex
	reqs     []soakRequest
	roots    rootCache
	verified atomic.Int64
	failed   atomic.Int64 // answers that did not verify
	firstBad error        // the first verification failure; guarded by mu
}

func newSoakProver(url string, addrs []common.Address, slots []common.Hash, head func() uint64, timeout time.Duration, t0 time.Time) *soakProver {
	ss := make([]string, len(slots))
	for i, s := range slots {
		ss[i] = s.Hex()
	}
	return &soakProver{url: url, addrs: addrs, slots: ss, head: head, timeout: timeout, t0: t0, roots: rootCache{roots: map[uint64]common.Hash{}}}
}

// dial opens one caller's connection pool, sized for inFlight requests so
// that none waits for a connection the pool closed.
func (p *soakProver) dial(ctx context.Context, inFlight int) (*rpc.Client, error) {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: inFlight, MaxConnsPerHost: inFlight, IdleConnTimeout: time.Minute}}
	cl, err := rpc.DialOptions(ctx, p.url, rpc.WithHTTPClient(hc))
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", p.url, err)
	}
	return cl, nil
}

// openLoop is one caller at a constant arrival rate: request k is
// scheduled at start + k/rate whatever happened to the earlier ones, with
// at most inFlight outstanding (a request due while all are busy waits,
// and its wait is part of its latency). It returns when ctx ends, after its
// outstanding requests have finished.
func (p *soakProver) openLoop(ctx context.Context, client int, rate float64, inFlight int, seed uint64) error {
	if rate <= 0 || inFlight <= 0 {
		return fmt.Errorf("open loop needs a positive rate and in-flight bound, got %g and %d", rate, inFlight)
	}
	cl, err := p.dial(ctx, inFlight)
	if err != nil {
		return err
	}
	defer cl.Close()
	rng := rand.New(rand.NewPCG(seed, uint64(client+1)))
	interval := time.Duration(float64(time.Second) / rate)
	sem := make(chan struct{}, inFlight)
	var wg sync.WaitGroup
	defer wg.Wait()
	timer := time.NewTimer(0)
	defer timer.Stop()
	start := time.Now()
	for k := 0; ; k++ {
		due := start.Add(time.Duration(k) * interval)
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return nil
			case <-timer.C:
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case sem <- struct{}{}:
		}
		block := 1 + rng.Uint64N(max(p.head(), 1))
		addr := p.addrs[rng.IntN(len(p.addrs))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			p.one(cl, client, due, block, addr)
		}()
	}
}

// one sends a request scheduled at due and records it; the answer is then
// verified against the block's state root (outside the latency).
func (p *soakProver) one(cl *rpc.Client, client int, due time.Time, block uint64, addr common.Address) {
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
	defer cancel()
	var raw json.RawMessage
	err := cl.CallContext(ctx, &raw, "eth_getProof", addr, p.slots, hexutil.Uint64(block))
	r := soakRequest{At: due.Sub(p.t0), Latency: time.Since(due), Client: client, Err: err != nil}
	p.mu.Lock()
	p.reqs = append(p.reqs, r)
	p.mu.Unlock()
	if err != nil {
		return
	}
	root, err := p.root(ctx, cl, block)
	if err != nil {
		return // the proof was answered; only its check could not be made
	}
	if verr := VerifyAccountResult(raw, root); verr != nil {
		p.failed.Add(1)
		p.mu.Lock()
		if p.firstBad == nil {
			p.firstBad = fmt.Errorf("block %d, %s: %w", block, addr, verr)
		}
		p.mu.Unlock()
		return
	}
	p.verified.Add(1)
}

// root returns block n's state root, asked once; a block the server has
// no header of is asked again next time.
func (p *soakProver) root(ctx context.Context, cl *rpc.Client, n uint64) (common.Hash, error) {
	r, err := p.roots.root(ctx, cl, n)
	if err != nil {
		return common.Hash{}, err
	}
	if r == (common.Hash{}) {
		p.roots.mu.Lock()
		delete(p.roots.roots, n)
		p.roots.mu.Unlock()
		return common.Hash{}, fmt.Errorf("block %d: no header", n)
	}
	return r, nil
}

// requests returns a copy of what was recorded so far.
func (p *soakProver) requests() []soakRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]soakRequest(nil), p.reqs...)
}

// firstFailure is the first answer that did not verify, or nil.
func (p *soakProver) firstFailure() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.firstBad
}
