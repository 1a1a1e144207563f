package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// SoakReport is what a soak measured and how it was judged.
type SoakReport struct {
	Date        time.Time     `json:"date"`
	Version     string        `json:"version"`
	Command     string        `json:"command"`
	Machine     Machine       `json:"machine"`
	Profile     string        `json:"profile"`
	BlockTime   time.Duration `json:"block_time_ns"`
	Clients     []int         `json:"clients"`
	Rate        float64       `json:"rate_per_client"`
	VictimRate  float64       `json:"victim_rate"`
	InFlight    int           `json:"in_flight_per_client"`
	SampleEvery time.Duration `json:"sample_every_ns"`
	BucketEvery time.Duration `json:"bucket_every_ns"`
	// Note is free text the caller adds (what else ran on the machine).
	Note string `json:"note,omitempty"`
	// Setup is the time from starting the source until the window began;
	// ReadyAtStart whether the follower's /readyz said ready by then.
	Setup        time.Duration `json:"setup_ns"`
	ReadyAtStart bool          `json:"ready_at_start"`
	Window       time.Duration `json:"window_ns"`
	// Aborted says why the window ended early, if it did.
	Aborted          string       `json:"aborted,omitempty"`
	Phases           []SoakPhase  `json:"phases"`
	Buckets          []SoakBucket `json:"buckets"`
	Samples          []SoakSample `json:"samples"`
	Verified         int64        `json:"verified"`
	VerifyFailed     int64        `json:"verify_failed"`
	FirstVerifyError string       `json:"first_verify_error,omitempty"`
	RSSTrend         Trend        `json:"rss_trend"`       // follower RSS, bytes
	GoroutineTrend   Trend        `json:"goroutine_trend"` // follower goroutines
	// SourceRSSTrend is the same fit for the source, which serves no
	// proofs: a control for what cache filling alone adds (not judged).
	SourceRSSTrend Trend     `json:"source_rss_trend"`
	Contract       Contract  `json:"contract"`
	Verdicts       []Verdict `json:"verdicts"`
}

// Passed reports whether every verdict passed.
func (r *SoakReport) Passed() bool {
	for _, v := range r.Verdicts {
		if !v.Pass {
			return false
		}
	}
	return len(r.Verdicts) > 0
}

// Write writes <dir>/soak-<profile>-<time>.json, .md and the PNG plots,
// and returns the Markdown report's path.
func (r *SoakReport) Write(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	base := filepath.Join(dir, fmt.Sprintf("soak-%s-%s", r.Profile, r.Date.UTC().Format("20060102T150405Z")))
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(base+".json", append(js, '\n'), 0o644); err != nil {
		return "", err
	}
	plots, err := writeSoakPlots(r, base)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(base+".md", []byte(r.Markdown(plots)), 0o644); err != nil {
		return "", err
	}
	return base + ".md", nil
}

// VerdictLines are the PASS/FAIL lines printed at the end of a soak.
func (r *SoakReport) VerdictLines() string {
	var b strings.Builder
	for _, v := range r.Verdicts {
		res := "PASS"
		if !v.Pass {
			res = "FAIL"
		}
		fmt.Fprintf(&b, "%s  %s: %s (limit %s)\n", res, v.Check, v.Measured, v.Limit)
	}
	return b.String()
}

// Markdown renders the report: the setup, the phases, the samples'
// extremes, the verdicts and the plots.
func (r *SoakReport) Markdown(plots []string) string {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }
	mib := func(b uint64) string { return fmt.Sprintf("%.0f", float64(b)/(1<<20)) }
	var b strings.Builder
	verdict := "PASS"
	if !r.Passed() {
		verdict = "FAIL"
	}
	fmt.Fprintf(&b, "# strata bench soak: %s @ %s: %s\n\n", r.Profile, r.BlockTime, verdict)
	fmt.Fprintf(&b, "%s · strata %s · %s/%s, %d CPUs, %s · `%s`\n\n", r.Date.UTC().Format(time.RFC3339), r.Version,
		r.Machine.OS, r.Machine.Arch, r.Machine.CPUs, r.Machine.GoVersion, r.Command)
	if r.Note != "" {
		fmt.Fprintf(&b, "%s\n\n", r.Note)
	}
	fmt.Fprintf(&b, "A source strata makes the chain at the profile; a second strata follows its block stream and serves "+
		"eth_getProof to open-loop clients (each at %.4g requests/s, at most %d in flight; latency runs from the scheduled time) "+
		"while a victim client asks %.4g/s throughout. Every answer is verified against its block's state root. "+
		"Setup (both nodes, warmup) took %s; the follower was %s when the %s window began.\n\n",
		r.Rate, r.InFlight, r.VictimRate, r.Setup.Round(time.Second), map[bool]string{true: "ready", false: "**not ready**"}[r.ReadyAtStart],
		r.Window.Round(time.Second))
	if r.Aborted != "" {
		fmt.Fprintf(&b, "**The window ended early:** %s\n\n", r.Aborted)
	}
	b.WriteString("| phase | window | offered/s | proofs | p50 / p99 / max ms | errors | victim p50 / p99 / max ms |\n|---|---|---|---|---|---|---|\n")
	for _, ph := range r.Phases {
		name := fmt.Sprintf("%d clients", ph.Clients)
		if ph.Clients == 0 {
			name = "victim alone"
		}
		fmt.Fprintf(&b, "| %s | %s–%s | %.0f | %d | %s / %s / %s | %d | %s / %s / %s |\n", name,
			ph.Start.Round(time.Second), ph.End.Round(time.Second), ph.Offered, ph.Load.Count,
			ms(ph.Load.P50), ms(ph.Load.P99), ms(ph.Load.Max), ph.LoadErrors+ph.VictimErrors,
			ms(ph.Victim.P50), ms(ph.Victim.P99), ms(ph.Victim.Max))
	}
	// Per phase: lag, RSS and goroutines of both processes.
	b.WriteString("\n| phase | follower lag max ms (blocks) | follower RSS first → last MiB | follower goroutines min–max | source lag max ms | source RSS last MiB | /readyz 503 samples |\n|---|---|---|---|---|---|---|\n")
	for i, ph := range r.Phases {
		var lag, srcLag float64
		var lagB uint64
		var first, last, srcLast uint64
		gmin, gmax, bad := -1, -1, 0
		for _, s := range r.Samples {
			if s.Phase != i {
				continue
			}
			f := s.Follower
			if f.StatusOK {
				lag, lagB = max(lag, f.LagMs), max(lagB, f.LagBlocks)
			}
			if s.Source.StatusOK {
				srcLag = max(srcLag, s.Source.LagMs)
			}
			if f.RSS > 0 {
				if first == 0 {
					first = f.RSS
				}
				last = f.RSS
			}
			if s.Source.RSS > 0 {
				srcLast = s.Source.RSS
			}
			if f.Goroutines >= 0 {
				if gmin < 0 || f.Goroutines < gmin {
					gmin = f.Goroutines
				}
				gmax = max(gmax, f.Goroutines)
			}
			if f.Readyz == 503 {
				bad++
			}
		}
		name := fmt.Sprintf("%d clients", ph.Clients)
		if ph.Clients == 0 {
			name = "victim alone"
		}
		fmt.Fprintf(&b, "| %s | %.0f (%d) | %s → %s | %d–%d | %.0f | %s | %d |\n", name, lag, lagB, mib(first), mib(last), gmin, gmax, srcLag, mib(srcLast), bad)
	}
	fmt.Fprintf(&b, "\nTrends over the last two thirds (from %s), fitted within phases: follower RSS %.1f MiB/h (median %.0f MiB), "+
		"goroutines %.1f/h (median %.0f); the source, which serves no proofs, %.1f MiB/h (median %.0f MiB) as a control for cache filling. "+
		"Samples every %s; lag peaks between samples are not seen.\n",
		r.RSSTrend.From.Round(time.Second), r.RSSTrend.PerHour/(1<<20), r.RSSTrend.Median/(1<<20),
		r.GoroutineTrend.PerHour, r.GoroutineTrend.Median, r.SourceRSSTrend.PerHour/(1<<20), r.SourceRSSTrend.Median/(1<<20), r.SampleEvery)
	fmt.Fprintf(&b, "\n## Checks: %s\n\n| check | limit | measured | |\n|---|---|---|---|\n", verdict)
	for _, v := range r.Verdicts {
		res := "PASS"
		if !v.Pass {
			res = "**FAIL**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", v.Check, v.Limit, strings.ReplaceAll(v.Measured, "|", "/"), res)
	}
	if len(plots) > 0 {
		b.WriteString("\n## Plots\n\n")
		for _, p := range plots {
			fmt.Fprintf(&b, "![%s](%s)\n", filepath.Base(p), filepath.Base(p))
		}
	}
	return b.String()
}
