package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-chain/strata/bench"
)

func newBenchProofsCmd() *cobra.Command {
	var (
		cfg               bench.ProofsConfig
		keysFile, clients string
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
			var err error
			if cfg.Keys, err = bench.LoadProofKeys(keysFile); err != nil {
				return err
			}
			if cfg.Clients, err = parseInts(clients); err != nil {
				return fmt.Errorf("--clients: %w", err)
			}
			return bench.RunProofs(cmd.Context(), cfg, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.URL, "rpc", "http://127.0.0.1:8545", "JSON-RPC endpoint")
	f.StringVar(&keysFile, "keys", "", "JSON file {\"addresses\": [...], \"slots\": [...]}")
	f.StringVar(&clients, "clients", "1,4,16", "closed-loop client counts")
	f.DurationVar(&cfg.Duration, "duration", 20*time.Second, "duration of each load")
	f.Float64Var(&cfg.Rate, "rate", 0, "also run an open loop at this rate per second")
	f.Uint64Var(&cfg.Window, "window", 1000, "prove blocks among the newest this many")
	_ = cmd.MarkFlagRequired("keys")
	return cmd
}
