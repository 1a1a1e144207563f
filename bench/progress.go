package bench

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"golang.org/x/term"
)

// Progress shows long work of a known duration: a bar with ETA on a
// terminal, a JSON log line at most every five seconds otherwise.
type Progress struct {
	w       io.Writer
	tty     bool
	label   string
	total   time.Duration
	lastLog time.Time
	log     *slog.Logger
}

// NewProgress shows progress through total on w.
func NewProgress(w io.Writer, label string, total time.Duration) *Progress {
	return &Progress{w: w, tty: isTerminal(w), label: label, total: total, log: slog.New(slog.NewJSONHandler(w, nil))}
}

// Update shows that elapsed of the total has passed.
func (p *Progress) Update(elapsed time.Duration, detail string) {
	frac := min(1, float64(elapsed)/float64(p.total))
	eta := (p.total - elapsed).Round(time.Second)
	if p.tty {
		const width = 30
		done := int(frac * width)
		fmt.Fprintf(p.w, "\r%s [%s%s] %3.0f%% %s ETA %s   ", p.label, strings.Repeat("=", done), strings.Repeat(" ", width-done),
			frac*100, detail, max(eta, 0))
		return
	}
	if time.Since(p.lastLog) >= 5*time.Second {
		p.lastLog = time.Now()
		p.log.Info("Progress", "task", p.label, "percent", int(frac*100), "detail", detail, "eta", max(eta, 0).String())
	}
}

// Done ends the bar's line on a terminal.
func (p *Progress) Done() {
	if p.tty {
		fmt.Fprintln(p.w)
	}
}

// CountProgress shows progress through a known number of items: a bar with
// rate and ETA on a terminal, a JSON log line every few seconds otherwise,
// and always one for the last item.
type CountProgress struct {
	w       io.Writer
	tty     bool
	label   string
	total   uint64
	every   time.Duration
	ended   bool // the line for the last item was written
	lastLog time.Time
	log     *slog.Logger
}

// NewCountProgress shows progress through total items on w; off a
// terminal it logs at most once per every (0: on every update).
func NewCountProgress(w io.Writer, label string, total uint64, every time.Duration) *CountProgress {
	return &CountProgress{w: w, tty: isTerminal(w), label: label, total: total, every: every, log: slog.New(slog.NewJSONHandler(w, nil))}
}

// Update shows that done items are done, at rate items a second.
func (p *CountProgress) Update(done uint64, rate float64, detail string) {
	frac := min(1, float64(done)/float64(max(p.total, 1)))
	var eta time.Duration
	if rate > 0 {
		eta = time.Duration(float64(p.total-min(done, p.total)) / rate * float64(time.Second)).Round(time.Second)
	}
	if p.tty {
		const width = 30
		n := int(frac * width)
		fmt.Fprintf(p.w, "\r%s [%s%s] %3.0f%% %d/%d %s ETA %s   ", p.label, strings.Repeat("=", n), strings.Repeat(" ", width-n),
			frac*100, done, p.total, detail, eta)
		return
	}
	if time.Since(p.lastLog) >= p.every || (done >= p.total && !p.ended) {
		p.ended = done >= p.total
		p.lastLog = time.Now()
		p.log.Info("Progress", "task", p.label, "done", done, "total", p.total, "percent", int(frac*100), "detail", detail, "eta", eta.String())
	}
}

// Done ends the bar's line on a terminal.
func (p *CountProgress) Done() {
	if p.tty {
		fmt.Fprintln(p.w)
	}
}

// isTerminal reports whether w is an interactive terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
