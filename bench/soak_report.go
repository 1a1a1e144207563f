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
	var b strings.Builder
	verdict := "PASS"
	if !r.Passed() {
		verdict = "FAIL"
	}
	r.mdHeader(&b, verdict)
	r.mdPhases(&b)
	r.mdSamples(&b)
	r.mdTrends(&b)
	r.mdChecks(&b, verdict)
	soakMdPlots(&b, plots)
	return b.String()
}

// soakMdMs is a latency in the report's tables, in milliseconds.
func soakMdMs(d time.Duration) string {
	return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond))
}

// soakMdMiB is a size in the report's tables, in MiB.
func soakMdMiB(b uint64) string { return fmt.Sprintf("%.0f", float64(b)/(1<<20)) }

// soakPhaseName names a phase in the report's tables.
func soakPhaseName(ph SoakPhase) string {
	if ph.Clients == 0 {
		return "victim alone"
	}
	return fmt.Sprintf("%d clients", ph.Clients)
}

// mdHeader writes the title, the run's provenance, the note, what was run
// and whether the window ended early.
func (r *SoakReport) mdHeader(b *strings.Builder, verdict string) {
	fmt.Fprintf(b, "# strata bench soak: %s @ %s: %s\n\n", r.Profile, r.BlockTime, verdict)
	fmt.Fprintf(b, "%s · strata %s · %s/%s, %d CPUs, %s · `%s`\n\n", r.Date.UTC().Format(time.RFC3339), r.Version,
		r.Machine.OS, r.Machine.Arch, r.Machine.CPUs, r.Machine.GoVersion, r.Command)
	if r.Note != "" {
		fmt.Fprintf(b, "%s\n\n", r.Note)
	}
	fmt.Fprintf(b, "A source strata makes the chain at the profile; a second strata follows its block stream and serves "+
		"eth_getProof to open-loop clients (each at %.4g requests/s, at most %d in flight; latency runs from the scheduled time) "+
		"while a victim client asks %.4g/s throughout. Every answer is verified against its block's state root. "+
		"Setup (both nodes, warmup) took %s; the follower was %s when the %s window began.\n\n",
		r.Rate, r.InFlight, r.VictimRate, r.Setup.Round(time.Second), map[bool]string{true: "ready", false: "**not ready**"}[r.ReadyAtStart],
		r.Window.Round(time.Second))
	if r.Aborted != "" {
		fmt.Fprintf(b, "**The window ended early:** %s\n\n", r.Aborted)
	}
}

// mdPhases writes the table of the phases' proof latencies.
func (r *SoakReport) mdPhases(b *strings.Builder) {
	b.WriteString("| phase | window | offered/s | proofs | p50 / p99 / max ms | errors | victim p50 / p99 / max ms |\n|---|---|---|---|---|---|---|\n")
	for _, ph := range r.Phases {
		fmt.Fprintf(b, "| %s | %s–%s | %.0f | %d | %s / %s / %s | %d | %s / %s / %s |\n", soakPhaseName(ph),
			ph.Start.Round(time.Second), ph.End.Round(time.Second), ph.Offered, ph.Load.Count,
			soakMdMs(ph.Load.P50), soakMdMs(ph.Load.P99), soakMdMs(ph.Load.Max), ph.LoadErrors+ph.VictimErrors,
			soakMdMs(ph.Victim.P50), soakMdMs(ph.Victim.P99), soakMdMs(ph.Victim.Max))
	}
}

// soakPhaseSamples are the extremes of one phase's samples.
type soakPhaseSamples struct {
	lag, srcLag          float64
	lagB                 uint64
	first, last, srcLast uint64 // RSS
	gmin, gmax, notReady int
}

// phaseSamples gathers the extremes of phase i's samples.
func (r *SoakReport) phaseSamples(i int) soakPhaseSamples {
	x := soakPhaseSamples{gmin: -1, gmax: -1}
	for _, s := range r.Samples {
		if s.Phase != i {
			continue
		}
		f := s.Follower
		if f.StatusOK {
			x.lag, x.lagB = max(x.lag, f.LagMs), max(x.lagB, f.LagBlocks)
		}
		if s.Source.StatusOK {
			x.srcLag = max(x.srcLag, s.Source.LagMs)
		}
		if f.RSS > 0 {
			if x.first == 0 {
				x.first = f.RSS
			}
			x.last = f.RSS
		}
		if s.Source.RSS > 0 {
			x.srcLast = s.Source.RSS
		}
		if f.Goroutines >= 0 {
			if x.gmin < 0 || f.Goroutines < x.gmin {
				x.gmin = f.Goroutines
			}
			x.gmax = max(x.gmax, f.Goroutines)
		}
		if f.Readyz == 503 {
			x.notReady++
		}
	}
	return x
}

// mdSamples writes the table of lag, RSS and goroutines of both processes
// per phase.
func (r *SoakReport) mdSamples(b *strings.Builder) {
	b.WriteString("\n| phase | follower lag max ms (blocks) | follower RSS first → last MiB | follower goroutines min–max | source lag max ms | source RSS last MiB | /readyz 503 samples |\n|---|---|---|---|---|---|---|\n")
	for i, ph := range r.Phases {
		x := r.phaseSamples(i)
		fmt.Fprintf(b, "| %s | %.0f (%d) | %s → %s | %d–%d | %.0f | %s | %d |\n", soakPhaseName(ph), x.lag, x.lagB,
			soakMdMiB(x.first), soakMdMiB(x.last), x.gmin, x.gmax, x.srcLag, soakMdMiB(x.srcLast), x.notReady)
	}
}

// mdTrends writes the fitted trends.
func (r *SoakReport) mdTrends(b *strings.Builder) {
	fmt.Fprintf(b, "\nTrends over the last two thirds (from %s), fitted within phases: follower RSS %.1f MiB/h (median %.0f MiB), "+
		"goroutines %.1f/h (median %.0f); the source, which serves no proofs, %.1f MiB/h (median %.0f MiB) as a control for cache filling. "+
		"Samples every %s; lag peaks between samples are not seen.\n",
		r.RSSTrend.From.Round(time.Second), r.RSSTrend.PerHour/(1<<20), r.RSSTrend.Median/(1<<20),
		r.GoroutineTrend.PerHour, r.GoroutineTrend.Median, r.SourceRSSTrend.PerHour/(1<<20), r.SourceRSSTrend.Median/(1<<20), r.SampleEvery)
}

// mdChecks writes the verdicts' table.
func (r *SoakReport) mdChecks(b *strings.Builder, verdict string) {
	fmt.Fprintf(b, "\n## Checks: %s\n\n| check | limit | measured | |\n|---|---|---|---|\n", verdict)
	for _, v := range r.Verdicts {
		res := "PASS"
		if !v.Pass {
			res = "**FAIL**"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", v.Check, v.Limit, strings.ReplaceAll(v.Measured, "|", "/"), res)
	}
}

// soakMdPlots links the plots, if any.
func soakMdPlots(b *strings.Builder, plots []string) {
	if len(plots) == 0 {
		return
	}
	b.WriteString("\n## Plots\n\n")
	for _, p := range plots {
		fmt.Fprintf(b, "![%s](%s)\n", filepath.Base(p), filepath.Base(p))
	}
}
