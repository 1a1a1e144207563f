package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/strata-chain/strata/history/store"
)

func newDBCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "db", Short: "Inspect a Strata datadir"}
	var (
		datadir string
		digest  bool
	)
	stats := &cobra.Command{
		Use:   "stats",
		Short: "Print the head, the retention tiers (blocks and logical bytes) and the disk use of a stopped node's datadir (read-only: works on a full disk)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Read-only: nothing is written, not even Pebble's recovery,
			// so it works on a datadir whose disk is full.
			s, err := store.OpenReadOnly(datadir, store.DefaultConfig(), nil)
			if err != nil {
				return err
			}
			defer s.Close()
			out := cmd.OutOrStdout()
			head, err := s.Head()
			if err != nil {
				return err
			}
			oldest, _ := s.Oldest()
			fmt.Fprintf(out, "datadir %s\nhead    %d %s\noldest  %d (oldest block with full state)\n\n", datadir, head.Number, head.Hash, oldest)
			w := tabwriter.NewWriter(out, 2, 4, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(w, "tier\tearliest\tlatest\tblocks\tlogical bytes\tbytes/block\t")
			for _, t := range s.Tiers() {
				blocks := uint64(0)
				if !t.Empty && t.Latest >= t.Earliest {
					blocks = t.Latest - t.Earliest + 1
				}
				per := 0.0
				if blocks > 0 && t.Name != "pinned" {
					per = float64(t.Bytes) / float64(blocks)
				}
				fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%.0f\t\n", t.Name, t.Earliest, t.Latest, blocks, t.Bytes, per)
			}
			w.Flush()
			fmt.Fprintf(out, "\ndisk    %d bytes (%d in live sstables; logical bytes are uncompressed, disk is compressed)\n", s.DiskUsage(), s.LiveTableBytes())
			if digest {
				d, err := s.Digest()
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "digest  %s\n", d)
			}
			return nil
		},
	}
	stats.Flags().StringVar(&datadir, "datadir", "./data", "datadir of a stopped node")
	stats.Flags().BoolVar(&digest, "digest", false, "also hash everything the store holds (compares replicas; reads the whole store)")
	cmd.AddCommand(stats)
	return cmd
}
