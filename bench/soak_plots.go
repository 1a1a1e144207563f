package bench

import (
	"fmt"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// soakSeries is one line of a soak plot.
type soakSeries struct {
	name string
	xy   plotter.XYs
}

// writeSoakPlots draws base-lag.png, -proof.png, -rss.png and
// -goroutines.png over the window's seconds, and returns the files written.
// A plot with no points is skipped.
func writeSoakPlots(r *SoakReport, base string) ([]string, error) {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	var folLag, srcLag, lagLimit, p50, p99, vp99, folRSS, srcRSS, folG, srcG plotter.XYs
	for _, s := range r.Samples {
		x := s.At.Seconds()
		if s.Follower.StatusOK {
			folLag = append(folLag, plotter.XY{X: x, Y: s.Follower.LagMs})
			lagLimit = append(lagLimit, plotter.XY{X: x, Y: ms(r.Contract.MaxLag)})
		}
		if s.Source.StatusOK {
			srcLag = append(srcLag, plotter.XY{X: x, Y: s.Source.LagMs})
		}
		if s.Follower.RSS > 0 {
			folRSS = append(folRSS, plotter.XY{X: x, Y: float64(s.Follower.RSS) / (1 << 20)})
		}
		if s.Source.RSS > 0 {
			srcRSS = append(srcRSS, plotter.XY{X: x, Y: float64(s.Source.RSS) / (1 << 20)})
		}
		if s.Follower.Goroutines >= 0 {
			folG = append(folG, plotter.XY{X: x, Y: float64(s.Follower.Goroutines)})
		}
		if s.Source.Goroutines >= 0 {
			srcG = append(srcG, plotter.XY{X: x, Y: float64(s.Source.Goroutines)})
		}
	}
	for _, bk := range r.Buckets {
		x := bk.At.Seconds()
		if bk.Load.Count > 0 {
			p50 = append(p50, plotter.XY{X: x, Y: ms(bk.Load.P50)})
			p99 = append(p99, plotter.XY{X: x, Y: ms(bk.Load.P99)})
		}
		if bk.Victim.Count > 0 {
			vp99 = append(vp99, plotter.XY{X: x, Y: ms(bk.Victim.P99)})
		}
	}
	phases := ""
	for _, ph := range r.Phases {
		phases += fmt.Sprintf(" %.0fs:%d", ph.Start.Seconds(), ph.Clients)
	}
	x := "seconds into the window (phase start:clients" + phases + ")"
	var files []string
	for _, p := range []struct {
		suffix, title, y string
		logY             bool
		series           []soakSeries
	}{
		{"lag", "Lag (each node's own objective; the follower's is judged)", "ms (log)", true,
			[]soakSeries{{"follower", folLag}, {"SLO", lagLimit}, {"source (commit − slot)", srcLag}}},
		{"proof", fmt.Sprintf("eth_getProof latency per %s, from the scheduled time", r.BucketEvery), "ms (log)", true,
			[]soakSeries{{"clients p50", p50}, {"clients p99", p99}, {"victim p99", vp99}}},
		{"rss", "Resident set size (VmRSS)", "MiB", false, []soakSeries{{"follower", folRSS}, {"source", srcRSS}}},
		{"goroutines", "Goroutines (go_goroutines)", "goroutines", false, []soakSeries{{"follower", folG}, {"source", srcG}}},
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
func drawSoakPlot(file, title, x, y string, logY bool, series []soakSeries) (string, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	if logY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	var args []any
	for _, s := range series {
		if len(s.xy) == 0 {
			continue
		}
		xy := s.xy
		if logY {
			xy = make(plotter.XYs, len(s.xy))
			for i, pt := range s.xy {
				xy[i] = plotter.XY{X: pt.X, Y: max(pt.Y, 0.01)}
			}
		}
		args = append(args, s.name, xy)
	}
	if len(args) == 0 {
		return "", nil
	}
	if err := plotutil.AddLines(p, args...); err != nil {
		return "", fmt.Errorf("plot %s: %w", file, err)
	}
	p.Legend.Top = true
	if err := p.Save(10*vg.Inch, 4*vg.Inch, file); err != nil {
		return "", fmt.Errorf("save %s: %w", file, err)
	}
	return file, nil
}
