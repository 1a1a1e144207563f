package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-chain/strata/sequencer"
)

func newGenesisCmd() *cobra.Command {
	var (
		configFile string
		out        string
		at         int64
	)
	cmd := &cobra.Command{
		Use:   "genesis",
		Short: "Write the devnet genesis of a configuration, to initialise op-geth with for engine mode",
		Long: `Write the genesis (geth's JSON format) of the devnet chain the sequencer
makes under a configuration: the same config file, flags and STRATA_
variables as strata run. Initialise op-geth with it, then run Strata in
engine mode against that op-geth:

  strata genesis --config configs/devnet.yaml --out genesis.json
  op-geth init --datadir ./op-geth --state.scheme hash genesis.json
  op-geth --datadir ./op-geth --state.scheme hash --gcmode archive --http --http.port 8645 \
    --http.api eth,debug,net,web3,txpool --authrpc.jwtsecret jwt.hex ...
  strata run --config configs/devnet.yaml --sequencer.block_time 1s \
    --engine.url http://127.0.0.1:8551 --engine.jwt jwt.hex --engine.rpc http://127.0.0.1:8645

The genesis depends on the chain ID, gas limit, dev and load accounts, load
seed, timestamp policy and forks, and on its time (now unless --time).`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v, err := loadConfig(cmd.Flags(), configFile)
			if err != nil {
				return err
			}
			cfg, err := nodeConfigFrom(v)
			if err != nil {
				return err
			}
			sec := at
			if sec == 0 {
				sec = time.Now().Unix()
			}
			g, err := sequencer.Genesis(cfg.Sequencer, uint64(sec)*1000)
			if err != nil {
				return err
			}
			raw, err := json.MarshalIndent(g, "", "  ")
			if err != nil {
				return err
			}
			if out == "" {
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s\n", raw)
				return err
			}
			if err := writeFileAtomic(out, raw); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "Wrote %s: chain %d, block 0 %s at %s (%d accounts)\n",
				out, cfg.Sequencer.ChainID, g.ToBlock().Hash(), time.Unix(sec, 0).UTC().Format(time.RFC3339), len(g.Alloc))
			return nil
		},
	}
	cmd.Flags().StringVar(&configFile, "config", "", "YAML config file, as strata run reads it")
	cmd.Flags().StringVar(&out, "out", "", "file to write (empty: standard output)")
	cmd.Flags().Int64Var(&at, "time", 0, "genesis time in Unix seconds (0: now)")
	addFlags(cmd.Flags())
	return cmd
}
