package follower_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

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

// TestUpstreamFaults follows geth through a proxy that drops connections,
// stalls, sends truncated JSON and HTTP 500s: the follower retries and ends
// with every block, each exactly once. Then a wrong state diff halts it with
// a root mismatch at the last good block.
func TestUpstreamFaults(t *testing.T) {
	gethURL, genesisFile, gethHead := gethWithChain(t)
	proxy := &faultyProxy{target: gethURL, stall: 2 * time.Second, seen: map[fault]int{}, schedule: map[string][]fault{
		"eth_blockNumber":        {drop, pass, http500},
		"eth_getBlockByNumber":   {pass, garbage, pass, pass, stall},
		"eth_getBlockReceipts":   {http500, garbage},
		"debug_traceBlockByHash": {stall, drop, pass, garbage},
	}}
	srv := httptest.NewServer(proxy)
	defer srv.Close()

	s, err := store.OpenMem(store.DefaultConfig())
	require.NoError(t, err)
	defer s.Close()
	cfg := follower.DefaultConfig()
	cfg.URL, cfg.GenesisFile = srv.URL, genesisFile
	cfg.RequestTimeout, cfg.RetryInitial, cfg.RetryMax = 300*time.Millisecond, 10*time.Millisecond, 50*time.Millisecond
	ctx := context.Background()
	f, err := follower.New(cfg, s, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer f.Stop()
	require.NoError(t, f.Start(ctx))
	ingested := map[uint64]int{}
	runCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	f.OnBlock(func(info follower.BlockInfo) {
		ingested[info.Number]++
		if info.Number == gethHead {
			cancel()
		}
	})
	require.NoError(t, f.Run(runCtx))
	head, err := s.Head()
	require.NoError(t, err)
	require.Equal(t, gethHead, head.Number)
	for n := uint64(1); n <= gethHead; n++ {
		require.Equal(t, 1, ingested[n], "block %d ingested exactly once", n)
	}
	for _, f := range []fault{drop, stall, garbage, http500} {
		require.Positive(t, proxy.seen[f], "fault %d was injected", f)
	}

	// A wrong diff: the follower halts at the last good block.
	s2, err := store.OpenMem(store.DefaultConfig())
	require.NoError(t, err)
	defer s2.Close()
	proxy.mu.Lock()
	var wrong []fault // every diff altered: the first block with transactions must fail
	for range gethHead + 2 {
		wrong = append(wrong, wrongDiff)
	}
	proxy.schedule = map[string][]fault{"debug_traceBlockByHash": wrong}
	proxy.mu.Unlock()
	f2, err := follower.New(cfg, s2, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer f2.Stop()
	require.NoError(t, f2.Start(ctx))
	runCtx2, cancel2 := context.WithTimeout(ctx, time.Minute)
	defer cancel2()
	err = f2.Run(runCtx2)
	var mismatch *history.RootMismatchError
	require.True(t, errors.As(err, &mismatch), "want a root mismatch, got %v", err)
	good, err := s2.Head()
	require.NoError(t, err)
	require.Equal(t, mismatch.Number-1, good.Number, "the store stays at the last good block")
	require.NotEqual(t, mismatch.Want, mismatch.Computed)
}

// TestInconsistentUpstreamHalts: an upstream that keeps answering with a
// receipts root that is not the header's, a transaction type op-geth does
// not know, or a deposit missing a field, halts the follower with an error naming the block (and
// both roots), and nothing of that block is stored.
func TestInconsistentUpstreamHalts(t *testing.T) {
	gethURL, genesisFile, _ := gethWithChain(t)
	opgeth := newOpGethChain(t, 3) // an OP chain: every block opens with a deposit
	for _, tc := range []struct {
		name     string
		url, gen string
		method   string
		fault    fault
		want     []string
	}{
		{"receipts root mismatch", gethURL, genesisFile, "eth_getBlockReceipts", wrongReceipt, []string{"receipts root", "header has"}},
		{"unknown transaction type", gethURL, genesisFile, "eth_getBlockByNumber", unknownType, []string{"decode transactions of block", "transaction type not supported"}},
		{"deposit without its source hash", opgeth.node.HTTPURL, opgeth.genesisFile, "eth_getBlockByNumber", badDeposit, []string{"decode transactions of block", "sourceHash"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var faults []fault
			for range 200 {
				faults = append(faults, tc.fault)
			}
			proxy := &faultyProxy{target: tc.url, seen: map[fault]int{}, schedule: map[string][]fault{tc.method: faults}}
			srv := httptest.NewServer(proxy)
			defer srv.Close()
			s, err := store.OpenMem(store.DefaultConfig())
			require.NoError(t, err)
			defer s.Close()
			cfg := follower.DefaultConfig()
			cfg.URL, cfg.GenesisFile = srv.URL, tc.gen
			cfg.RetryInitial, cfg.RetryMax = 5*time.Millisecond, 20*time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			f, err := follower.New(cfg, s, slog.New(slog.DiscardHandler))
			require.NoError(t, err)
			defer f.Stop()
			if err = f.Start(ctx); err == nil {
				err = f.Run(ctx)
			}
			require.Error(t, err, "the follower must halt, not follow an inconsistent upstream")
			require.NoError(t, ctx.Err(), "it halts by itself instead of retrying forever")
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
			m := regexp.MustCompile(`block (\d+)`).FindStringSubmatch(err.Error())
			require.NotNil(t, m, "the error names the block: %v", err)
			named, _ := strconv.ParseUint(m[1], 10, 64)
			head, err := s.Head()
			require.NoError(t, err)
			require.Equal(t, named-1, head.Number, "the store stays at the block before the inconsistent one")
		})
	}
}
