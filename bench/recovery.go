package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// RecoverySample is the follower's distance to the chain at a moment after
// it came back.
type RecoverySample struct {
	At        time.Duration `json:"at_ns"` // since the restart
	Head      uint64        `json:"head"`
	ChainHead uint64        `json:"chain_head"`
	Mode      string        `json:"mode"`
}

// Recovery is what `strata bench catchup` measured: a follower stopped for
// Outage while the chain went on, then restarted.
type Recovery struct {
	Profile         string        `json:"profile"`
	BlockTime       time.Duration `json:"block_time_ns"`
	GasPerSecond    uint64        `json:"gas_per_second"`
	InitialAccounts int           `json:"initial_accounts"`
	InitialSlots    int           `json:"initial_slots"`
	Outage          time.Duration `json:"outage_ns"`         // chain time the follower missed
	OutageWall      time.Duration `json:"outage_wall_ns"`    // wall time the outage took to produce
	Backlog         uint64        `json:"backlog_blocks"`    // blocks behind at the restart
	ChainLive       bool          `json:"chain_live"`        // the chain kept producing during recovery
	CatchupBlocks   uint64        `json:"catchup_blocks"`    // blocks ingested by catch-up replay
	CatchupTime     time.Duration `json:"catchup_ns"`        // wall time in catch-up mode
	BlocksPerSecond float64       `json:"blocks_per_second"` // catch-up replay rate
	Speed           float64       `json:"speed_x_real_time"` // BlocksPerSecond × block time
	Replay          time.Duration `json:"replay_ns"`         // summed trie replay of the batches (overlaps Commit)
	Commit          time.Duration `json:"commit_ns"`         // summed batch writes (overlap the next batch's replay)
	Wait            time.Duration `json:"wait_ns"`           // summed waits for the source
	// TimeToSLO is from the restart until the lag (blocks and ms) was back
	// inside the contract; TimeToReady until /readyz would answer ready
	// (every SLO ok, after the hold-down).
	TimeToSLO   time.Duration `json:"time_to_slo_ns"`
	TimeToReady time.Duration `json:"time_to_ready_ns"`
	// NotReady says which SLO kept the node unready a minute past the
	// hold-down after the lag was back (empty when it became ready).
	NotReady string           `json:"not_ready,omitempty"`
	MinSpeed float64          `json:"min_speed_x_real_time"` // the contract's
	Samples  []RecoverySample `json:"samples"`
	Machine  Machine          `json:"machine"`
	Command  string           `json:"command"`
	Time     time.Time        `json:"time"`
}

// Passed reports whether catch-up met the contract's speed.
func (r *Recovery) Passed() bool { return r.Speed >= r.MinSpeed }

// Write writes <dir>/recovery-<profile>-<outage>-<time>.json, .md and
// -lag.png and returns the Markdown path.
func (r *Recovery) Write(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	base := filepath.Join(dir, fmt.Sprintf("recovery-%s-%s-%s", r.Profile, shortDuration(r.Outage), r.Time.UTC().Format("20060102T150405Z")))
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(base+".json", raw, 0o644); err != nil {
		return "", err
	}
	png := base + "-lag.png"
	if err := r.plot(png); err != nil {
		return "", err
	}
	md := base + ".md"
	return md, os.WriteFile(md, []byte(r.Markdown(filepath.Base(png))), 0o644)
}

// Markdown is the human report.
func (r *Recovery) Markdown(png string) string {
	var b strings.Builder
	verdict := "PASS"
	if !r.Passed() {
		verdict = "FAIL"
	}
	fmt.Fprintf(&b, "# Catch-up after a %s outage: %s @ %s\n\n", r.Outage, r.Profile, r.BlockTime)
	fmt.Fprintf(&b, "`%s` on %s/%s, %d CPUs, %s, %s\n\n", r.Command, r.Machine.OS, r.Machine.Arch, r.Machine.CPUs, r.Machine.GoVersion, r.Time.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "| figure | value |\n|---|---|\n")
	fmt.Fprintf(&b, "| load | %s, %.0f Mgas/s target, initial state %d accounts / %d slots |\n", r.Profile, float64(r.GasPerSecond)/1e6, r.InitialAccounts, r.InitialSlots)
	fmt.Fprintf(&b, "| backlog at restart | %d blocks (%s of chain; produced in %s of wall time) |\n", r.Backlog, r.Outage, r.OutageWall.Round(time.Second))
	fmt.Fprintf(&b, "| chain during recovery | %s |\n", map[bool]string{true: "kept producing", false: "stopped (pure replay)"}[r.ChainLive])
	fmt.Fprintf(&b, "| catch-up replay | %d blocks in %s: %.1f blocks/s |\n", r.CatchupBlocks, r.CatchupTime.Round(time.Millisecond), r.BlocksPerSecond)
	fmt.Fprintf(&b, "| **speed** | **%.1f× real time** (contract ≥ %.0f×: %s) |\n", r.Speed, r.MinSpeed, verdict)
	fmt.Fprintf(&b, "| where the time went (summed over batches; a batch's commit overlaps the next one's replay) | trie replay %s, batch commits %s, waiting for the source %s |\n", r.Replay.Round(time.Millisecond), r.Commit.Round(time.Millisecond), r.Wait.Round(time.Millisecond))
	fmt.Fprintf(&b, "| time until lag inside the SLO | %s |\n", r.TimeToSLO.Round(time.Millisecond))
	if r.NotReady != "" {
		fmt.Fprintf(&b, "| time until ready (SLO hold-down) | not ready a minute after the hold-down: %s |\n", r.NotReady)
	} else {
		fmt.Fprintf(&b, "| time until ready (SLO hold-down) | %s |\n", r.TimeToReady.Round(time.Millisecond))
	}
	fmt.Fprintf(&b, "\n![lag](%s)\n", png)
	return b.String()
}

func (r *Recovery) plot(file string) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Recovery after a %s outage (%s @ %s)", r.Outage, r.Profile, r.BlockTime)
	p.X.Label.Text = "seconds since restart"
	p.Y.Label.Text = "blocks behind the chain"
	var xy plotter.XYs
	for _, s := range r.Samples {
		behind := 0.0
		if s.ChainHead > s.Head {
			behind = float64(s.ChainHead - s.Head)
		}
		xy = append(xy, plotter.XY{X: s.At.Seconds(), Y: behind})
	}
	if len(xy) == 0 {
		xy = plotter.XYs{{}}
	}
	if err := plotutil.AddLines(p, "behind", xy); err != nil {
		return err
	}
	return p.Save(8*vg.Inch, 4*vg.Inch, file)
}

// shortDuration drops zero trailing units: 10m0s → 10m, 1h0m0s → 1h.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
