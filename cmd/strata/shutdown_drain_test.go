package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/stateless"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/stretchr/testify/require"
)

// TestShutdownDrainsInFlightRequests runs `strata run` in a child process
// with api.future_wait set, asks it for the witness of a block a few slots
// ahead (a request that waits for the block), and sends SIGTERM once the
// node counts the request in flight. Then /readyz answers 503 while the
// request is still waiting, the request completes with the witness (the
// sequencer keeps making blocks during the drain) instead of being cut,
// and the process exits 0 after logging a clean stop.
func TestShutdownDrainsInFlightRequests(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process")
	}
	metricsPort := freePort(t)
	c := startChild(t, "run --mode sequencer --datadir", t.TempDir(),
		"--http.addr 127.0.0.1 --http.port 0 --ws.port 0 --grpc.port 0 --metrics.port", strconv.Itoa(metricsPort),
		"--log.format json --status.interval 0 --sequencer.block_time 1s --api.future_wait 1m")
	var serving struct {
		HTTP string `json:"http"`
	}
	require.NoError(t, json.Unmarshal([]byte(c.waitFor(`"msg":"Strata is serving"`)), &serving))
	ops := "http://127.0.0.1:" + strconv.Itoa(metricsPort)
	get := func(path string) (int, string) {
		resp, err := http.Get(ops + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(body)
	}
	// Ready once the first blocks are made.
	for code, _ := get("/readyz"); code != http.StatusOK; code, _ = get("/readyz") {
		time.Sleep(50 * time.Millisecond)
	}

	cl, err := rpc.Dial(serving.HTTP)
	require.NoError(t, err)
	defer cl.Close()
	var head hexutil.Uint64
	require.NoError(t, cl.Call(&head, "eth_blockNumber"))
	target := head + 3 // three one-second slots ahead: inside the five-second drain
	type result struct {
		w   *stateless.ExtWitness
		err error
	}
	done := make(chan result, 1)
	go func() {
		var w stateless.ExtWitness
		err := cl.Call(&w, "debug_executionWitness", target)
		done <- result{&w, err}
	}()
	// The node has the request: it is in the heavy-call limiter, waiting.
	inFlight := `strata_debug_calls_in_flight{method="debug_executionWitness"} 1`
	for _, metrics := get("/metrics"); !strings.Contains(metrics, inFlight); _, metrics = get("/metrics") {
		time.Sleep(10 * time.Millisecond)
	}

	c.signal(syscall.SIGTERM)
	code, body := get("/readyz")
	for code == http.StatusOK { // the signal is on its way
		time.Sleep(time.Millisecond)
		code, body = get("/readyz")
	}
	require.Equal(t, http.StatusServiceUnavailable, code, body)
	require.Contains(t, body, "shutting down")
	select {
	case r := <-done:
		t.Fatalf("the request ended before the drain was observed (err %v): block %d came too soon", r.err, target)
	default:
	}

	r := <-done
	require.NoError(t, r.err, "the request in flight completes during the drain")
	require.NotEmpty(t, r.w.Headers, "the witness of block %d", target)
	require.Equal(t, uint64(target-1), r.w.Headers[0].Number.Uint64(), "the witness starts at the block's parent")

	c.waitFor("Stopped cleanly")
	require.NoError(t, c.wait(), "exit status 0 after SIGTERM")
}
