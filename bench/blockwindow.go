package bench

import (
	"sync"
	"time"

	"github.com/strata-chain/strata/sequencer"
)

// blockWindow keeps the sequencer's blocks made inside the measured
// window: between open and close, every block record sees is kept, and no
// other. It is safe for concurrent use (record runs on the sequencer's
// goroutine).
type blockWindow struct {
	mu     sync.Mutex
	open   bool
	start  time.Time
	blocks []sequencer.BlockInfo
}

// record is the node's block hook.
func (w *blockWindow) record(info sequencer.BlockInfo) {
	w.mu.Lock()
	if w.open {
		w.blocks = append(w.blocks, info)
	}
	w.mu.Unlock()
}

// begin opens the window and returns when it began.
func (w *blockWindow) begin() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.open, w.start = true, time.Now()
	return w.start
}

// end closes the window, calls atEnd while no block can enter it (the
// follower stops there, so it has followed the window), and returns the
// window's length and blocks.
func (w *blockWindow) end(atEnd func()) (time.Duration, []sequencer.BlockInfo) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.open = false
	window := time.Since(w.start)
	atEnd()
	return window, append([]sequencer.BlockInfo(nil), w.blocks...)
}

// summarizeBlocks fills a run's block figures from the blocks of its window.
func summarizeBlocks(run *Run, got []sequencer.BlockInfo, start time.Time, window time.Duration) {
	var ingest, lag []time.Duration
	stages := map[string][]time.Duration{}
	var txs, gas uint64
	for _, b := range got {
		ingest = append(ingest, b.Ingest)
		lag = append(lag, b.Committed.Sub(b.Due))
		stages["execute"] = append(stages["execute"], b.Stages.Execute)
		stages["state_root"] = append(stages["state_root"], b.Stages.StateRoot)
		stages["commit"] = append(stages["commit"], b.Stages.Commit)
		stages["seal"] = append(stages["seal"], b.Stages.Seal)
		stages["publish"] = append(stages["publish"], b.Ingest)
		txs += uint64(b.Txs)
		gas += b.GasUsed
		if b.Txs == 0 {
			run.EmptyBlocks++
		}
		run.Series = append(run.Series, BlockSample{At: b.Committed.Sub(start), Number: b.Number, Txs: b.Txs, Gas: b.GasUsed, Ingest: b.Ingest, Lag: b.Committed.Sub(b.Due)})
	}
	run.Window = window
	run.Blocks = len(got)
	run.Ingest, run.Lag = Summarize(ingest), Summarize(lag)
	run.Stages = map[string]Summary{}
	for k, v := range stages {
		run.Stages[k] = Summarize(v)
	}
	run.BlocksPerSecond = float64(len(got)) / window.Seconds()
	run.TxsPerSecond = float64(txs) / window.Seconds()
	run.GasPerSecond = float64(gas) / window.Seconds()
}
