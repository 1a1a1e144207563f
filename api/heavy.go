package api

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Limits of the heavy debug calls. debug_executionWitness and
// debug_executePayload re-execute a whole block (op-reth's proofs sidecar
// runs 3 at once); debug_dbGet reads one node but comes in long walks, so it
// has a limit of its own.
const (
	defaultHeavyConcurrency = 3
	defaultDbGetConcurrency = 64
	defaultHeavyTimeout     = 30 * time.Second
)

// errcodeBusy is the JSON-RPC code of a call refused because its limit is
// full: EIP-1474's "limit exceeded", which clients (viem, ethers, op-service's
// retrying clients) treat as "back off and retry".
const errcodeBusy = -32005

// errcodeTimeout is go-ethereum's rpc code for a call that ran out of time.
const errcodeTimeout = -32002

// busyError refuses a call because its limit is full.
type busyError struct {
	method string
	limit  int
}

func (e *busyError) Error() string {
	return fmt.Sprintf("busy: %d %s calls already running (the limit); retry later", e.limit, e.method)
}
func (e *busyError) ErrorCode() int { return errcodeBusy }
func (e *busyError) ErrorData() any { return map[string]any{"method": e.method, "limit": e.limit} }

// callTimeoutError ends a call that ran past its time.
type callTimeoutError struct {
	method  string
	timeout time.Duration
}

func (e *callTimeoutError) Error() string {
	return fmt.Sprintf("%s timed out after %s", e.method, e.timeout)
}
func (e *callTimeoutError) ErrorCode() int { return errcodeTimeout }
func (e *callTimeoutError) Unwrap() error  { return context.DeadlineExceeded }

// DebugMetrics are the Prometheus metrics of the limited debug calls, by
// method: calls running, calls refused (reason busy or timeout) and latency.
type DebugMetrics struct {
	inFlight *prometheus.GaugeVec
	rejected *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// NewDebugMetrics makes the metrics and registers them with reg:
// strata_debug_calls_in_flight{method}, strata_debug_calls_rejected_total{method,reason}
// and strata_debug_call_seconds{method}. Pass the result as
// Config.DebugMetrics.
func NewDebugMetrics(reg prometheus.Registerer) *DebugMetrics {
	m := &DebugMetrics{
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "strata_debug_calls_in_flight",
			Help: "Limited debug calls running (debug_executionWitness, debug_executePayload, debug_dbGet)."}, []string{"method"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "strata_debug_calls_rejected_total",
			Help: "Limited debug calls refused: busy (the limit was full) or timeout (ran past the per-call timeout)."}, []string{"method", "reason"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "strata_debug_call_seconds",
			Help: "Latency of the limited debug calls that were admitted, errors included.", Buckets: prometheus.ExponentialBuckets(0.00005, 2, 20)}, []string{"method"}),
	}
	if reg != nil {
		reg.MustRegister(m.inFlight, m.rejected, m.latency)
	}
	return m
}

// limiter admits a bounded number of calls at once, each with a deadline.
type limiter struct {
	slots   chan struct{}
	timeout time.Duration
	m       *DebugMetrics
}

func newLimiter(n int, timeout time.Duration, m *DebugMetrics) *limiter {
	return &limiter{slots: make(chan struct{}, n), timeout: timeout, m: m}
}

// enter admits a call to method or refuses it with busyError at once. The
// returned context carries the call's deadline; done must be called with
// the call's error, which it turns into callTimeoutError when the deadline
// ended the call.
func (l *limiter) enter(ctx context.Context, method string) (context.Context, func(error) error, error) {
	select {
	case l.slots <- struct{}{}:
	default:
		if l.m != nil {
			l.m.rejected.WithLabelValues(method, "busy").Inc()
		}
		return nil, nil, &busyError{method: method, limit: cap(l.slots)}
	}
	start := time.Now()
	if l.m != nil {
		l.m.inFlight.WithLabelValues(method).Inc()
	}
	cctx, cancel := context.WithTimeout(ctx, l.timeout)
	done := func(err error) error {
		timedOut := err != nil && errors.Is(cctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil
		cancel()
		<-l.slots
		if l.m != nil {
			l.m.inFlight.WithLabelValues(method).Dec()
			l.m.latency.WithLabelValues(method).Observe(time.Since(start).Seconds())
			if timedOut {
				l.m.rejected.WithLabelValues(method, "timeout").Inc()
			}
		}
		if timedOut {
			return &callTimeoutError{method: method, timeout: l.timeout}
		}
		return err
	}
	return cctx, done, nil
}
