package bench

import (
	"fmt"
	"strings"
	"time"
)

// Soak limits, besides the contract's lag SLOs (DESIGN: the issue's "one
// caller cannot raise another's p99 more than twice").
const (
	// SoakP99Factor bounds every phase's eth_getProof p99 by this multiple
	// of the 1-client phase's, and the victim's p99 under load by this
	// multiple of its p99 alone.
	SoakP99Factor = 2.0
	// SoakTrendShare is the "flat" threshold of RSS and goroutines: the
	// trend fitted over the last two thirds of the window may add at most
	// this share of the median per hour...
	SoakTrendShare = 0.10
	// ...or these floors, whichever is larger, so that a small process is
	// not failed for noise: 32 MiB of RSS and 60 goroutines per hour.
	SoakRSSFloorPerHour       = 32 << 20
	SoakGoroutineFloorPerHour = 60
)

// judgeSoak checks a soak against the contract's lag SLOs and the soak
// limits above, one check of soakChecks after another. A check whose
// figure was not measured fails.
func judgeSoak(rep *SoakReport, c *Contract) []Verdict {
	var loaded []SoakPhase
	for _, ph := range rep.Phases {
		if ph.Clients > 0 {
			loaded = append(loaded, ph)
		}
	}
	var out []Verdict
	for _, check := range soakChecks {
		out = append(out, check(rep, c, loaded)...)
	}
	return out
}

// A soakCheck judges one thing of a soak; loaded are the phases with
// clients. It returns its verdicts, none when it does not apply.
type soakCheck func(rep *SoakReport, c *Contract, loaded []SoakPhase) []Verdict

// soakChecks are the soak's checks in the order they are reported.
var soakChecks = []soakCheck{
	judgeSoakLag, judgeSoakP99Steps, judgeSoakContractP99, judgeSoakLeaks,
	judgeSoakFairness, judgeSoakReadiness, judgeSoakServed, judgeSoakAborted,
}

// soakMs is a latency as the verdicts show it.
func soakMs(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

// judgeSoakLag: the follower's own lag objectives, at every sample.
func judgeSoakLag(rep *SoakReport, c *Contract, _ []SoakPhase) []Verdict {
	var answered, missed int
	var maxLagMs float64
	var maxLagBlocks uint64
	for _, s := range rep.Samples {
		if !s.Follower.StatusOK {
			missed++
			continue
		}
		answered++
		maxLagMs = max(maxLagMs, s.Follower.LagMs)
		maxLagBlocks = max(maxLagBlocks, s.Follower.LagBlocks)
	}
	lagLimit := float64(c.MaxLag) / float64(time.Millisecond)
	return []Verdict{{Check: "follower lag inside the contract SLO (every sample)",
		Limit:    fmt.Sprintf("≤ %.0f ms and ≤ %d blocks", lagLimit, c.MaxLagBlocks),
		Measured: fmt.Sprintf("max %.1f ms, %d blocks (%d samples, %d unanswered)", maxLagMs, maxLagBlocks, answered, missed),
		Pass:     answered > 0 && maxLagMs <= lagLimit && maxLagBlocks <= uint64(c.MaxLagBlocks)}}
}

// judgeSoakP99Steps: each phase's proof p99 against the smallest client
// count's.
func judgeSoakP99Steps(_ *SoakReport, _ *Contract, loaded []SoakPhase) []Verdict {
	var parts []string
	pass := len(loaded) > 0
	var base SoakPhase
	for i, ph := range loaded {
		if i == 0 || ph.Clients < base.Clients {
			base = ph
		}
	}
	if base.Load.Count == 0 {
		pass = false
	}
	for _, ph := range loaded {
		ratio := 0.0
		if base.Load.P99 > 0 {
			ratio = float64(ph.Load.P99) / float64(base.Load.P99)
		}
		parts = append(parts, fmt.Sprintf("%d: %s (×%.2f)", ph.Clients, soakMs(ph.Load.P99), ratio))
		if ph.Load.Count == 0 || ratio > SoakP99Factor {
			pass = false
		}
	}
	return []Verdict{{Check: fmt.Sprintf("eth_getProof p99 of each phase ≤ %.0f× the %d-client phase's", SoakP99Factor, base.Clients),
		Limit: fmt.Sprintf("≤ ×%.0f", SoakP99Factor), Measured: orNotMeasured(strings.Join(parts, ", ")), Pass: pass}}
}

// judgeSoakContractP99: the contract's proof p99, at its client count,
// when the contract has one and a phase ran that count.
func judgeSoakContractP99(_ *SoakReport, c *Contract, loaded []SoakPhase) []Verdict {
	if c.ProofP99 <= 0 {
		return nil
	}
	var out []Verdict
	for _, ph := range loaded {
		if ph.Clients == c.ProofClients {
			out = append(out, Verdict{Check: fmt.Sprintf("eth_getProof p99 at %d clients (open loop) ≤ the contract's", ph.Clients),
				Limit: "≤ " + soakMs(c.ProofP99), Measured: soakMs(ph.Load.P99), Pass: ph.Load.Count > 0 && ph.Load.P99 <= c.ProofP99})
		}
	}
	return out
}

// judgeSoakLeaks: the follower's RSS and goroutines flat; it sets each
// trend's Limit.
func judgeSoakLeaks(rep *SoakReport, _ *Contract, _ []SoakPhase) []Verdict {
	mib := func(v float64) string { return fmt.Sprintf("%.1f MiB", v/(1<<20)) }
	count := func(v float64) string { return fmt.Sprintf("%.1f", v) }
	return []Verdict{
		judgeSoakTrend("follower RSS", &rep.RSSTrend, mib, SoakRSSFloorPerHour),
		judgeSoakTrend("follower goroutines", &rep.GoroutineTrend, count, SoakGoroutineFloorPerHour),
	}
}

// judgeSoakTrend sets tr's Limit, the larger of SoakTrendShare of its
// median and floor, and judges its slope against it.
func judgeSoakTrend(name string, tr *Trend, unit func(float64) string, floor float64) Verdict {
	tr.Limit = max(SoakTrendShare*tr.Median, floor)
	return Verdict{Check: fmt.Sprintf("%s flat over the last two thirds (trend within phases)", name),
		Limit:    fmt.Sprintf("≤ %s/h (%.0f%% of the median %s, at least %s)", unit(tr.Limit), 100*SoakTrendShare, unit(tr.Median), unit(floor)),
		Measured: fmt.Sprintf("%s/h over %d samples", unit(tr.PerHour), tr.Points),
		Pass:     tr.Points >= 2 && tr.PerHour <= tr.Limit}
}

// judgeSoakFairness: the victim's p99 in each loaded phase against its p99
// alone.
func judgeSoakFairness(rep *SoakReport, _ *Contract, loaded []SoakPhase) []Verdict {
	var alone *SoakPhase
	for i := range rep.Phases {
		if rep.Phases[i].Clients == 0 {
			alone = &rep.Phases[i]
		}
	}
	measured, pass := "not measured (no victim-alone phase)", false
	if alone != nil && alone.Victim.Count > 0 && len(loaded) > 0 {
		pass = true
		parts := []string{"alone " + soakMs(alone.Victim.P99)}
		for _, ph := range loaded {
			ratio := float64(ph.Victim.P99) / float64(alone.Victim.P99)
			parts = append(parts, fmt.Sprintf("%d clients %s (×%.2f)", ph.Clients, soakMs(ph.Victim.P99), ratio))
			if ph.Victim.Count == 0 || ratio > SoakP99Factor {
				pass = false
			}
		}
		measured = strings.Join(parts, ", ")
	}
	return []Verdict{{Check: fmt.Sprintf("victim's p99 under load ≤ %.0f× its p99 alone", SoakP99Factor),
		Limit: fmt.Sprintf("≤ ×%.0f", SoakP99Factor), Measured: measured, Pass: pass}}
}

// judgeSoakReadiness: the follower's /readyz never 503.
func judgeSoakReadiness(rep *SoakReport, _ *Contract, _ []SoakPhase) []Verdict {
	var ok, bad, none int
	first := ""
	for _, s := range rep.Samples {
		switch s.Follower.Readyz {
		case 200:
			ok++
		case 503:
			bad++
			if first == "" {
				first = fmt.Sprintf("; first at %s: %s", s.At.Round(time.Second), s.Follower.NotReady)
			}
		default:
			none++
		}
	}
	return []Verdict{{Check: "follower /readyz never 503", Limit: "0 samples 503",
		Measured: fmt.Sprintf("%d of %d samples 503, %d unanswered%s", bad, ok+bad+none, none, first), Pass: ok+bad > 0 && bad == 0}}
}

// judgeSoakServed: every proof answered and verified.
func judgeSoakServed(rep *SoakReport, _ *Contract, _ []SoakPhase) []Verdict {
	var n, errs int
	for _, ph := range rep.Phases {
		n += ph.Load.Count + ph.Victim.Count
		errs += ph.LoadErrors + ph.VictimErrors
	}
	measured := fmt.Sprintf("%d answered, %d errors or timeouts, %d verified, %d failed verification", n, errs, rep.Verified, rep.VerifyFailed)
	if rep.FirstVerifyError != "" {
		measured += " (first: " + rep.FirstVerifyError + ")"
	}
	return []Verdict{{Check: "every eth_getProof answered and verified against its block's state root", Limit: "0 errors, 0 failures",
		Measured: measured, Pass: n > 0 && errs == 0 && rep.VerifyFailed == 0}}
}

// judgeSoakAborted fails a window that ended early.
func judgeSoakAborted(rep *SoakReport, _ *Contract, _ []SoakPhase) []Verdict {
	if rep.Aborted == "" {
		return nil
	}
	return []Verdict{{Check: "source and follower ran the whole window", Limit: "both alive", Measured: rep.Aborted, Pass: false}}
}

func orNotMeasured(s string) string {
	if s == "" {
		return "not measured"
	}
	return s
}
