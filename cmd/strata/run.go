package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

// shutdownTimeout bounds `strata run`'s whole shutdown after a signal: the
// drain (drainTimeout), the producer's last block, the store's close.
const shutdownTimeout = 30 * time.Second

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
(http.port: --http.port, STRATA_HTTP_PORT).

Ctrl-C (SIGINT) or SIGTERM stops gracefully: /readyz answers 503 at once,
the JSON-RPC and gRPC requests in flight get up to 5 s to finish while
blocks are still made, then the producer stops and the store closes; the
exit status is 0. A second signal ends the process at once. A restart
resumes from the stored head. A failure to start exits with status 1 and
one line naming the cause.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := nodeConfigAndLogger(cmd, configFile)
			if err != nil {
				return err
			}
			if err := serveUntilSignal(cmd.Context(), cfg, log); err != nil {
				return err
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

// nodeConfigAndLogger reads a node's configuration from cmd's flags, the
// environment and configFile (none when empty), and makes its logger.
func nodeConfigAndLogger(cmd *cobra.Command, configFile string) (nodeConfig, *slog.Logger, error) {
	v, err := loadConfig(cmd.Flags(), configFile)
	if err != nil {
		return nodeConfig{}, nil, err
	}
	log, err := newLogger(cmd.ErrOrStderr(), v.GetString("log.level"), v.GetString("log.format"))
	if err != nil {
		return nodeConfig{}, nil, err
	}
	cfg, err := nodeConfigFrom(v)
	if err != nil {
		return nodeConfig{}, nil, err
	}
	return cfg, log, nil
}

// serveUntilSignal makes a node of cfg, starts it and runs it until
// SIGINT or SIGTERM (or parent's end), or until it fails; then it stops
// it within shutdownTimeout: /readyz answers 503 at once, the requests in
// flight drain, the producer stops and the store closes. From the stop on,
// a second signal ends the process at once. It returns the run's and the
// stop's errors, or why the node did not start (Start released what it
// had started). `strata run` and the soak's source both serve so.
func serveUntilSignal(parent context.Context, cfg nodeConfig, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	defer stop()
	n, err := newNode(cfg, log)
	if err != nil {
		return err
	}
	if err := n.Start(ctx); err != nil {
		return err // Start released what it had started
	}
	n.announce()
	ran := make(chan error, 1)
	go func() { ran <- n.run(context.Background()) }() // Stop ends it, after the drain
	var runErr error
	select {
	case <-ctx.Done():
		log.Info("Shutting down: not ready from now, draining requests in flight", "drain_timeout", drainTimeout)
	case runErr = <-ran:
		ran = nil
		log.Error("Stopping after a fatal error", "err", runErr)
	}
	stop() // from here a second signal ends the process at once
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	stopErr := n.Stop(sctx)
	if ran != nil {
		runErr = <-ran // Stop ended the run
	}
	return errors.Join(runErr, stopErr)
}
