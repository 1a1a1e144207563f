package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"
)

// ProofKeys are the accounts and slots `strata bench proofs` asks for, the
// JSON of its --keys file: {"addresses": [...], "slots": [...]}.
type ProofKeys struct {
	Addresses []common.Address `json:"addresses"`
	Slots     []common.Hash    `json:"slots"`
}

// LoadProofKeys reads a keys file; one without addresses is an error.
func LoadProofKeys(path string) (ProofKeys, error) {
	var keys ProofKeys
	raw, err := os.ReadFile(path)
	if err != nil {
		return keys, fmt.Errorf("read keys: %w", err)
	}
	if err := json.Unmarshal(raw, &keys); err != nil {
		return keys, fmt.Errorf("keys file %s: %w", path, err)
	}
	if len(keys.Addresses) == 0 {
		return keys, fmt.Errorf("keys file %s lists no addresses", path)
	}
	return keys, nil
}

// ProofsConfig is `strata bench proofs`: the proof load against any
// Ethereum JSON-RPC node.
type ProofsConfig struct {
	URL      string
	Keys     ProofKeys
	Clients  []int         // closed-loop client counts, one after the other
	Rate     float64       // also an open loop at this rate per second (0: none)
	Duration time.Duration // of each load
	Window   uint64        // prove blocks among the newest this many
}

// RunProofs runs the proof load at each client count and then at the rate,
// at blocks among the node's newest Window, every proof verified against
// the block's root from the same node, and writes a Markdown table to out.
func RunProofs(ctx context.Context, cfg ProofsConfig, out io.Writer) error {
	head, err := headOf(ctx, cfg.URL)
	if err != nil {
		return err
	}
	minBlock := uint64(0)
	if head > cfg.Window {
		minBlock = head - cfg.Window
	}
	var results []ProofLoadResult
	run := func(c int, r float64, seed uint64) error {
		res, err := RunProofLoad(ctx, ProofLoadConfig{
			URL: cfg.URL, Clients: c, Rate: r, Duration: cfg.Duration, Seed: seed,
			Addresses: cfg.Keys.Addresses, Slots: cfg.Keys.Slots, MinBlock: minBlock,
		})
		if err != nil {
			return err
		}
		results = append(results, *res)
		return nil
	}
	for i, c := range cfg.Clients {
		if err := run(c, 0, uint64(i+1)); err != nil {
			return err
		}
	}
	if cfg.Rate > 0 {
		if err := run(256, cfg.Rate, 99); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "eth_getProof against %s, blocks %d..%d, %d accounts × %d slots, every proof verified\n\n", cfg.URL, minBlock, head, len(cfg.Keys.Addresses), len(cfg.Keys.Slots))
	writeProofTable(out, results)
	return nil
}

// headOf asks the node at url for its newest block number.
func headOf(ctx context.Context, url string) (uint64, error) {
	cl, err := rpc.DialContext(ctx, url)
	if err != nil {
		return 0, fmt.Errorf("dial %s: %w", url, err)
	}
	defer cl.Close()
	var head hexutil.Uint64
	if err := cl.CallContext(ctx, &head, "eth_blockNumber"); err != nil {
		return 0, fmt.Errorf("eth_blockNumber on %s: %w", url, err)
	}
	return uint64(head), nil
}

// writeProofTable writes one Markdown row per load.
func writeProofTable(out io.Writer, results []ProofLoadResult) {
	fmt.Fprintf(out, "| load | proofs | errors | proofs/s | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|---|---|\n")
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	for _, r := range results {
		load := fmt.Sprintf("%d clients", r.Clients)
		if r.Rate > 0 {
			load = fmt.Sprintf("%.0f/s open loop", r.Rate)
		}
		fmt.Fprintf(out, "| %s | %d | %d | %.0f | %.2f | %.2f | %.2f |\n", load, r.Proofs, r.Errors, r.PerSecond, ms(r.Latency.P50), ms(r.Latency.P99), ms(r.Latency.Max))
	}
}
