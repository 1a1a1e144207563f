package api

import (
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/history"
)

// gatedReader holds every StateAt until gate is closed (or delays it).
type gatedReader struct {
	history.Reader
	entered chan struct{}
	gate    chan struct{}
	delay   time.Duration
}

func (g gatedReader) StateAt(n uint64) (history.State, error) {
	if g.entered != nil {
		g.entered <- struct{}{}
	}
	if g.gate != nil {
		<-g.gate
	}
	time.Sleep(g.delay)
	return g.Reader.StateAt(n)
}

func value(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, c.Write(&m))
	if m.Gauge != nil {
		return m.Gauge.GetValue()
	}
	return m.Counter.GetValue()
}

func histCount(t *testing.T, o prometheus.Observer) uint64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, o.(prometheus.Metric).Write(&m))
	return m.Histogram.GetSampleCount()
}

// TestHeavyCallLimits: with the limit full, a witness call is refused at
// once with the busy error (-32005) naming the method and the limit; a call
// that runs past the per-call timeout gets -32002; the metrics count both.
func TestHeavyCallLimits(t *testing.T) {
	c := newOPChain(t)
	reg := prometheus.NewRegistry()
	m := NewDebugMetrics(reg)
	g := gatedReader{Reader: c.store, entered: make(chan struct{}, 8), gate: make(chan struct{})}
	srv, err := NewRPCServer(Config{ChainConfig: c.config, Reader: g, HeavyConcurrency: 2, DbGetConcurrency: 1, DebugMetrics: m})
	require.NoError(t, err)
	defer srv.Stop()
	cl := rpc.DialInProc(srv)
	defer cl.Close()

	errs := make(chan error, 2)
	for i := 0; i < 2; i++ {
		go func() { errs <- cl.Call(new(map[string]any), "debug_executionWitness", hexutil.Uint64(5)) }()
	}
	<-g.entered
	<-g.entered
	require.Equal(t, 2.0, value(t, m.inFlight.WithLabelValues("debug_executionWitness")))
	err = cl.Call(new(map[string]any), "debug_executionWitness", hexutil.Uint64(5))
	require.Error(t, err)
	var re rpc.Error
	require.ErrorAs(t, err, &re)
	require.Equal(t, -32005, re.ErrorCode())
	require.Equal(t, "busy: 2 debug_executionWitness calls already running (the limit); retry later", err.Error())
	var de rpc.DataError
	require.ErrorAs(t, err, &de)
	require.Equal(t, map[string]any{"method": "debug_executionWitness", "limit": 2.0}, de.ErrorData())
	require.Equal(t, 1.0, value(t, m.rejected.WithLabelValues("debug_executionWitness", "busy")))

	// debug_dbGet has a limit of its own: the witnesses do not fill it.
	h, err := c.store.HeaderByNumber(5)
	require.NoError(t, err)
	dbErr := make(chan error, 1)
	go func() { dbErr <- cl.Call(new(hexutil.Bytes), "debug_dbGet", h.Root.Hex()) }()
	<-g.entered
	err = cl.Call(new(hexutil.Bytes), "debug_dbGet", h.Root.Hex())
	require.ErrorAs(t, err, &re)
	require.Equal(t, -32005, re.ErrorCode())
	require.Contains(t, err.Error(), "busy: 1 debug_dbGet calls")

	close(g.gate)
	require.NoError(t, <-errs)
	require.NoError(t, <-errs)
	require.NoError(t, <-dbErr)
	require.Equal(t, 0.0, value(t, m.inFlight.WithLabelValues("debug_executionWitness")))
	require.Equal(t, uint64(2), histCount(t, m.latency.WithLabelValues("debug_executionWitness")))
	require.Equal(t, uint64(1), histCount(t, m.latency.WithLabelValues("debug_dbGet")))

	// A call past its time.
	slow := gatedReader{Reader: c.store, delay: 100 * time.Millisecond}
	srv2, err := NewRPCServer(Config{ChainConfig: c.config, Reader: slow, HeavyTimeout: 20 * time.Millisecond, DebugMetrics: NewDebugMetrics(nil)})
	require.NoError(t, err)
	defer srv2.Stop()
	cl2 := rpc.DialInProc(srv2)
	defer cl2.Close()
	err = cl2.Call(new(map[string]any), "debug_executionWitness", hexutil.Uint64(5))
	require.ErrorAs(t, err, &re)
	require.Equal(t, -32002, re.ErrorCode())
	require.Equal(t, "debug_executionWitness timed out after 20ms", err.Error())
}
