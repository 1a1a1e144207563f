package bench

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/stretchr/testify/require"
)

func TestParseVmRSS(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     uint64
		err      string
	}{
		{"kB", "Name:\tstrata\nVmPeak:\t  9000 kB\nVmRSS:\t  1234 kB\nThreads: 9\n", 1234 << 10, ""},
		{"no line", "Name:\tkthreadd\nThreads: 1\n", 0, "no VmRSS line"},
		{"bad unit", "VmRSS:\t1234 MB\n", 0, "want a number of kB"},
		{"bad number", "VmRSS:\tx kB\n", 0, "VmRSS line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseVmRSS(strings.NewReader(tc.in))
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestProcessRSSOfThisProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	rss, err := processRSS(os.Getpid())
	require.NoError(t, err)
	require.Positive(t, rss)
}

func TestMetricValue(t *testing.T) {
	text := "# HELP go_goroutines Number of goroutines that currently exist.\n# TYPE go_goroutines gauge\n" +
		"go_goroutines_total 7\ngo_goroutines 42\ngo_threads 9\n"
	for _, tc := range []struct {
		name string
		want float64
		err  string
	}{
		{"go_goroutines", 42, ""}, // not go_goroutines_total, which comes first
		{"go_threads", 9, ""},
		{"process_resident_memory_bytes", 0, "not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := metricValue(strings.NewReader(text), tc.name)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestSoakPhases(t *testing.T) {
	ph := soakPhases(2*time.Minute, 30*time.Minute, []int{1, 4, 16}, 10)
	require.Equal(t, []SoakPhase{
		{Clients: 0, Start: 0, End: 2 * time.Minute},
		{Clients: 1, Start: 2 * time.Minute, End: 12 * time.Minute, Offered: 10},
		{Clients: 4, Start: 12 * time.Minute, End: 22 * time.Minute, Offered: 40},
		{Clients: 16, Start: 22 * time.Minute, End: 32 * time.Minute, Offered: 160},
	}, ph)
	require.Equal(t, 0, phaseAt(ph, 0))
	require.Equal(t, 1, phaseAt(ph, 2*time.Minute))
	require.Equal(t, 3, phaseAt(ph, 40*time.Minute), "past the end: the last phase")
	require.Len(t, soakPhases(0, time.Minute, []int{2}, 1), 1, "no victim-alone phase")
}

// samplesOf makes one sample a second over the phases with the follower's
// RSS and goroutines given by f.
func samplesOf(phases []SoakPhase, f func(at time.Duration, phase int) (rss uint64, g int)) []SoakSample {
	var out []SoakSample
	end := phases[len(phases)-1].End
	for at := time.Duration(0); at < end; at += time.Second {
		i := phaseAt(phases, at)
		rss, g := f(at, i)
		out = append(out, SoakSample{At: at, Phase: i, Follower: NodeSample{StatusOK: true, Head: uint64(at / time.Second), LagMs: 50,
			Readyz: 200, RSS: rss, Goroutines: g}})
	}
	return out
}

func TestFitTrend(t *testing.T) {
	phases := soakPhases(time.Minute, 9*time.Minute, []int{1, 4, 16}, 10)
	rss := func(s SoakSample) (float64, bool) { return float64(s.Follower.RSS), true }
	// Steps between phases and flat inside them: no trend.
	steps := samplesOf(phases, func(_ time.Duration, i int) (uint64, int) { return uint64(100+50*i) << 20, 10 + 10*i })
	tr := fitTrend(steps, 4*time.Minute, rss)
	require.InDelta(t, 0, tr.PerHour, 1e-6)
	require.Equal(t, 360, tr.Points)
	// A climb of 1 MiB a minute inside every phase, steps too: 60 MiB/h.
	leak := samplesOf(phases, func(at time.Duration, i int) (uint64, int) {
		return uint64(100+50*i)<<20 + uint64(at.Minutes()*(1<<20)), 10
	})
	tr = fitTrend(leak, 4*time.Minute, rss)
	require.InDelta(t, 60<<20, tr.PerHour, 1<<10)
	// Samples that did not read the figure are left out.
	tr = fitTrend(leak, 0, func(SoakSample) (float64, bool) { return 0, false })
	require.Zero(t, tr.Points)
	require.Zero(t, tr.PerHour)
}

// soakReportFor is a soak that passes every check; tests spoil one figure.
func soakReportFor() *SoakReport {
	phases := soakPhases(time.Minute, 9*time.Minute, []int{1, 4, 16}, 10)
	for i := range phases {
		phases[i].Victim = Summary{Count: 300, P50: time.Millisecond, P99: 10 * time.Millisecond}
		if phases[i].Clients > 0 {
			phases[i].Load = Summary{Count: 1000, P50: time.Millisecond, P99: 10*time.Millisecond + time.Duration(phases[i].Clients)*time.Millisecond/2}
		}
	}
	rep := &SoakReport{Profile: "devnet", BlockTime: 200 * time.Millisecond, Phases: phases, Verified: 3000,
		Samples: samplesOf(phases, func(_ time.Duration, i int) (uint64, int) { return uint64(200+10*i) << 20, 80 + i })}
	rep.RSSTrend = fitTrend(rep.Samples, 200*time.Second, func(s SoakSample) (float64, bool) { return float64(s.Follower.RSS), true })
	rep.GoroutineTrend = fitTrend(rep.Samples, 200*time.Second, func(s SoakSample) (float64, bool) { return float64(s.Follower.Goroutines), true })
	return rep
}

func TestJudgeSoak(t *testing.T) {
	c := DefaultContract()
	for _, tc := range []struct {
		name  string
		spoil func(r *SoakReport)
		fails []string // the checks that must fail; every other passes
	}{
		{"all within", func(*SoakReport) {}, nil},
		{"lag over the SLO once", func(r *SoakReport) { r.Samples[100].Follower.LagMs = 1200 }, []string{"follower lag"}},
		{"lag over in blocks", func(r *SoakReport) { r.Samples[100].Follower.LagBlocks = 6 }, []string{"follower lag"}},
		{"no status answered", func(r *SoakReport) {
			for i := range r.Samples {
				r.Samples[i].Follower.StatusOK = false
			}
		}, []string{"follower lag"}},
		{"16 clients' p99 over twice 1 client's", func(r *SoakReport) { r.Phases[3].Load.P99 = 23 * time.Millisecond }, []string{"eth_getProof p99 of each phase"}},
		{"4 clients over the contract's proof p99", func(r *SoakReport) {
			r.Phases[2].Load.P99 = 21 * time.Millisecond
			r.Phases[1].Load.P99 = 20 * time.Millisecond
		}, nil},
		{"victim starved", func(r *SoakReport) { r.Phases[3].Victim.P99 = 21 * time.Millisecond }, []string{"victim's p99"}},
		{"no victim-alone phase", func(r *SoakReport) { r.Phases = r.Phases[1:] }, []string{"victim's p99"}},
		{"readyz 503 once", func(r *SoakReport) {
			r.Samples[300].Follower.Readyz, r.Samples[300].Follower.NotReady = 503, "not ready: ingest_p99_ms breached"
		}, []string{"/readyz"}},
		{"RSS leak", func(r *SoakReport) { r.RSSTrend.PerHour = 100 << 20 }, []string{"follower RSS"}},
		{"goroutine leak", func(r *SoakReport) { r.GoroutineTrend.PerHour = 61 }, []string{"follower goroutines"}},
		{"a proof failed verification", func(r *SoakReport) { r.VerifyFailed, r.FirstVerifyError = 1, "block 7: bad" }, []string{"every eth_getProof"}},
		{"errors", func(r *SoakReport) { r.Phases[2].LoadErrors = 3 }, []string{"every eth_getProof"}},
		{"aborted", func(r *SoakReport) { r.Aborted = "follower exited" }, []string{"ran the whole window"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := soakReportFor()
			tc.spoil(r)
			vs := judgeSoak(r, c)
			require.GreaterOrEqual(t, len(vs), 7)
			for _, v := range vs {
				want := true
				for _, f := range tc.fails {
					if strings.Contains(v.Check, f) {
						want = false
					}
				}
				require.Equal(t, want, v.Pass, "%s: %s (limit %s)", v.Check, v.Measured, v.Limit)
			}
		})
	}
}

// TestOpenLoopCountsTheWait: the server stalls, so requests fall due while
// the only slot is taken; each one's latency runs from when it was due,
// not from when it could be sent, so none finishes before the stall ended
// in the record. An answer that does not verify is counted as a failure.
func TestOpenLoopCountsTheWait(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
		}
		_ = json.Unmarshal(body, &req)
		var result any
		switch req.Method {
		case "eth_getProof":
			<-release
			result = map[string]any{"address": common.Address{1}, "accountProof": []string{}, "balance": "0x1", "codeHash": common.Hash{},
				"nonce": "0x0", "storageHash": common.Hash{}, "storageProof": []any{}}
		case "eth_getBlockByNumber":
			result = map[string]any{"stateRoot": common.Hash{7}}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"jsonrpc": "2.0", "id": req.ID, "result": result})
	}))
	defer srv.Close()
	defer once.Do(func() { close(release) })

	t0 := time.Now()
	p := newSoakProver(srv.URL, []common.Address{{1}}, nil, func() uint64 { return 10 }, 5*time.Second, t0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.openLoop(ctx, 0, 100, 1, 1) }()
	time.Sleep(300 * time.Millisecond)
	releasedAt := time.Since(t0)
	once.Do(func() { close(release) })
	time.Sleep(100 * time.Millisecond)
	cancel()
	require.NoError(t, <-done)

	reqs := p.requests()
	var dueInStall int
	for _, r := range reqs {
		require.False(t, r.Err)
		require.Equal(t, 0, r.Client)
		if r.At < releasedAt {
			dueInStall++
			require.GreaterOrEqual(t, r.At+r.Latency, releasedAt, "a request due at %s answered before the stall ended at %s", r.At, releasedAt)
		}
	}
	require.Greater(t, dueInStall, 1, "the schedule went on during the stall")
	require.Zero(t, p.verified.Load())
	require.Equal(t, int64(len(reqs)), p.failed.Load(), "every bogus proof fails verification")
	require.ErrorContains(t, p.firstFailure(), "block")
}

func TestSoakBuckets(t *testing.T) {
	reqs := []soakRequest{
		{At: 1 * time.Second, Latency: 5 * time.Millisecond},
		{At: 2 * time.Second, Latency: 7 * time.Millisecond},
		{At: 3 * time.Second, Latency: 9 * time.Millisecond, Err: true}, // not a latency
		{At: 12 * time.Second, Latency: time.Millisecond, Client: victimClient},
		{At: 25 * time.Second, Latency: time.Millisecond}, // past the end
	}
	b := bucketize(reqs, 10*time.Second, 20*time.Second)
	require.Len(t, b, 2)
	require.Equal(t, 2, b[0].Load.Count)
	require.Equal(t, 7*time.Millisecond, b[0].Load.P99)
	require.Zero(t, b[1].Load.Count)
	require.Equal(t, 1, b[1].Victim.Count)

	phases := []SoakPhase{{Clients: 0, End: 10 * time.Second}, {Clients: 1, Start: 10 * time.Second, End: 20 * time.Second}}
	summarizePhases(phases, reqs)
	require.Equal(t, 2, phases[0].Load.Count)
	require.Equal(t, 1, phases[0].LoadErrors)
	require.Equal(t, 1, phases[1].Victim.Count)
	require.Equal(t, 1, phases[1].Load.Count, "scheduled after the end: the last phase")
}

func TestSoakReportWrite(t *testing.T) {
	r := soakReportFor()
	r.Date = time.Date(2026, 12, 2, 14, 0, 0, 0, time.UTC)
	r.Contract = *DefaultContract()
	r.Buckets = []SoakBucket{{At: 0, Load: Summary{Count: 3, P50: time.Millisecond, P99: 2 * time.Millisecond}}, {At: 10 * time.Second, Victim: Summary{Count: 1, P99: time.Millisecond}}}
	r.Verdicts = judgeSoak(r, DefaultContract())
	dir := t.TempDir()
	md, err := r.Write(dir)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(dir, "soak-devnet-20261202T140000Z.md"), md)
	text, err := os.ReadFile(md)
	require.NoError(t, err)
	require.Contains(t, string(text), "# strata bench soak: devnet @ 200ms: PASS")
	for _, suffix := range []string{"lag", "proof", "rss", "goroutines"} {
		require.FileExists(t, filepath.Join(dir, "soak-devnet-20261202T140000Z-"+suffix+".png"))
		require.Contains(t, string(text), "-"+suffix+".png")
	}
	var back SoakReport
	raw, err := os.ReadFile(strings.TrimSuffix(md, ".md") + ".json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &back))
	require.Len(t, back.Samples, len(r.Samples))
	require.Equal(t, strings.Count(r.VerdictLines(), "PASS"), len(r.Verdicts))
}

func TestSoakConfigErrors(t *testing.T) {
	_, err := Soak(context.Background(), SoakConfig{Clients: []int{1, 0}, Rate: -1})
	require.Error(t, err)
	for _, want := range []string{"a command", "contract", "duration", "client count 0", "rate", "addresses", "log directory", "block time"} {
		require.ErrorContains(t, err, want)
	}
}
