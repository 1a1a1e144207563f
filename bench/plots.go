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

// plotLine is one named line of a plot.
type plotLine struct {
	name string
	xy   plotter.XYs
}

// WritePlots draws the report's PNG plots next to base (base-<name>.png):
// ingest latency and lag over time, the proof-latency CDF and disk growth,
// one line per run. It returns the files written.
func WritePlots(rep *Report, base string) ([]string, error) {
	if len(rep.Runs) == 0 {
		return nil, nil
	}
	var ingest, lag, cdf, disk []plotLine
	for _, r := range rep.Runs {
		name := fmt.Sprintf("%s @ %s", r.Profile, r.BlockTime)
		in, lg, dk := runLines(r)
		ingest = append(ingest, plotLine{name, in})
		lag = append(lag, plotLine{name, lg})
		disk = append(disk, plotLine{name, dk})
		for _, pr := range r.Proofs {
			if len(pr.Samples) > 0 {
				cdf = append(cdf, plotLine{name + " " + proofKey(pr), latencyCDF(pr.Samples)})
			}
		}
	}
	var files []string
	for _, d := range []struct {
		suffix, title, x, y string
		lines               []plotLine
		logY                bool
	}{
		{"ingest", "Ingest per block", "seconds into the window", "ms (log)", ingest, true},
		{"lag", "Lag: commit time − block slot", "seconds into the window", "ms", lag, false},
		{"proof-cdf", "eth_getProof latency CDF", "ms", "fraction of requests", cdf, false},
		{"disk", "Disk growth", "block", "MiB", disk, false},
	} {
		f, err := drawLines(fmt.Sprintf("%s-%s.png", base, d.suffix), d.title, d.x, d.y, d.lines, d.logY, 8*vg.Inch)
		if err != nil {
			return files, err
		}
		if f != "" {
			files = append(files, f)
		}
	}
	return files, nil
}

// plotMs is a duration in milliseconds.
func plotMs(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// logFloor keeps values positive for log axes.
func logFloor(v float64) float64 { return max(v, 0.001) }

// runLines are a run's ingest (ms, floored for the log axis) and lag (ms)
// over seconds into the window, and its disk (MiB) by head block.
func runLines(r *Run) (ingest, lag, disk plotter.XYs) {
	for _, s := range r.Series {
		ingest = append(ingest, plotter.XY{X: s.At.Seconds(), Y: logFloor(plotMs(s.Ingest))})
		lag = append(lag, plotter.XY{X: s.At.Seconds(), Y: plotMs(s.Lag)})
	}
	for _, d := range r.Disk {
		disk = append(disk, plotter.XY{X: float64(d.Head), Y: float64(d.Bytes) / (1 << 20)})
	}
	return ingest, lag, disk
}

// latencyCDF is the cumulative distribution of samples (ms, at most about
// 500 points, ending at the maximum); samples is not reordered.
func latencyCDF(samples []time.Duration) plotter.XYs {
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	var xy plotter.XYs
	step := max(1, len(sorted)/500)
	for i := 0; i < len(sorted); i += step {
		xy = append(xy, plotter.XY{X: logFloor(plotMs(sorted[i])), Y: float64(i+1) / float64(len(sorted))})
	}
	return append(xy, plotter.XY{X: logFloor(plotMs(sorted[len(sorted)-1])), Y: 1})
}

// drawLines saves the non-empty lines as a plot in file and returns file,
// or "" when every line is empty (nothing is written then).
func drawLines(file, title, x, y string, lines []plotLine, logY bool, width vg.Length) (string, error) {
	var args []any
	for _, l := range lines {
		if len(l.xy) > 0 {
			args = append(args, l.name, l.xy)
		}
	}
	if len(args) == 0 {
		return "", nil
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	if logY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	if err := plotutil.AddLines(p, args...); err != nil {
		return "", fmt.Errorf("plot %s: %w", file, err)
	}
	p.Legend.Top = true
	if err := p.Save(width, 4*vg.Inch, file); err != nil {
		return "", fmt.Errorf("save %s: %w", file, err)
	}
	return file, nil
}
