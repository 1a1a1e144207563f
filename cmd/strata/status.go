package main

import (
	"fmt"
	"slices"
	"sync"
	"time"
)

// blockEvent is one produced-and-ingested block as the status line sees it.
type blockEvent struct {
	at     time.Time     // when its ingest committed
	number uint64        // block number
	txs    int           // transactions in it
	ingest time.Duration // history ingest time
	lag    time.Duration // commit time minus the block's due time
}

// statusWindow keeps the blocks of the last span for the status line. It is
// safe for concurrent use.
type statusWindow struct {
	span  time.Duration
	since time.Time // when the window started; rates over a younger window use its age

	mu     sync.Mutex
	events []blockEvent // oldest first; guarded by mu
}

func newStatusWindow(span time.Duration) *statusWindow {
	return &statusWindow{span: span, since: time.Now()}
}

func (w *statusWindow) add(e blockEvent) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.events = append(w.events, e)
	cut := 0
	for cut < len(w.events) && e.at.Sub(w.events[cut].at) > w.span {
		cut++
	}
	w.events = w.events[cut:]
}

// statusLine summarises the window as of now.
type statusLine struct {
	head      uint64
	blocksPS  float64
	txsPS     float64
	ingestP99 time.Duration
	lag       time.Duration
}

func (w *statusWindow) line(now time.Time) (statusLine, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var in []blockEvent
	for _, e := range w.events {
		if now.Sub(e.at) <= w.span {
			in = append(in, e)
		}
	}
	if len(in) == 0 {
		return statusLine{}, false
	}
	ingest := make([]time.Duration, len(in))
	txs := 0
	for i, e := range in {
		ingest[i] = e.ingest
		txs += e.txs
	}
	slices.Sort(ingest)
	p99 := ingest[min(len(ingest)-1, (len(ingest)*99+99)/100-1)]
	last := in[len(in)-1]
	secs := w.span.Seconds()
	if age := now.Sub(w.since); age > 0 && age < w.span {
		secs = age.Seconds()
	}
	return statusLine{
		head:      last.number,
		blocksPS:  float64(len(in)) / secs,
		txsPS:     float64(txs) / secs,
		ingestP99: p99,
		lag:       last.lag,
	}, true
}

func (l statusLine) String() string {
	return fmt.Sprintf("head=%d blocks/s=%.1f txs/s=%.0f ingest_p99=%s lag=%s",
		l.head, l.blocksPS, l.txsPS, l.ingestP99.Round(10*time.Microsecond), l.lag.Round(time.Millisecond))
}
