package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// BlockSample is one block of a run, for the time-series plots.
type BlockSample struct {
	At     time.Duration `json:"at_ns"` // since the measured window began
	Number uint64        `json:"number"`
	Txs    int           `json:"txs"`
	Gas    uint64        `json:"gas"`
	Ingest time.Duration `json:"ingest_ns"`
	Lag    time.Duration `json:"lag_ns"`
}

// DiskSample is the store's size at a moment of a run.
type DiskSample struct {
	At    time.Duration `json:"at_ns"`
	Head  uint64        `json:"head"`
	Bytes uint64        `json:"bytes"`
}

// Run is what one profile measured at one block time.
type Run struct {
	Profile            string             `json:"profile"`
	BlockTime          time.Duration      `json:"block_time_ns"`
	GasPerSecondTarget uint64             `json:"gas_per_second_target"`
	InitialAccounts    int                `json:"initial_accounts"`
	InitialSlots       int                `json:"initial_slots"`
	Setup              time.Duration      `json:"setup_ns"` // genesis with the initial state
	Window             time.Duration      `json:"window_ns"`
	Blocks             int                `json:"blocks"`
	EmptyBlocks        int                `json:"empty_blocks"`
	BlocksPerSecond    float64            `json:"blocks_per_second"`
	TxsPerSecond       float64            `json:"txs_per_second"`
	GasPerSecond       float64            `json:"gas_per_second"`
	Stages             map[string]Summary `json:"stages"` // execute, state_root, commit, seal, publish
	Ingest             Summary            `json:"ingest"`
	Lag                Summary            `json:"lag"`
	Proofs             []ProofLoadResult  `json:"proofs"`
	Head               uint64             `json:"head"`
	DiskBytes          uint64             `json:"disk_bytes"`
	DiskPerBlock       float64            `json:"disk_bytes_per_block"`
	PeakRSS            uint64             `json:"peak_rss_bytes"`
	Series             []BlockSample      `json:"series"`
	Disk               []DiskSample       `json:"disk"`
	Verdicts           []Verdict          `json:"verdicts"`
	// Follower is set when a follower followed the run's chain.
	Follower *FollowerStats `json:"follower,omitempty"`
}

// FollowerStats is what a follower of the run's block stream measured:
// its lag behind the sequencer (time from the sequencer's commit of a block
// to the follower's, and the sequencer's head minus the follower's when it
// committed) and its own ingest per block.
type FollowerStats struct {
	Blocks    int     `json:"blocks"`
	Lag       Summary `json:"lag"`
	LagBlocks struct {
		P50 uint64 `json:"p50"`
		P99 uint64 `json:"p99"`
		Max uint64 `json:"max"`
	} `json:"lag_blocks"`
	Ingest Summary `json:"ingest"`
}

// Passed reports whether every verdict passed.
func (r *Run) Passed() bool {
	for _, v := range r.Verdicts {
		if !v.Pass {
			return false
		}
	}
	return len(r.Verdicts) > 0
}

// Machine describes where a report was made.
type Machine struct {
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	CPUs      int    `json:"cpus"`
	GoVersion string `json:"go_version"`
	Host      string `json:"host"`
}

// ThisMachine describes the running machine.
func ThisMachine() Machine {
	host, _ := os.Hostname()
	return Machine{OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), Host: host}
}

// Report is a bench run: one profile at one or more block times.
type Report struct {
	Name    string    `json:"name"`
	Date    time.Time `json:"date"`
	Version string    `json:"version"`
	Command string    `json:"command"`
	Machine Machine   `json:"machine"`
	Runs    []*Run    `json:"runs"`
}

// Write writes <dir>/<name>-<time>.json, .md and the PNG plots, and returns
// the Markdown report's path.
func (rep *Report) Write(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	base := filepath.Join(dir, fmt.Sprintf("%s-%s", rep.Name, rep.Date.UTC().Format("20060102T150405Z")))
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(base+".json", append(js, '\n'), 0o644); err != nil {
		return "", err
	}
	plots, err := WritePlots(rep, base)
	if err != nil {
		return "", err
	}
	md := rep.Markdown(plots)
	if err := os.WriteFile(base+".md", []byte(md), 0o644); err != nil {
		return "", err
	}
	return base + ".md", nil
}

// Markdown renders the report: the figures side by side per block time, and
// the PASS/FAIL table of each run against the contract.
func (rep *Report) Markdown(plots []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# strata bench: %s\n\n", rep.Name)
	fmt.Fprintf(&b, "%s · strata %s · %s/%s, %d CPUs, %s · `%s`\n\n", rep.Date.UTC().Format(time.RFC3339), rep.Version,
		rep.Machine.OS, rep.Machine.Arch, rep.Machine.CPUs, rep.Machine.GoVersion, rep.Command)
	if len(rep.Runs) == 0 {
		b.WriteString("No runs.\n")
		return b.String()
	}
	t := runTable{b: &b, runs: rep.Runs}
	t.header()
	t.chainRows()
	t.proofRows()
	t.followerRows()
	t.row("disk bytes/block", func(r *Run) string { return fmt.Sprintf("%.0f", r.DiskPerBlock) })
	t.row("peak RSS MiB", func(r *Run) string { return fmt.Sprintf("%.0f", float64(r.PeakRSS)/(1<<20)) })
	for _, r := range rep.Runs {
		writeVerdicts(&b, r)
	}
	if len(plots) > 0 {
		b.WriteString("\n## Plots\n\n")
		for _, p := range plots {
			fmt.Fprintf(&b, "![%s](%s)\n", filepath.Base(p), filepath.Base(p))
		}
	}
	return b.String()
}

// runTable writes the report's figures as a Markdown table, one column
// per run.
type runTable struct {
	b    *strings.Builder
	runs []*Run
}

// msText formats a duration in milliseconds.
func msText(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

func (t runTable) header() {
	t.b.WriteString("| figure |")
	for _, r := range t.runs {
		fmt.Fprintf(t.b, " %s @ %s |", r.Profile, r.BlockTime)
	}
	t.b.WriteString("\n|---|")
	for range t.runs {
		t.b.WriteString("---|")
	}
	t.b.WriteString("\n")
}

// row writes one figure: its name and f of each run.
func (t runTable) row(name string, f func(r *Run) string) {
	fmt.Fprintf(t.b, "| %s |", name)
	for _, r := range t.runs {
		fmt.Fprintf(t.b, " %s |", f(r))
	}
	t.b.WriteString("\n")
}

// chainRows are the chain's figures: load, blocks, stages, ingest and lag.
func (t runTable) chainRows() {
	t.row("initial state (accounts / slots)", func(r *Run) string { return fmt.Sprintf("%d / %d", r.InitialAccounts, r.InitialSlots) })
	t.row("gas/s target → made", func(r *Run) string {
		return fmt.Sprintf("%.0f → %.1f M", float64(r.GasPerSecondTarget)/1e6, r.GasPerSecond/1e6)
	})
	t.row("blocks (empty) · blocks/s", func(r *Run) string {
		return fmt.Sprintf("%d (%d) · %.2f", r.Blocks, r.EmptyBlocks, r.BlocksPerSecond)
	})
	t.row("txs/s", func(r *Run) string { return fmt.Sprintf("%.0f", r.TxsPerSecond) })
	for _, st := range []string{"execute", "state_root", "commit", "seal", "publish"} {
		t.row(st+" p50 / p99 / max ms", func(r *Run) string {
			s := r.Stages[st]
			return fmt.Sprintf("%s / %s / %s", msText(s.P50), msText(s.P99), msText(s.Max))
		})
	}
	t.row("ingest p50 / p99 / max ms", func(r *Run) string {
		return fmt.Sprintf("%s / %s / %s", msText(r.Ingest.P50), msText(r.Ingest.P99), msText(r.Ingest.Max))
	})
	t.row("lag p50 / p99 / max ms (blocks)", func(r *Run) string {
		return fmt.Sprintf("%s / %s / %s (%d)", msText(r.Lag.P50), msText(r.Lag.P99), msText(r.Lag.Max), r.MaxLagBlocks())
	})
}

// proofRows are one row per proof load any run made, in first-seen order.
func (t runTable) proofRows() {
	seen := map[string]bool{}
	var keys []string
	for _, r := range t.runs {
		for _, p := range r.Proofs {
			if k := proofKey(p); !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	for _, k := range keys {
		t.row("eth_getProof "+k+" p50 / p99 / max ms · proofs/s", func(r *Run) string {
			for _, p := range r.Proofs {
				if proofKey(p) == k {
					return fmt.Sprintf("%s / %s / %s · %.0f", msText(p.Latency.P50), msText(p.Latency.P99), msText(p.Latency.Max), p.PerSecond)
				}
			}
			return "—"
		})
	}
}

// followerRows are the follower's figures, — for runs without one.
func (t runTable) followerRows() {
	t.row("follower lag p50 / p99 / max ms (blocks)", func(r *Run) string {
		if r.Follower == nil {
			return "—"
		}
		f := r.Follower
		return fmt.Sprintf("%s / %s / %s (%d / %d / %d)", msText(f.Lag.P50), msText(f.Lag.P99), msText(f.Lag.Max), f.LagBlocks.P50, f.LagBlocks.P99, f.LagBlocks.Max)
	})
	t.row("follower ingest p50 / p99 ms", func(r *Run) string {
		if r.Follower == nil {
			return "—"
		}
		return fmt.Sprintf("%s / %s", msText(r.Follower.Ingest.P50), msText(r.Follower.Ingest.P99))
	})
}

// writeVerdicts writes a run's PASS/FAIL table against the contract.
func writeVerdicts(b *strings.Builder, r *Run) {
	verdict := "PASS"
	if !r.Passed() {
		verdict = "FAIL"
	}
	fmt.Fprintf(b, "\n## %s @ %s against configs/contract.yaml: %s\n\n| check | limit | measured | |\n|---|---|---|---|\n", r.Profile, r.BlockTime, verdict)
	for _, v := range r.Verdicts {
		res := "PASS"
		if !v.Pass {
			res = "**FAIL**"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", v.Check, v.Limit, v.Measured, res)
	}
}

func proofKey(p ProofLoadResult) string {
	if p.Rate > 0 {
		return fmt.Sprintf("at %.0f/s open loop", p.Rate)
	}
	return fmt.Sprintf("%d clients", p.Clients)
}
