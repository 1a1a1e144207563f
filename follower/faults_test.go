package follower_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/follower"
	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/history/store"
)

// fault is what the proxy does to one upstream request.
type fault int

const (
	pass         fault = iota
	drop               // close the connection without an answer
	stall              // answer after the follower's request timeout
	garbage            // a truncated JSON body
	http500            // an HTTP 500
	wrongDiff          // a state diff with one storage value changed
	wrongReceipt       // a receipt whose cumulative gas is off by one
	unknownType        // every transaction of type 0x2 relabelled 0x55
	badDeposit         // deposits lose their sourceHash
)

// faultyProxy forwards JSON-RPC to geth and breaks the requests its
// schedule names (by method and occurrence).
type faultyProxy struct {
	target string
	stall  time.Duration

	mu       sync.Mutex
	schedule map[string][]fault // method -> faults for its next calls
	seen     map[fault]int
}

func (p *faultyProxy) next(method string) fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	q := p.schedule[method]
	if len(q) == 0 {
		return pass
	}
	p.schedule[method] = q[1:]
	p.seen[q[0]]++
	return q[0]
}

func (p *faultyProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req struct {
		Method string `json:"method"`
	}
	_ = json.Unmarshal(body, &req)
	f := p.next(req.Method)
	switch f {
	case drop:
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	case http500:
		http.Error(w, "upstream overloaded", http.StatusInternalServerError)
		return
	case stall:
		select {
		case <-time.After(p.stall):
		case <-r.Context().Done():
		}
		return
	}
	resp, err := http.Post(p.target, "application/json", bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	switch f {
	case garbage:
		out = out[:len(out)/2]
	case wrongDiff:
		// Change one digit of the first post-state balance: every traced
		// transaction moves its sender's balance, so the block's root
		// cannot match.
		s := string(out)
		if i := strings.Index(s, `"post":{`); i >= 0 {
			if j := strings.Index(s[i:], `"balance":"0x`); j >= 0 {
				k := i + j + len(`"balance":"0x`)
				c := byte('1')
				if s[k] == '1' {
					c = '2'
				}
				s = s[:k] + string(c) + s[k+1:]
			}
		}
		out = []byte(s)
	case wrongReceipt:
		var env struct {
			JSONRPC string           `json:"jsonrpc"`
			ID      json.RawMessage  `json:"id"`
			Result  []map[string]any `json:"result"`
		}
		if json.Unmarshal(out, &env) == nil && len(env.Result) > 0 {
			env.Result[0]["cumulativeGasUsed"] = "0x1"
			out, _ = json.Marshal(env)
		}
	case unknownType:
		out = []byte(strings.ReplaceAll(string(out), `"type":"0x2"`, `"type":"0x55"`))
	case badDeposit:
		out = regexp.MustCompile(`"sourceHash":"0x[0-9a-f]*",?`).ReplaceAll(out, nil)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

// logged records the class of every retry the follower logs.
type logged struct {
	mu      sync.Mutex
	classes map[string]int // class -> retries logged with it
}

func (l *logged) Enabled(context.Context, slog.Level) bool { return true }
func (l *logged) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logged) WithGroup(string) slog.Handler            { return l }
func (l *logged) Handle(_ context.Context, r slog.Record) error {
	if !strings.Contains(r.Message, "retrying") && !strings.Contains(r.Message, "resubscribing") {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "class" {
			l.mu.Lock()
			l.classes[a.Value.String()]++
			l.mu.Unlock()
		}
		return true
	})
	return nil
}

// fullDiskStore opens a store whose WAL writes fail with ENOSPC once full
// is set.
func fullDiskStore(t *testing.T, full *atomic.Bool) *store.Store {
	cfg := store.DefaultConfig()
	cfg.FS = errorfs.Wrap(vfs.NewMem(), errorfs.InjectorFunc(func(op errorfs.Op) error {
		if full.Load() && op.Kind == errorfs.OpFileWrite && strings.HasSuffix(op.Path, ".log") {
			return &os.PathError{Op: "write", Path: op.Path, Err: syscall.ENOSPC}
		}
		return nil
	}))
	s, err := store.Open("db", cfg, nil)
	require.NoError(t, err)
	return s
}

// TestUpstreamFaultMatrix follows geth (op-geth for the OP row) through a
// proxy that breaks requests, one fault a row, and checks what the
// follower does about it against its class:
//
//   - temporary faults (an upstream gone for a request, slow past the
//     request timeout, answering garbage or HTTP 500) are retried, logged
//     with class temporary, and the follower recovers: it ends on the
//     upstream's head with every block ingested exactly once;
//   - critical faults (a wrong state diff, an upstream that keeps
//     contradicting its header, a reorg deeper than allowed, the store's disk
//     full) halt Run with an error classed critical that names the block and
//     the values, and the store stays at the last good block; a wrong
//     proof is never served, since the block is never stored.
func TestUpstreamFaultMatrix(t *testing.T) {
	geth := newGethChain(t)
	opgeth := newOpGethChain(t, 3) // an OP chain: every block opens with a deposit
	every := func(f fault) []fault {
		out := make([]fault, 200)
		for i := range out {
			out[i] = f
		}
		return out
	}
	type outcome int
	const (
		recovered outcome = iota // retried, then on the upstream's head
		halted                   // Run returned a critical error; the store is at the block before the one named
		unchanged                // Run returned a critical error; the store is where it was
	)
	for _, tc := range []struct {
		name     string
		op       bool                         // follow the op-geth chain
		schedule map[string][]fault           // the proxy's faults by method
		fault    fault                        // the fault that must have been injected
		want     outcome                      // what the follower does
		errs     []string                     // what a halting error says
		is       error                        // and wraps
		setup    func(*testing.T, *gethChain) // before following (after a first follow to the head)
		disk     bool                         // the store's disk fills after block 3
		maxReorg uint64
	}{
		{name: "gone: connection dropped", fault: drop, want: recovered, schedule: map[string][]fault{
			"eth_blockNumber": {drop, pass, drop}, "eth_getBlockByNumber": {pass, drop}, "debug_traceBlockByHash": {drop, pass, drop}}},
		{name: "gone: HTTP 500", fault: http500, want: recovered, schedule: map[string][]fault{
			"eth_blockNumber": {http500}, "eth_getBlockReceipts": {http500, pass, http500}}},
		{name: "slow: no answer within the request timeout", fault: stall, want: recovered, schedule: map[string][]fault{
			"eth_getBlockByNumber": {pass, pass, stall}, "debug_traceBlockByHash": {stall}}},
		{name: "garbage: truncated JSON", fault: garbage, want: recovered, schedule: map[string][]fault{
			"eth_getBlockByNumber": {pass, garbage}, "eth_getBlockReceipts": {garbage}, "debug_traceBlockByHash": {pass, garbage}}},
		{name: "wrong state diff", fault: wrongDiff, want: halted, schedule: map[string][]fault{"debug_traceBlockByHash": every(wrongDiff)},
			errs: []string{"state root mismatch at block", "header has", "computed"}},
		{name: "receipts root mismatch, every time", fault: wrongReceipt, want: halted, schedule: map[string][]fault{"eth_getBlockReceipts": every(wrongReceipt)},
			errs: []string{"inconsistent answers", "receipts root", "header has"}},
		{name: "unknown transaction type, every time", fault: unknownType, want: halted, schedule: map[string][]fault{"eth_getBlockByNumber": every(unknownType)},
			errs: []string{"decode transactions of block", "transaction type not supported"}},
		{name: "deposit without its source hash, every time", op: true, fault: badDeposit, want: halted, schedule: map[string][]fault{"eth_getBlockByNumber": every(badDeposit)},
			errs: []string{"decode transactions of block", "sourceHash"}},
		{name: "the store's disk full", fault: pass, want: halted, disk: true, errs: []string{"ingest block", "no space left on device"}, is: syscall.ENOSPC},
		{name: "reorg deeper than allowed", fault: pass, want: unchanged, maxReorg: 1, errs: []string{"reorg deeper than 1 blocks below head"},
			setup: func(t *testing.T, c *gethChain) {
				head := geth.head
				require.NoError(t, c.rpc.Call(nil, "debug_setHead", hexutil.Uint64(head-3)))
				var nonce hexutil.Uint64
				require.NoError(t, c.rpc.Call(&nonce, "eth_getTransactionCount", crypto.PubkeyToAddress(mustKey(t).PublicKey), "pending"))
				c.setNonce(uint64(nonce))
				var last common.Hash
				for i := range uint64(6) { // another branch, longer than ours
					to := common.BigToAddress(new(big.Int).SetUint64(0x9000 + i))
					last = c.send(&to, big.NewInt(int64(i+1)), 21_000, nil)
					c.wait(last)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, gen, upHead := geth.url, geth.genesisFile, geth.head
			if tc.op {
				url, gen, upHead = opgeth.node.HTTPURL, opgeth.genesisFile, opgeth.head
			}
			proxy := &faultyProxy{target: url, stall: 2 * time.Second, seen: map[fault]int{}, schedule: map[string][]fault{}}
			srv := httptest.NewServer(proxy)
			defer srv.Close()
			var full atomic.Bool
			s := fullDiskStore(t, &full)
			defer s.Close()
			logs := &logged{classes: map[string]int{}}
			cfg := follower.DefaultConfig()
			cfg.URL, cfg.GenesisFile = srv.URL, gen
			cfg.RequestTimeout, cfg.RetryInitial, cfg.RetryMax = 300*time.Millisecond, 5*time.Millisecond, 20*time.Millisecond
			if tc.maxReorg > 0 {
				cfg.MaxReorgDepth = tc.maxReorg
			}
			ctx := context.Background()
			f, err := follower.New(cfg, s, slog.New(logs))
			require.NoError(t, err)
			defer f.Stop()
			require.NoError(t, f.Start(ctx))
			run := func() (error, map[uint64]int, uint64) {
				ingested, last := map[uint64]int{}, uint64(0)
				runCtx, cancel := context.WithTimeout(ctx, time.Minute)
				defer cancel()
				f.OnBlock(func(info follower.BlockInfo) {
					ingested[info.Number]++
					last = info.Number
					if tc.disk && info.Number == 3 {
						full.Store(true)
					}
					if info.Number == upHead {
						cancel()
					}
				})
				err := f.Run(runCtx)
				require.NotErrorIs(t, runCtx.Err(), context.DeadlineExceeded, "Run ends by itself or on the head, not on the test's timeout")
				return err, ingested, last
			}
			before := uint64(0)
			if tc.setup != nil {
				err, _, _ := run() // follow to the head first
				require.NoError(t, err)
				h, err := s.Head()
				require.NoError(t, err)
				before = h.Number
				tc.setup(t, geth)
			}
			proxy.mu.Lock()
			proxy.schedule = tc.schedule
			proxy.mu.Unlock()
			err, ingested, last := run()
			if tc.fault != pass {
				require.Positive(t, proxy.seen[tc.fault], "the fault was injected")
			}
			head, herr := s.Head()
			require.NoError(t, herr)
			switch tc.want {
			case recovered:
				require.NoError(t, err)
				require.Equal(t, upHead, head.Number, "on the upstream's head")
				for n := uint64(1); n <= upHead; n++ {
					require.Equal(t, 1, ingested[n], "block %d ingested exactly once", n)
				}
				logs.mu.Lock()
				require.Positive(t, logs.classes[history.ClassTemporary.String()], "retries are logged as temporary: %v", logs.classes)
				require.Len(t, logs.classes, 1, "and only as temporary: %v", logs.classes)
				logs.mu.Unlock()
				return
			}
			require.Error(t, err, "the follower halts")
			t.Logf("halted: %v", err)
			require.Equal(t, history.ClassCritical, history.ClassOf(err), "classed critical: %v", err)
			for _, w := range tc.errs {
				require.ErrorContains(t, err, w)
			}
			if tc.is != nil {
				require.ErrorIs(t, err, tc.is)
			}
			if tc.want == unchanged {
				require.Equal(t, before, head.Number, "the store is where it was")
				return
			}
			m := regexp.MustCompile(`block (\d+)`).FindStringSubmatch(err.Error())
			require.NotNil(t, m, "the error names the block: %v", err)
			named, _ := strconv.ParseUint(m[1], 10, 64)
			require.Equal(t, named-1, head.Number, "the store stays at the block before the one named")
			require.LessOrEqual(t, head.Number, last, "and holds no block it did not report")
			_, err = s.HeaderByNumber(named)
			require.Error(t, err, "the failed block is not stored, so no proof at it is served")
		})
	}
}

func mustKey(t *testing.T) *ecdsa.PrivateKey {
	key, err := crypto.HexToECDSA(devKey)
	require.NoError(t, err)
	return key
}
