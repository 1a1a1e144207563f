package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/strata-chain/strata/api/statuspb"
)

// NodeSample is what one second's sampling read from one strata process.
// A figure the process did not answer is left zero and its flag false, so
// a missed sample is never mistaken for a good one.
type NodeSample struct {
	// StatusOK: GET /v1/status answered; Head, UpstreamHead, LagBlocks and
	// LagMs are its figures (the node's own lag objective: for a follower
	// the time the block after its head has waited since it learnt of it,
	// for a sequencer commit time minus the block's slot).
	StatusOK     bool    `json:"status_ok"`
	Head         uint64  `json:"head"`
	UpstreamHead uint64  `json:"upstream_head"`
	LagBlocks    uint64  `json:"lag_blocks"`
	LagMs        float64 `json:"lag_ms"`
	// Readyz is the HTTP status /readyz answered (0: no answer) and
	// NotReady its body when it was not 200.
	Readyz   int    `json:"readyz"`
	NotReady string `json:"not_ready,omitempty"`
	// RSS is VmRSS of /proc/<pid>/status in bytes (0: not read).
	RSS uint64 `json:"rss_bytes"`
	// Goroutines is the go_goroutines metric (-1: not read).
	Goroutines int `json:"goroutines"`
}

// SoakSample is one sampling tick of a soak.
type SoakSample struct {
	At       time.Duration `json:"at_ns"` // since the measured window began
	Phase    int           `json:"phase"` // index into SoakReport.Phases
	Follower NodeSample    `json:"follower"`
	Source   NodeSample    `json:"source"`
}

// nodeSampler reads one process's figures over its ops HTTP server and
// /proc.
type nodeSampler struct {
	ops string // host:port
	pid int
	cl  *http.Client
}

func newNodeSampler(ops string, pid int, timeout time.Duration) *nodeSampler {
	return &nodeSampler{ops: ops, pid: pid, cl: &http.Client{Timeout: timeout}}
}

// sample reads everything; each part that fails is left unset.
func (s *nodeSampler) sample(ctx context.Context) NodeSample {
	out := NodeSample{Goroutines: -1}
	if st, err := s.status(ctx); err == nil {
		out.StatusOK, out.Head, out.UpstreamHead, out.LagBlocks, out.LagMs = true, st.Head, st.UpstreamHead, st.LagBlocks, st.LagMs
	}
	if code, body, err := s.get(ctx, "/readyz"); err == nil {
		out.Readyz = code
		if code != http.StatusOK {
			out.NotReady = strings.TrimSpace(string(body))
		}
	}
	if _, body, err := s.get(ctx, "/metrics"); err == nil {
		if g, err := metricValue(strings.NewReader(string(body)), "go_goroutines"); err == nil {
			out.Goroutines = int(g)
		}
	}
	if rss, err := processRSS(s.pid); err == nil {
		out.RSS = rss
	}
	return out
}

func (s *nodeSampler) get(ctx context.Context, path string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.ops+path, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := s.cl.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp.StatusCode, body, err
}

// status reads GET /v1/status (protojson: uint64 fields are strings).
func (s *nodeSampler) status(ctx context.Context) (*statuspb.NodeStatus, error) {
	code, body, err := s.get(ctx, "/v1/status")
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("GET /v1/status: HTTP %d", code)
	}
	var st statuspb.NodeStatus
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, &st); err != nil {
		return nil, fmt.Errorf("GET /v1/status: %w", err)
	}
	return &st, nil
}

// metricValue returns the value of an unlabelled sample of the Prometheus
// text exposition format ("go_goroutines 42").
func metricValue(r io.Reader, name string) (float64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), name)
		if !ok || !strings.HasPrefix(rest, " ") {
			continue
		}
		f := strings.Fields(rest)
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return 0, fmt.Errorf("metric %s: %w", name, err)
		}
		return v, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("metric %s not found", name)
}
