package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/retention"
)

// TiersConfig is `strata bench tiers`: a recorded chain re-ingested without
// and with the retention runner migrating beside ingest.
type TiersConfig struct {
	Source     RecordedChain
	SourceName string // how the report names the source
	Blocks     uint64 // blocks 1..Blocks are re-ingested; 0 or more than the source holds: all
	// Recent, Window and Checkpoint are the tiers in blocks; the message
	// passer is pinned.
	Recent, Window, Checkpoint uint64
	Samples                    int           // proofs per tier
	BlockTime                  time.Duration // ingest paces one block per slot (0: back to back)
	Repeat                     int           // runs per mode, alternating between the modes
	Timer                      bool          // also run the mode that migrates on a timer
	// OpenStore opens a fresh store in dir with retention r.
	OpenStore func(dir string, r history.Retention) (TierStore, error)
	Log       *slog.Logger
}

// retention is the tiers the migrating modes run with.
func (c TiersConfig) retention() history.Retention {
	return history.Retention{Recent: c.Recent, Window: c.Window, Checkpoint: c.Checkpoint,
		Pinned: []common.Hash{crypto.Keccak256Hash(retention.MessagePasser[:])}}
}

// tierMode is one way of re-ingesting and the runs made that way.
type tierMode struct {
	name        string
	r           history.Retention
	afterCommit bool
	runs        []tierRun
	all         []time.Duration // every run's ingest times, pooled
}

// MeasureTiers re-ingests the source once per mode, Repeat times over with
// the modes alternating so that a loaded machine's drift hits every mode
// alike, then writes to out the ingest figures of every run and mode, and
// each tier's logical bytes per block and proof latency after the last run
// that migrates after each commit.
func MeasureTiers(ctx context.Context, cfg TiersConfig, out io.Writer) error {
	head, err := cfg.Source.Head(ctx)
	if err != nil {
		return fmt.Errorf("source head: %w", err)
	}
	if n := head.Number.Uint64(); cfg.Blocks == 0 || cfg.Blocks > n {
		cfg.Blocks = n
	}
	modes := []*tierMode{{name: "retention off"}}
	if cfg.Timer {
		modes = append(modes, &tierMode{name: "migrating on a timer", r: cfg.retention()})
	}
	modes = append(modes, &tierMode{name: "migrating after each commit", r: cfg.retention(), afterCommit: true})
	migrated, off, err := runTierModes(ctx, cfg, modes)
	if err != nil {
		return err
	}
	writeTiersReport(out, cfg, modes, migrated, off)
	return nil
}

// runTierModes makes Repeat rounds of one run per mode and returns the
// measured runs: the last round's last mode (migrating after each commit)
// and its first (retention off).
func runTierModes(ctx context.Context, cfg TiersConfig, modes []*tierMode) (migrated, off tierRun, err error) {
	for rep := range cfg.Repeat {
		for i, m := range modes {
			last := rep == cfg.Repeat-1 && i == len(modes)-1
			measure := last || (rep == cfg.Repeat-1 && i == 0)
			cfg.Log.Info("Re-ingesting", "blocks", cfg.Blocks, "mode", m.name, "run", rep+1, "of", cfg.Repeat)
			res, err := reingest(ctx, cfg, reingestMode{r: m.r, afterCommit: m.afterCommit, measure: measure})
			if err != nil {
				return migrated, off, fmt.Errorf("%s, run %d: %w", m.name, rep+1, err)
			}
			m.runs = append(m.runs, res)
			m.all = append(m.all, res.lat...)
			switch {
			case last:
				migrated = res
			case measure:
				off = res
			}
		}
	}
	return migrated, off, nil
}

// writeTiersReport writes the tables of MeasureTiers.
func writeTiersReport(out io.Writer, cfg TiersConfig, modes []*tierMode, r, off tierRun) {
	w := tabwriter.NewWriter(out, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(out, "ingest of %d blocks from %s, one block per %s slot, %d run(s) per mode, alternating\n", cfg.Blocks, cfg.SourceName, cfg.BlockTime, cfg.Repeat)
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
		slices.Sort(p50s)
		slices.Sort(p99s)
		pooled := Summarize(m.all)
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t\n", m.name, Percentile(p50s, 50), Percentile(p99s, 50), pooled.P50, pooled.P99, behind)
	}
	w.Flush()
	fmt.Fprintf(out, "\ntiers (recent %d, window %d, checkpoint %d blocks; pinned: the message passer)\n", cfg.Recent, cfg.Window, cfg.Checkpoint)
	fmt.Fprintln(w, "tier\tblocks\tlogical bytes/block\tproof p50\tproof p99\tproofs\t")
	for _, t := range r.tiers {
		fmt.Fprintf(w, "%s\t%s\t%.0f\t%s\t%s\t%d\t\n", t.name, t.span, t.perBlock, t.lat.P50, t.lat.P99, t.lat.Count)
	}
	w.Flush()
	fmt.Fprintf(out, "\nlive sstables: %d bytes with every version; %d after migration and compaction (%.1f%%)\n",
		off.liveAfter, r.liveAfter, 100*float64(r.liveAfter)/float64(max(off.liveAfter, 1)))
}
