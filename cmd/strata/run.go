package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func newRunCmd() *cobra.Command {
	var configFile string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run a node: a full-stack 200 ms devnet by default",
		Long: `Run a Strata node.

Modes:
  fullstack  the built-in sequencer makes a block every block time with the
             load generator's transactions, the history store ingests every
             block, and JSON-RPC serves proofs and historical reads (default)
  sequencer  the same without the load generator: only transactions sent
             with eth_sendRawTransaction are included
  follower   follow an upstream chain: an execution client over JSON-RPC
             (follower.url http:// or ws://, with follower.genesis) or
             another Strata's gRPC block stream (strata://host:grpc-port);
             every block is ingested through the state-root check

Engine mode (fullstack or sequencer with engine.url): an external op-geth
builds the blocks, driven over its Engine API as op-node's sequencer drives
it, on whole-second block times under the seconds timestamp policy. Load
and eth_sendRawTransaction transactions go to op-geth's pool, and Strata
follows op-geth (engine.rpc) into its store. op-geth must have been
initialised from the genesis strata genesis writes for the same
configuration; the datadir keeps it as genesis.json. make run-opgeth runs
both.

Every configuration key is a flag, and a STRATA_ environment variable
(http.port: --http.port, STRATA_HTTP_PORT). Ctrl-C stops cleanly; a restart
resumes from the stored head.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v, err := loadConfig(cmd.Flags(), configFile)
			if err != nil {
				return err
			}
			log, err := newLogger(cmd.ErrOrStderr(), v.GetString("log.level"), v.GetString("log.format"))
			if err != nil {
				return err
			}
			cfg, err := nodeConfigFrom(v)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			n, err := newNode(cfg, log)
			if err != nil {
				return err
			}
			n.announce()
			runErr := n.run(ctx)
			if runErr != nil {
				log.Error("Stopping after a fatal error", "err", runErr)
			} else {
				log.Info("Shutting down")
			}
			closeErr := n.Close()
			if runErr != nil {
				return runErr
			}
			if closeErr != nil {
				return closeErr
			}
			log.Info("Stopped cleanly; a restart resumes from the stored head")
			return nil
		},
	}
	cmd.Flags().StringVar(&configFile, "config", "", "YAML config file (configs/devnet.yaml documents every key)")
	addFlags(cmd.Flags())
	cmd.SetContext(context.Background())
	return cmd
}
