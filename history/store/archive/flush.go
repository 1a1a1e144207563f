package archive

import (
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// The disk layer is flushed by one background goroutine (flushLoop), so
// ingest never pays for it: once Layers+FlushEvery layers are held, ingest
// asks for the oldest layers up to head-Layers to be written, and goes on
// pushing while the flusher builds and commits the batch (package live
// allows one flusher beside one head writer). If the flusher falls behind
// by 4*FlushEvery layers, ingest waits for it, which bounds memory. Unwind
// waits for a flush in flight (flushMu) before it drops layers.

// startFlusher starts the flush goroutine; Close stops it.
func (s *Store) startFlusher() {
	s.flushReq = make(chan uint64, 1)
	s.flushDone = make(chan struct{})
	go s.flushLoop()
}

func (s *Store) flushLoop() {
	defer close(s.flushDone)
	for upTo := range s.flushReq {
		s.flushMu.Lock()
		var err error
		if upTo, ok := s.flushBound(upTo); ok {
			err = s.flush(upTo)
		}
		s.flushMu.Unlock()
		s.flushing.Store(false)
		if err != nil {
			s.log.Error("Flushing the disk layer failed; ingest stops", "up_to", upTo, "err", err)
		}
	}
}

// requestFlush asks for a flush when one is due and none is in flight, and
// waits for the flusher when it is too far behind.
func (s *Store) requestFlush() error {
	head := s.head.Load()
	layers := uint64(s.live.Layers())
	if head == nil || layers < s.cfg.Layers+s.cfg.FlushEvery {
		return nil
	}
	if s.flushing.CompareAndSwap(false, true) {
		s.flushReq <- head.Number - s.cfg.Layers
		return nil
	}
	if layers >= s.cfg.Layers+4*s.cfg.FlushEvery {
		start := time.Now()
		s.flushMu.Lock() // the flush in flight ends
		s.flushMu.Unlock()
		s.usage.phase("waiting for the flusher", time.Since(start))
	}
	return s.writeErr()
}

// flushBound is the block a requested flush up to upTo may reach now: an
// Unwind since the request may have taken the head below it. Called with
// flushMu held, so no Unwind runs meanwhile.
func (s *Store) flushBound(upTo uint64) (uint64, bool) {
	head := s.head.Load()
	if head == nil || head.Number < s.cfg.Layers {
		return 0, false
	}
	upTo = min(upTo, head.Number-s.cfg.Layers)
	if disk, _, ok := s.live.Disk(); ok && upTo <= disk {
		return 0, false
	}
	return upTo, true
}

// settle waits until no flush is in flight (tests, Close).
func (s *Store) settle() {
	for s.flushing.Load() {
		s.flushMu.Lock()
		s.flushMu.Unlock()
		time.Sleep(time.Millisecond)
	}
}

// flush writes the layers up to upTo into the disk layer: one batch,
// unsynced, carrying the aggregated nodes and flat values, the disk
// layer's marker and the removal of the forward updates it covers, so a
// crash loses all of it or none and the forward updates replay what it
// lost. A failure is latched: ingest stops with it.
func (s *Store) flush(upTo uint64) error {
	start := time.Now()
	b := s.db.NewBatch()
	defer b.Close()
	written, err := s.live.Flush(b, upTo)
	if err != nil {
		return s.latch(fmt.Errorf("flush layers to block %d: %w", upTo, err))
	}
	if err := b.DeleteRange(blockKey(forwardPrefix, 0), blockKey(forwardPrefix, upTo+1), nil); err != nil {
		_ = s.live.FlushAbort()
		return s.latch(fmt.Errorf("flush layers to block %d: %w", upTo, err))
	}
	size := b.Len()
	if err := b.Commit(pebble.NoSync); err != nil {
		_ = s.live.FlushAbort()
		return s.latch(fmt.Errorf("flush layers to block %d: commit: %w", upTo, err))
	}
	s.live.Flushed(upTo)
	s.usage.flush(written, size, time.Since(start))
	return nil
}
