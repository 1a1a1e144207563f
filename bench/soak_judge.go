package bench

import (
	"fmt"
	"slices"
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

// SoakPhase is one step of the soak: the victim alone (Clients 0) or a
// number of open-loop clients beside it.
type SoakPhase struct {
	Clients int           `json:"clients"`
	Start   time.Duration `json:"start_ns"`
	End     time.Duration `json:"end_ns"`
	// Offered is the clients' scheduled requests per second (clients × rate).
	Offered      float64 `json:"offered_per_second"`
	Load         Summary `json:"load"` // the clients' requests scheduled in the phase
	LoadErrors   int     `json:"load_errors"`
	Victim       Summary `json:"victim"`
	VictimErrors int     `json:"victim_errors"`
}

// SoakBucket is the latency of the requests scheduled in one bucket of
// time (10 s by default), for the proof-latency plot.
type SoakBucket struct {
	At     time.Duration `json:"at_ns"` // the bucket's start
	Load   Summary       `json:"load"`
	Victim Summary       `json:"victim"`
}

// Trend is a straight line fitted to one figure of the samples from From
// on. The phases change the load in steps, so the fit is taken within
// phases (each phase has its own level, all share one slope): a step up
// when clients are added is not a leak, a climb inside phases is.
type Trend struct {
	From    time.Duration `json:"from_ns"`
	Points  int           `json:"points"`
	PerHour float64       `json:"per_hour"` // the shared slope, in the figure's unit per hour
	Median  float64       `json:"median"`
	Limit   float64       `json:"limit_per_hour"`
}

// summarizePhases fills each phase's latency figures from the requests
// scheduled inside it; the few scheduled after the last phase's end, while
// the clients were being stopped, count in the last phase.
func summarizePhases(phases []SoakPhase, reqs []soakRequest) {
	for i := range phases {
		ph := &phases[i]
		var load, victim []time.Duration
		for _, r := range reqs {
			if phaseAt(phases, r.At) != i {
				continue
			}
			switch {
			case r.Client == victimClient && r.Err:
				ph.VictimErrors++
			case r.Client == victimClient:
				victim = append(victim, r.Latency)
			case r.Err:
				ph.LoadErrors++
			default:
				load = append(load, r.Latency)
			}
		}
		ph.Load, ph.Victim = Summarize(load), Summarize(victim)
	}
}

// bucketize summarizes the answered requests per bucket of width every
// over [0, end).
func bucketize(reqs []soakRequest, every, end time.Duration) []SoakBucket {
	if every <= 0 || end <= 0 {
		return nil
	}
	n := int((end + every - 1) / every)
	load := make([][]time.Duration, n)
	victim := make([][]time.Duration, n)
	for _, r := range reqs {
		i := int(r.At / every)
		if r.Err || r.At < 0 || i >= n {
			continue
		}
		if r.Client == victimClient {
			victim[i] = append(victim[i], r.Latency)
		} else {
			load[i] = append(load[i], r.Latency)
		}
	}
	out := make([]SoakBucket, n)
	for i := range out {
		out[i] = SoakBucket{At: time.Duration(i) * every, Load: Summarize(load[i]), Victim: Summarize(victim[i])}
	}
	return out
}

// fitTrend fits value over the samples at or after from, within phases
// (see Trend); ok is false for samples that did not read the figure.
// PerHour is zero with fewer than two points in any phase.
func fitTrend(samples []SoakSample, from time.Duration, value func(SoakSample) (float64, bool)) Trend {
	type pt struct{ t, y float64 }
	groups := map[int][]pt{}
	var all []float64
	for _, s := range samples {
		if s.At < from {
			continue
		}
		y, ok := value(s)
		if !ok {
			continue
		}
		groups[s.Phase] = append(groups[s.Phase], pt{s.At.Hours(), y})
		all = append(all, y)
	}
	tr := Trend{From: from, Points: len(all)}
	if len(all) > 0 {
		slices.Sort(all)
		tr.Median = all[len(all)/2]
	}
	var sxy, sxx float64
	for _, g := range groups {
		if len(g) < 2 {
			continue
		}
		var mt, my float64
		for _, p := range g {
			mt += p.t
			my += p.y
		}
		mt /= float64(len(g))
		my /= float64(len(g))
		for _, p := range g {
			sxy += (p.t - mt) * (p.y - my)
			sxx += (p.t - mt) * (p.t - mt)
		}
	}
	if sxx > 0 {
		tr.PerHour = sxy / sxx
	}
	return tr
}

// judgeSoak checks a soak against the contract's lag SLOs and the soak
// limits above. A check whose figure was not measured fails.
func judgeSoak(rep *SoakReport, c *Contract) []Verdict {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
	var out []Verdict
	add := func(check, limit, measured string, pass bool) {
		out = append(out, Verdict{Check: check, Limit: limit, Measured: measured, Pass: pass})
	}

	// Lag: the follower's own objectives, at every sample.
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
	add("follower lag inside the contract SLO (every sample)",
		fmt.Sprintf("≤ %.0f ms and ≤ %d blocks", lagLimit, c.MaxLagBlocks),
		fmt.Sprintf("max %.1f ms, %d blocks (%d samples, %d unanswered)", maxLagMs, maxLagBlocks, answered, missed),
		answered > 0 && maxLagMs <= lagLimit && maxLagBlocks <= uint64(c.MaxLagBlocks))

	// Proof p99 per phase against the smallest client count's.
	var loaded []SoakPhase
	for _, ph := range rep.Phases {
		if ph.Clients > 0 {
			loaded = append(loaded, ph)
		}
	}
	{
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
			parts = append(parts, fmt.Sprintf("%d: %s (×%.2f)", ph.Clients, ms(ph.Load.P99), ratio))
			if ph.Load.Count == 0 || ratio > SoakP99Factor {
				pass = false
			}
		}
		add(fmt.Sprintf("eth_getProof p99 of each phase ≤ %.0f× the %d-client phase's", SoakP99Factor, base.Clients),
			fmt.Sprintf("≤ ×%.0f", SoakP99Factor), orNotMeasured(strings.Join(parts, ", ")), pass)
	}
	if c.ProofP99 > 0 {
		for _, ph := range loaded {
			if ph.Clients == c.ProofClients {
				add(fmt.Sprintf("eth_getProof p99 at %d clients (open loop) ≤ the contract's", ph.Clients), "≤ "+ms(c.ProofP99),
					ms(ph.Load.P99), ph.Load.Count > 0 && ph.Load.P99 <= c.ProofP99)
			}
		}
	}

	// Leaks.
	mib := func(v float64) string { return fmt.Sprintf("%.1f MiB", v/(1<<20)) }
	for _, t := range []struct {
		name  string
		tr    *Trend
		unit  func(float64) string
		floor float64
	}{
		{"follower RSS", &rep.RSSTrend, mib, SoakRSSFloorPerHour},
		{"follower goroutines", &rep.GoroutineTrend, func(v float64) string { return fmt.Sprintf("%.1f", v) }, SoakGoroutineFloorPerHour},
	} {
		t.tr.Limit = max(SoakTrendShare*t.tr.Median, t.floor)
		add(fmt.Sprintf("%s flat over the last two thirds (trend within phases)", t.name),
			fmt.Sprintf("≤ %s/h (%.0f%% of the median %s, at least %s)", t.unit(t.tr.Limit), 100*SoakTrendShare, t.unit(t.tr.Median), t.unit(t.floor)),
			fmt.Sprintf("%s/h over %d samples", t.unit(t.tr.PerHour), t.tr.Points),
			t.tr.Points >= 2 && t.tr.PerHour <= t.tr.Limit)
	}

	// Fairness: the victim's p99 in each loaded phase against alone.
	{
		var alone *SoakPhase
		for i := range rep.Phases {
			if rep.Phases[i].Clients == 0 {
				alone = &rep.Phases[i]
			}
		}
		measured, pass := "not measured (no victim-alone phase)", false
		if alone != nil && alone.Victim.Count > 0 && len(loaded) > 0 {
			pass = true
			parts := []string{"alone " + ms(alone.Victim.P99)}
			for _, ph := range loaded {
				ratio := float64(ph.Victim.P99) / float64(alone.Victim.P99)
				parts = append(parts, fmt.Sprintf("%d clients %s (×%.2f)", ph.Clients, ms(ph.Victim.P99), ratio))
				if ph.Victim.Count == 0 || ratio > SoakP99Factor {
					pass = false
				}
			}
			measured = strings.Join(parts, ", ")
		}
		add(fmt.Sprintf("victim's p99 under load ≤ %.0f× its p99 alone", SoakP99Factor), fmt.Sprintf("≤ ×%.0f", SoakP99Factor), measured, pass)
	}

	// Readiness.
	{
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
		add("follower /readyz never 503", "0 samples 503",
			fmt.Sprintf("%d of %d samples 503, %d unanswered%s", bad, ok+bad+none, none, first), ok+bad > 0 && bad == 0)
	}

	// Correctness of what was served.
	{
		var n, errs int
		for _, ph := range rep.Phases {
			n += ph.Load.Count + ph.Victim.Count
			errs += ph.LoadErrors + ph.VictimErrors
		}
		measured := fmt.Sprintf("%d answered, %d errors or timeouts, %d verified, %d failed verification", n, errs, rep.Verified, rep.VerifyFailed)
		if rep.FirstVerifyError != "" {
			measured += " (first: " + rep.FirstVerifyError + ")"
		}
		add("every eth_getProof answered and verified against its block's state root", "0 errors, 0 failures", measured,
			n > 0 && errs == 0 && rep.VerifyFailed == 0)
	}
	if rep.Aborted != "" {
		add("source and follower ran the whole window", "both alive", rep.Aborted, false)
	}
	return out
}

func orNotMeasured(s string) string {
	if s == "" {
		return "not measured"
	}
	return s
}
