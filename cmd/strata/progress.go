package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// progress shows long work: a bar with rate and ETA on a terminal, a
// structured log line every few seconds otherwise.
type progress struct {
	w       io.Writer
	tty     bool
	label   string
	total   time.Duration
	lastLog time.Time
	log     *slog.Logger
}

func newProgress(w io.Writer, label string, total time.Duration) *progress {
	return &progress{w: w, tty: isTerminal(w), label: label, total: total, log: slog.New(slog.NewJSONHandler(w, nil))}
}

func (p *progress) update(elapsed time.Duration, detail string) {
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

func (p *progress) done() {
	if p.tty {
		fmt.Fprintln(p.w)
	}
}
