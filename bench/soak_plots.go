package bench

import (
	"fmt"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// soakSampleLines are the samples' series over seconds into the window:
// lag (ms) with the follower's SLO, RSS (MiB) and goroutines of both nodes.
type soakSampleLines struct {
	folLag, srcLag, lagLimit, folRSS, srcRSS, folG, srcG plotter.XYs
}

// soakSampleSeries gathers r's samples into their series.
func soakSampleSeries(r *SoakReport) soakSampleLines {
	var l soakSampleLines
	for _, s := range r.Samples {
		x := s.At.Seconds()
		if s.Follower.StatusOK {
			l.folLag = append(l.folLag, plotter.XY{X: x, Y: s.Follower.LagMs})
			l.lagLimit = append(l.lagLimit, plotter.XY{X: x, Y: plotMs(r.Contract.MaxLag)})
		}
		if s.Source.StatusOK {
			l.srcLag = append(l.srcLag, plotter.XY{X: x, Y: s.Source.LagMs})
		}
		if s.Follower.RSS > 0 {
			l.folRSS = append(l.folRSS, plotter.XY{X: x, Y: float64(s.Follower.RSS) / (1 << 20)})
		}
		if s.Source.RSS > 0 {
			l.srcRSS = append(l.srcRSS, plotter.XY{X: x, Y: float64(s.Source.RSS) / (1 << 20)})
		}
		if s.Follower.Goroutines >= 0 {
			l.folG = append(l.folG, plotter.XY{X: x, Y: float64(s.Follower.Goroutines)})
		}
		if s.Source.Goroutines >= 0 {
			l.srcG = append(l.srcG, plotter.XY{X: x, Y: float64(s.Source.Goroutines)})
		}
	}
	return l
}

// soakBucketSeries are the buckets' proof latencies (ms) over seconds into
// the window: the clients' p50 and p99 and the victim's p99.
func soakBucketSeries(r *SoakReport) (p50, p99, vp99 plotter.XYs) {
	for _, bk := range r.Buckets {
		x := bk.At.Seconds()
		if bk.Load.Count > 0 {
			p50 = append(p50, plotter.XY{X: x, Y: plotMs(bk.Load.P50)})
			p99 = append(p99, plotter.XY{X: x, Y: plotMs(bk.Load.P99)})
		}
		if bk.Victim.Count > 0 {
			vp99 = append(vp99, plotter.XY{X: x, Y: plotMs(bk.Victim.P99)})
		}
	}
	return p50, p99, vp99
}

// soakXLabel is the plots' X axis label, naming each phase's start and
// clients.
func soakXLabel(r *SoakReport) string {
	phases := ""
	for _, ph := range r.Phases {
		phases += fmt.Sprintf(" %.0fs:%d", ph.Start.Seconds(), ph.Clients)
	}
	return "seconds into the window (phase start:clients" + phases + ")"
}

// writeSoakPlots draws base-lag.png, -proof.png, -rss.png and
// -goroutines.png over the window's seconds, and returns the files written.
// A plot with no points is skipped.
func writeSoakPlots(r *SoakReport, base string) ([]string, error) {
	l := soakSampleSeries(r)
	p50, p99, vp99 := soakBucketSeries(r)
	x := soakXLabel(r)
	var files []string
	for _, p := range []struct {
		suffix, title, y string
		logY             bool
		series           []plotLine
	}{
		{"lag", "Lag (each node's own objective; the follower's is judged)", "ms (log)", true,
			[]plotLine{{"follower", l.folLag}, {"SLO", l.lagLimit}, {"source (commit − slot)", l.srcLag}}},
		{"proof", fmt.Sprintf("eth_getProof latency per %s, from the scheduled time", r.BucketEvery), "ms (log)", true,
			[]plotLine{{"clients p50", p50}, {"clients p99", p99}, {"victim p99", vp99}}},
		{"rss", "Resident set size (VmRSS)", "MiB", false, []plotLine{{"follower", l.folRSS}, {"source", l.srcRSS}}},
		{"goroutines", "Goroutines (go_goroutines)", "goroutines", false, []plotLine{{"follower", l.folG}, {"source", l.srcG}}},
	} {
		f, err := drawSoakPlot(fmt.Sprintf("%s-%s.png", base, p.suffix), p.title, x, p.y, p.logY, p.series)
		if err != nil {
			return files, err
		}
		if f != "" {
			files = append(files, f)
		}
	}
	return files, nil
}

// drawSoakPlot draws the series as lines into file; on a log Y axis
// values are floored at 0.01 (a lag of zero when level).
func drawSoakPlot(file, title, x, y string, logY bool, series []plotLine) (string, error) {
	lines := series
	if logY { // a log axis cannot show zero: clamp to a hundredth
		lines = make([]plotLine, len(series))
		for i, s := range series {
			xy := make(plotter.XYs, len(s.xy))
			for k, pt := range s.xy {
				xy[k] = plotter.XY{X: pt.X, Y: max(pt.Y, 0.01)}
			}
			lines[i] = plotLine{name: s.name, xy: xy}
		}
	}
	return drawLines(file, title, x, y, lines, logY, 10*vg.Inch)
}
