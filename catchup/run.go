package catchup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/history/replay"
)

// Source streams a range of consecutive blocks.
type Source interface {
	// Range returns a function that yields blocks from..to in order, then
	// io.EOF. Ranges may be read concurrently.
	Range(ctx context.Context, from, to uint64) (recv func() (*history.BlockUpdate, error), err error)
}

// Store is what catch-up replays into.
type Store interface {
	Head() (history.Head, error)
	StateAt(n uint64) (history.State, error)
	history.BatchIngester
}

// Config bounds a catch-up.
type Config struct {
	// BatchBlocks is the number of blocks prepared and committed together:
	// one write and one fsync per batch, and the unit a crash falls back to.
	BatchBlocks int
	// Fetchers is the number of batches fetched ahead while one is
	// replayed; at most Fetchers+1 batches of updates are in memory.
	Fetchers int
	// Workers replay storage tries in parallel (0: GOMAXPROCS).
	Workers int
}

// DefaultConfig suits a 2-core machine following a 200 ms chain. Batch
// size is a trade: bigger batches re-read fewer trie nodes but cost more to
// write. At the base-like profile, offline replay of a recorded chain ran
// 12.2 blocks/s with 32-block batches against 10.0 with 128; two live
// 10-minute-outage runs went the other way (24.2 against 30.0). Noisy; 32
// keeps memory and the crash fallback small.
func DefaultConfig() Config {
	return Config{BatchBlocks: 32, Fetchers: 2, Workers: runtime.GOMAXPROCS(0)}
}

// Batch reports one committed batch.
type Batch struct {
	From, To uint64        // the batch's blocks
	Target   uint64        // the block the run catches up to
	Done     uint64        // blocks committed since the run started
	Elapsed  time.Duration // since the run started
	Txs      int
	Wait     time.Duration // waiting for the source
	Prepare  time.Duration // trie replay
	Commit   time.Duration // the batch write
	HeadTime uint64        // the last block's timestamp
}

// Rate is the run's blocks per second so far.
func (b Batch) Rate() float64 {
	if b.Elapsed <= 0 {
		return 0
	}
	return float64(b.Done) / b.Elapsed.Seconds()
}

// WallTime is the wall time of the runs that reported batches, in order:
// replay and write overlap (batch k is replayed while k-1 is written), so
// the sum of the batches' Wait, Prepare and Commit overstates it. A run's
// wall time is its last batch's Elapsed; a batch whose Done is its own size
// is the first of a new run.
func WallTime(batches []Batch) time.Duration {
	var total, run time.Duration
	for _, b := range batches {
		if b.Done == b.To-b.From+1 {
			total += run
		}
		run = b.Elapsed
	}
	return total + run
}

// ErrDiverged means the source's block after the store's head does not
// build on it: a reorg, which per-block following resolves. Run returns it
// classed history.ClassReorg.
var ErrDiverged = errors.New("catch-up: the source's next block does not build on the store's head")

// Run replays the blocks after the store's head up to and including to
// from src, BatchBlocks to a commit, fetching ahead concurrently and
// replaying each batch while the one before it is written. It stops
// at ctx's end (returning ctx.Err() with every finished batch committed),
// on a root mismatch (*history.RootMismatchError, nothing of that batch
// committed), or with ErrDiverged.
//
// Its errors carry their class (history.ClassOf) for the caller to act on:
// a source that fails or sends a short or wrong range is
// history.ClassTemporary (fetch again); ErrDiverged is history.ClassReorg
// (unwind, block by block); the store's errors keep the class the store
// gave them: a root mismatch or a write the disk refused is
// history.ClassCritical (halt at the last committed batch), and so is a
// state the store cannot read.
func Run(ctx context.Context, cfg Config, st Store, src Source, to uint64, onBatch func(Batch)) error {
	if cfg.BatchBlocks <= 0 {
		cfg.BatchBlocks = DefaultConfig().BatchBlocks
	}
	cfg.Fetchers = max(cfg.Fetchers, 1)
	head, err := st.Head()
	if err != nil {
		return err
	}
	if to <= head.Number {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pending := fetchAhead(ctx, cfg, src, head.Number+1, to)
	r := &runner{cfg: cfg, st: st, to: to, onBatch: onBatch, head: head, start: time.Now()}
	defer func() {
		if r.inflight != nil {
			<-r.inflight.done // never leave a write running after Run returns
		}
	}()
	for ch := range pending {
		if err := r.batch(ctx, ch); err != nil {
			return err
		}
	}
	if r.inflight != nil {
		if err := r.finish(); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// fetched is one batch's blocks as the source sent them.
type fetched struct {
	us   []*history.BlockUpdate
	err  error
	done time.Time
}

// fetchAhead starts fetching the batches from..to, BatchBlocks each, and
// returns them in order of their start, each as a channel its fetch delivers
// to. The returned channel's capacity, Fetchers, is the memory bound; it is
// closed after the last batch or at ctx's end.
func fetchAhead(ctx context.Context, cfg Config, src Source, from, to uint64) <-chan chan fetched {
	pending := make(chan chan fetched, cfg.Fetchers)
	go func() {
		defer close(pending)
		for ; from <= to; from += uint64(cfg.BatchBlocks) {
			last := min(from+uint64(cfg.BatchBlocks)-1, to)
			ch := make(chan fetched, 1)
			select {
			case pending <- ch:
			case <-ctx.Done():
				return
			}
			go func(from, last uint64) {
				us, err := fetchRange(ctx, src, from, last)
				ch <- fetched{us, err, time.Now()}
			}(from, last)
		}
	}()
	return pending
}

// runner is one Run's state between batches.
//
// Batch k is replayed while batch k-1 is written: its base is then the
// committed state under k-1 overlaid with k-1's prepared updates. At most
// one batch is being written (inflight), so the state under it is always
// committed.
type runner struct {
	cfg      Config
	st       Store
	to       uint64
	onBatch  func(Batch)
	head     history.Head // the last block handed to a write
	start    time.Time
	done     uint64 // blocks committed since start
	inflight *inflightBatch
}

// batch waits for the next fetched batch, checks it builds on the head,
// replays it, waits for the write before it and starts its own write.
func (r *runner) batch(ctx context.Context, ch chan fetched) error {
	waitStart := time.Now()
	var f fetched
	select {
	case f = <-ch:
	case <-ctx.Done():
		return ctx.Err()
	}
	if f.err != nil {
		return history.Temporary(f.err)
	}
	wait := time.Since(waitStart)
	us := f.us
	if us[0].Header.ParentHash != r.head.Hash {
		return history.Reorg(fmt.Errorf("%w: block %d has parent %s, the head %d is %s", ErrDiverged, us[0].Number(), us[0].Header.ParentHash, r.head.Number, r.head.Hash))
	}
	t0 := time.Now()
	if err := r.prepare(ctx, us); err != nil {
		return err
	}
	prepare := time.Since(t0)
	if r.inflight != nil {
		if err := r.finish(); err != nil {
			return err
		}
	}
	r.write(ctx, us, wait, prepare)
	return nil
}

// prepare replays us's tries on the state under them: the committed head,
// or the committed state under the batch being written overlaid with its
// updates.
func (r *runner) prepare(ctx context.Context, us []*history.BlockUpdate) error {
	var base history.State
	if r.inflight != nil {
		under, err := r.st.StateAt(r.inflight.parent)
		if err != nil {
			return history.Critical(fmt.Errorf("catch-up: state at %d: %w", r.inflight.parent, err))
		}
		base = replay.View(under, r.inflight.us)
	} else {
		var err error
		if base, err = r.st.StateAt(r.head.Number); err != nil {
			return history.Critical(fmt.Errorf("catch-up: state at %d: %w", r.head.Number, err))
		}
	}
	err := replay.Prepare(ctx, base, us, r.cfg.Workers)
	base.Close()
	return err
}

// write starts the prepared batch us's write (there is none in flight) and
// moves the head to its last block.
func (r *runner) write(ctx context.Context, us []*history.BlockUpdate, wait, prepare time.Duration) {
	r.inflight = &inflightBatch{us: us, parent: r.head.Number, wait: wait, prepare: prepare, begin: time.Now(), done: make(chan struct{})}
	go func(b *inflightBatch) {
		b.err = r.st.IngestBatch(ctx, b.us)
		b.end = time.Now()
		close(b.done)
	}(r.inflight)
	last := us[len(us)-1]
	r.head = history.Head{Number: last.Number(), Hash: last.Header.Hash(), Root: last.Header.Root}
}

// finish waits for the write in flight and, if it committed, reports it.
func (r *runner) finish() error {
	f := r.inflight
	r.inflight = nil
	<-f.done
	if f.err != nil {
		return f.err
	}
	r.done += uint64(len(f.us))
	if r.onBatch != nil {
		r.onBatch(r.report(f))
	}
	return nil
}

// report is the Batch for the committed f.
func (r *runner) report(f *inflightBatch) Batch {
	txs := 0
	for _, u := range f.us {
		txs += len(u.Transactions)
	}
	last := f.us[len(f.us)-1]
	return Batch{From: f.us[0].Number(), To: last.Number(), Target: r.to, Done: r.done, Elapsed: f.end.Sub(r.start), Txs: txs,
		Wait: f.wait, Prepare: f.prepare, Commit: f.end.Sub(f.begin), HeadTime: last.Header.Time}
}

// inflightBatch is a prepared batch being written.
type inflightBatch struct {
	us            []*history.BlockUpdate
	parent        uint64 // the committed block under it
	wait, prepare time.Duration
	begin, end    time.Time
	err           error
	done          chan struct{} // closed when the write returned; err and end are set
}

// fetchRange reads blocks from..to from src, checking they are all there.
func fetchRange(ctx context.Context, src Source, from, to uint64) ([]*history.BlockUpdate, error) {
	recv, err := src.Range(ctx, from, to)
	if err != nil {
		return nil, fmt.Errorf("catch-up: fetch %d-%d: %w", from, to, err)
	}
	us := make([]*history.BlockUpdate, 0, to-from+1)
	for n := from; n <= to; n++ {
		u, err := recv()
		if err == io.EOF {
			return nil, fmt.Errorf("catch-up: the source ended the range %d-%d after block %d", from, to, n-1)
		}
		if err != nil {
			return nil, fmt.Errorf("catch-up: fetch block %d: %w", n, err)
		}
		if u.Header == nil || u.Number() != n {
			return nil, fmt.Errorf("catch-up: asked for block %d, the source sent another", n)
		}
		us = append(us, u)
	}
	return us, nil
}
