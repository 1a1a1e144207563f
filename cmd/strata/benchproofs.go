package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/spf13/cobra"

	"github.com/strata-chain/strata/bench"
)

// proofKeys is the --keys file of `strata bench proofs`.
type proofKeys struct {
	Addresses []common.Address `json:"addresses"`
	Slots     []common.Hash    `json:"slots"`
}

func newBenchProofsCmd() *cobra.Command {
	var (
		url, keysFile, clients string
		duration               time.Duration
		rate                   float64
		window                 uint64
	)
	cmd := &cobra.Command{
		Use:   "proofs",
		Short: "Run the proof load against any Ethereum JSON-RPC node, verifying every answer",
		Long: `Send eth_getProof for the accounts and slots of --keys (JSON:
{"addresses": [...], "slots": [...]}) at random blocks among the newest
--window blocks of the node at --rpc, at each --clients count (and at a
constant --rate), verifying every proof against the block's state root from
the same node. Compare Strata with, say, a geth archive node holding the
same chain.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			raw, err := os.ReadFile(keysFile)
			if err != nil {
				return fmt.Errorf("read keys: %w", err)
			}
			var keys proofKeys
			if err := json.Unmarshal(raw, &keys); err != nil {
				return fmt.Errorf("keys file %s: %w", keysFile, err)
			}
			if len(keys.Addresses) == 0 {
				return fmt.Errorf("keys file %s lists no addresses", keysFile)
			}
			counts, err := parseInts(clients)
			if err != nil {
				return fmt.Errorf("--clients: %w", err)
			}
			cl, err := rpc.DialContext(cmd.Context(), url)
			if err != nil {
				return fmt.Errorf("dial %s: %w", url, err)
			}
			var head hexutil.Uint64
			err = cl.CallContext(cmd.Context(), &head, "eth_blockNumber")
			cl.Close()
			if err != nil {
				return fmt.Errorf("eth_blockNumber on %s: %w", url, err)
			}
			minBlock := uint64(0)
			if uint64(head) > window {
				minBlock = uint64(head) - window
			}
			var results []bench.ProofLoadResult
			run := func(c int, r float64, seed uint64) error {
				res, err := bench.RunProofLoad(cmd.Context(), bench.ProofLoadConfig{
					URL: url, Clients: c, Rate: r, Duration: duration, Seed: seed,
					Addresses: keys.Addresses, Slots: keys.Slots, MinBlock: minBlock,
				})
				if err != nil {
					return err
				}
				results = append(results, *res)
				return nil
			}
			for i, c := range counts {
				if err := run(c, 0, uint64(i+1)); err != nil {
					return err
				}
			}
			if rate > 0 {
				if err := run(256, rate, 99); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "eth_getProof against %s, blocks %d..%d, %d accounts × %d slots, every proof verified\n\n", url, minBlock, head, len(keys.Addresses), len(keys.Slots))
			fmt.Fprintf(out, "| load | proofs | errors | proofs/s | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|---|---|\n")
			ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
			for _, r := range results {
				load := fmt.Sprintf("%d clients", r.Clients)
				if r.Rate > 0 {
					load = fmt.Sprintf("%.0f/s open loop", r.Rate)
				}
				fmt.Fprintf(out, "| %s | %d | %d | %.0f | %.2f | %.2f | %.2f |\n", load, r.Proofs, r.Errors, r.PerSecond, ms(r.Latency.P50), ms(r.Latency.P99), ms(r.Latency.Max))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&url, "rpc", "http://127.0.0.1:8545", "JSON-RPC endpoint")
	f.StringVar(&keysFile, "keys", "", "JSON file {\"addresses\": [...], \"slots\": [...]}")
	f.StringVar(&clients, "clients", "1,4,16", "closed-loop client counts")
	f.DurationVar(&duration, "duration", 20*time.Second, "duration of each load")
	f.Float64Var(&rate, "rate", 0, "also run an open loop at this rate per second")
	f.Uint64Var(&window, "window", 1000, "prove blocks among the newest this many")
	_ = cmd.MarkFlagRequired("keys")
	return cmd
}
