package bench

import (
	"slices"
	"time"
)

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
