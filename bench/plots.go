package bench

import (
	"fmt"
	"slices"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// WritePlots draws the report's PNG plots next to base (base-<name>.png):
// ingest latency and lag over time, the proof-latency CDF and disk growth,
// one line per run. It returns the files written.
func WritePlots(rep *Report, base string) ([]string, error) {
	if len(rep.Runs) == 0 {
		return nil, nil
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	type series struct {
		name string
		xy   plotter.XYs
	}
	draw := func(suffix, title, x, y string, all []series, logY bool) (string, error) {
		p := plot.New()
		p.Title.Text = title
		p.X.Label.Text = x
		p.Y.Label.Text = y
		if logY {
			p.Y.Scale = plot.LogScale{}
			p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
		}
		var args []any
		for _, s := range all {
			if len(s.xy) == 0 {
				continue
			}
			args = append(args, s.name, s.xy)
		}
		if len(args) == 0 {
			return "", nil
		}
		if err := plotutil.AddLines(p, args...); err != nil {
			return "", err
		}
		p.Legend.Top = true
		file := fmt.Sprintf("%s-%s.png", base, suffix)
		if err := p.Save(8*vg.Inch, 4*vg.Inch, file); err != nil {
			return "", fmt.Errorf("save %s: %w", file, err)
		}
		return file, nil
	}
	floor := func(v float64) float64 { return max(v, 0.001) } // log axes need positive values
	var ingest, lag, cdf, disk []series
	for _, r := range rep.Runs {
		name := fmt.Sprintf("%s @ %s", r.Profile, r.BlockTime)
		var in, lg plotter.XYs
		for _, s := range r.Series {
			in = append(in, plotter.XY{X: s.At.Seconds(), Y: floor(ms(s.Ingest))})
			lg = append(lg, plotter.XY{X: s.At.Seconds(), Y: ms(s.Lag)})
		}
		ingest = append(ingest, series{name, in})
		lag = append(lag, series{name, lg})
		for _, pr := range r.Proofs {
			if len(pr.Samples) == 0 {
				continue
			}
			sorted := slices.Clone(pr.Samples)
			slices.Sort(sorted)
			var xy plotter.XYs
			step := max(1, len(sorted)/500)
			for i := 0; i < len(sorted); i += step {
				xy = append(xy, plotter.XY{X: floor(ms(sorted[i])), Y: float64(i+1) / float64(len(sorted))})
			}
			xy = append(xy, plotter.XY{X: floor(ms(sorted[len(sorted)-1])), Y: 1})
			cdf = append(cdf, series{name + " " + proofKey(pr), xy})
		}
		var dk plotter.XYs
		for _, d := range r.Disk {
			dk = append(dk, plotter.XY{X: float64(d.Head), Y: float64(d.Bytes) / (1 << 20)})
		}
		disk = append(disk, series{name, dk})
	}
	var files []string
	for _, d := range []struct {
		suffix, title, x, y string
		s                   []series
		logY                bool
	}{
		{"ingest", "Ingest per block", "seconds into the window", "ms (log)", ingest, true},
		{"lag", "Lag: commit time − block slot", "seconds into the window", "ms", lag, false},
		{"proof-cdf", "eth_getProof latency CDF", "ms", "fraction of requests", cdf, false},
		{"disk", "Disk growth", "block", "MiB", disk, false},
	} {
		f, err := draw(d.suffix, d.title, d.x, d.y, d.s, d.logY)
		if err != nil {
			return files, err
		}
		if f != "" {
			files = append(files, f)
		}
	}
	return files, nil
}
