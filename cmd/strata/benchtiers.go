package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethdb/memorydb"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/spf13/cobra"

	"github.com/strata-chain/strata/bench"
	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/history/store"
	"github.com/strata-chain/strata/retention"
)

// benchTiers re-ingests a recorded chain twice, without and with the
// retention runner migrating beside ingest, and then measures each tier:
// logical bytes per block, disk before and after migration, and proof
// latency (state opened, account proved and verified against the root).
func newBenchTiersCmd() *cobra.Command {
	var (
		source     string
		blocks     uint64
		recent     uint64
		window     uint64
		checkpoint uint64
		samples    int
		blockTime  time.Duration
		repeat     int
		timer      bool
	)
	cmd := &cobra.Command{
		Use:   "tiers",
		Short: "Measure retention on a recorded chain: bytes per block per tier, proof latency per tier, ingest p99 with and without migration",
		Long: `Re-ingest blocks 1..--blocks of a stopped node's datadir (--source, e.g.
DIR/chain of strata bench catchup --datadir DIR) into two fresh stores, one
block at a time: once with retention off, once with --recent/--window/
--checkpoint (blocks) and the retention runner migrating beside ingest. It
prints the ingest p50/p99 of both runs, each tier's logical bytes per block,
the disk before and after migration and compaction, and the latency of
opening a block's state and proving a random changed account, per tier.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			src, err := store.Open(source, store.DefaultConfig(), nil)
			if err != nil {
				return err
			}
			defer src.Close()
			head, err := src.Head()
			if err != nil {
				return err
			}
			if blocks == 0 || blocks > head.Number {
				blocks = head.Number
			}
			log, err := newLogger(cmd.ErrOrStderr(), "info", "auto")
			if err != nil {
				return err
			}
			ret := store.Retention{Recent: recent, Window: window, Checkpoint: checkpoint,
				Pinned: []common.Hash{crypto.Keccak256Hash(retention.MessagePasser[:])}}
			out := cmd.OutOrStdout()
			// Runs alternate between the modes, repeat times over, so
			// that a loaded machine's drift hits every mode alike; the
			// tiers are measured after the last run that migrates after
			// each commit.
			type mode struct {
				name        string
				r           store.Retention
				afterCommit bool
				runs        []tierRun
				all         []time.Duration
			}
			modes := []*mode{{name: "retention off"}}
			if timer {
				modes = append(modes, &mode{name: "migrating on a timer", r: ret})
			}
			modes = append(modes, &mode{name: "migrating after each commit", r: ret, afterCommit: true})
			var r, off tierRun
			for rep := range repeat {
				for i, m := range modes {
					last := rep == repeat-1 && i == len(modes)-1
					measure := last || (rep == repeat-1 && i == 0)
					log.Info("Re-ingesting", "blocks", blocks, "mode", m.name, "run", rep+1, "of", repeat)
					res, err := reingest(ctx, src, blocks, m.r, blockTime, m.afterCommit, measure, samples)
					if err != nil {
						return err
					}
					m.runs = append(m.runs, res)
					m.all = append(m.all, res.lat...)
					switch {
					case last:
						r = res
					case measure:
						off = res
					}
				}
			}
			w := tabwriter.NewWriter(out, 2, 4, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintf(out, "ingest of %d blocks from %s, one block per %s slot, %d run(s) per mode, alternating\n", blocks, source, blockTime, repeat)
			fmt.Fprintln(w, "run\tp50\tp99\tmax\tmigration steps\tblocks left to migrate at the end\t")
			for _, m := range modes {
				for i, res := range m.runs {
					s := res.ingest
					fmt.Fprintf(w, "%s #%d\t%s\t%s\t%s\t%d\t%d\t\n", m.name, i+1, s.P50, s.P99, s.Max, res.steps, res.behind)
				}
			}
			w.Flush()
			fmt.Fprintln(w, "\nmode\tmedian run p50\tmedian run p99\tpooled p50\tpooled p99\tmost blocks left\t")
			for _, m := range modes {
				var p50s, p99s []time.Duration
				var behind uint64
				for _, res := range m.runs {
					p50s, p99s = append(p50s, res.ingest.P50), append(p99s, res.ingest.P99)
					behind = max(behind, res.behind)
				}
				pooled := bench.Summarize(m.all)
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t\n", m.name, bench.Percentile(sorted(p50s), 50), bench.Percentile(sorted(p99s), 50), pooled.P50, pooled.P99, behind)
			}
			w.Flush()
			fmt.Fprintf(out, "\ntiers (recent %d, window %d, checkpoint %d blocks; pinned: the message passer)\n", recent, window, checkpoint)
			fmt.Fprintln(w, "tier\tblocks\tlogical bytes/block\tproof p50\tproof p99\tproofs\t")
			for _, t := range r.tiers {
				fmt.Fprintf(w, "%s\t%s\t%.0f\t%s\t%s\t%d\t\n", t.name, t.span, t.perBlock, t.lat.P50, t.lat.P99, t.lat.Count)
			}
			w.Flush()
			fmt.Fprintf(out, "\nlive sstables: %d bytes with every version; %d after migration and compaction (%.1f%%)\n",
				off.liveAfter, r.liveAfter, 100*float64(r.liveAfter)/float64(max(off.liveAfter, 1)))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&source, "source", "", "datadir of a stopped node holding the chain")
	f.Uint64Var(&blocks, "blocks", 0, "blocks to re-ingest (default all)")
	f.Uint64Var(&recent, "recent", 64, "recent tier in blocks")
	f.Uint64Var(&window, "window", 1<<40, "window tier in blocks")
	f.Uint64Var(&checkpoint, "checkpoint", 16, "checkpoint interval in blocks")
	f.IntVar(&samples, "samples", 200, "proofs per tier")
	f.IntVar(&repeat, "repeat", 1, "runs per mode, alternating between the modes")
	f.BoolVar(&timer, "timer", true, "also run the mode that migrates on a timer")
	f.DurationVar(&blockTime, "block-time", 200*time.Millisecond, "ingest paces blocks at this interval, as a live chain does (0: back to back)")
	_ = cmd.MarkFlagRequired("source")
	return cmd
}

type tierLatency struct {
	name     string
	span     string
	perBlock float64
	lat      bench.Summary
}

type tierRun struct {
	ingest    bench.Summary
	steps     int
	tiers     []tierLatency
	liveAfter uint64
	lat       []time.Duration // every block's ingest time
	behind    uint64          // blocks the recent tier should have given up by the end of ingest but had not
}

// reingest ingests blocks 1..blocks of src into a fresh store, one per slot,
// with retention r running beside it; with measure it then finishes the
// migration, compacts, and measures each tier.
func reingest(ctx context.Context, src *store.Store, blocks uint64, r store.Retention, blockTime time.Duration, afterCommit, measure bool, samples int) (tierRun, error) {
	var res tierRun
	dir, err := os.MkdirTemp("", "strata-bench-tiers-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	cfg := store.DefaultConfig()
	cfg.Retention = r
	dst, err := store.Open(dir, cfg, nil)
	if err != nil {
		return res, err
	}
	defer dst.Close()
	g, err := src.GenesisState()
	if err != nil {
		return res, err
	}
	h0, err := src.HeaderByNumber(0)
	if err != nil {
		return res, err
	}
	hdr := types.CopyHeader(h0)
	hdr.Root = common.Hash{}
	_, err = dst.LoadGenesis(ctx, g, hdr, nil)
	g.Close()
	if err != nil {
		return res, err
	}
	var mu sync.Mutex
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	committed := make(chan struct{}, 1)
	if r.Enabled() {
		go func() {
			rcfg := retention.DefaultConfig(blockTime)
			if afterCommit {
				rcfg.Committed = committed
			}
			done <- retention.Run(rctx, rcfg, dst, slogDiscard(),
				func(store.MigrateResult, time.Duration) { mu.Lock(); res.steps++; mu.Unlock() })
		}()
	} else {
		close(done)
	}
	var lat []time.Duration
	next := time.Now()
	for n := uint64(1); n <= blocks; n++ {
		if wait := time.Until(next); wait > 0 {
			time.Sleep(wait) // the block's slot has not come yet
		}
		next = next.Add(blockTime)
		u, err := src.UpdateAt(n)
		if err != nil {
			stop()
			return res, err
		}
		start := time.Now()
		if err := dst.Ingest(ctx, u); err != nil {
			stop()
			return res, err
		}
		lat = append(lat, time.Since(start))
		select {
		case committed <- struct{}{}:
		default:
		}
	}
	stop()
	if err := <-done; err != nil {
		return res, err
	}
	res.ingest = bench.Summarize(lat)
	res.lat = lat
	if r.Enabled() && blocks > r.Recent {
		if due := (blocks-r.Recent)/r.Checkpoint*r.Checkpoint + 1; due > dst.Tiers()[0].Earliest {
			res.behind = due - dst.Tiers()[0].Earliest
		}
	}
	if !measure {
		return res, nil
	}
	for r.Enabled() {
		m, err := dst.Migrate(ctx, 1<<20)
		if err != nil {
			return res, err
		}
		if !m.More {
			break
		}
	}
	if err := dst.Compact(); err != nil {
		return res, err
	}
	res.liveAfter = dst.LiveTableBytes()
	if !r.Enabled() {
		return res, nil
	}
	// Proof latency per tier on blocks each tier serves.
	rng := rand.New(rand.NewPCG(1, 2))
	oldest, _ := dst.Oldest()
	for _, t := range dst.Tiers() {
		tl := tierLatency{name: t.Name}
		if t.Empty {
			res.tiers = append(res.tiers, tl)
			continue
		}
		nblocks := t.Latest - t.Earliest + 1
		tl.span = fmt.Sprintf("%d-%d", t.Earliest, t.Latest)
		if t.Name != "pinned" {
			tl.perBlock = float64(t.Bytes) / float64(nblocks)
		}
		var ds []time.Duration
		for range samples {
			n := t.Earliest + rng.Uint64N(nblocks)
			addr := crypto.Keccak256Hash(retention.MessagePasser[:])
			if t.Name == "pinned" {
				n = rng.Uint64N(max(oldest, 1))
			} else if u, err := src.UpdateAt(max(n, 1)); err == nil && len(u.Accounts) > 0 {
				keys := make([]common.Hash, 0, len(u.Accounts))
				for k := range u.Accounts {
					keys = append(keys, k)
				}
				sort.Slice(keys, func(i, j int) bool { return keys[i].Cmp(keys[j]) < 0 })
				addr = keys[rng.IntN(len(keys))]
			}
			start := time.Now()
			if err := proveAt(dst, n, addr); err != nil {
				return res, fmt.Errorf("%s tier, block %d: %w", t.Name, n, err)
			}
			ds = append(ds, time.Since(start))
		}
		tl.lat = bench.Summarize(ds)
		res.tiers = append(res.tiers, tl)
	}
	return res, nil
}

// proveAt opens block n's state, proves the account and verifies the proof
// against the block's root.
func proveAt(s history.Reader, n uint64, addrHash common.Hash) error {
	st, err := s.StateAt(n)
	if err != nil {
		return err
	}
	defer st.Close()
	tr, err := trie.New(trie.StateTrieID(st.Root()), st.Nodes())
	if err != nil {
		return err
	}
	proof := memorydb.New()
	if err := tr.Prove(addrHash[:], proof); err != nil {
		return err
	}
	_, err = trie.VerifyProof(st.Root(), addrHash[:], proof)
	return err
}

func slogDiscard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func sorted(d []time.Duration) []time.Duration {
	slices.Sort(d)
	return d
}
