package segment

import "sync"

// syncer is the group commit of Sync: one fsync at a time, and every caller
// waiting while it runs is served by the next one, which covers all their
// appends. A caller whose appends the running fsync already covers (it
// began after they were published) just waits for it.
type syncer struct {
	mu      sync.Mutex
	cond    *sync.Cond // signalled when a round ends; initialised in Open
	running bool
	synced  uint64 // Appends durable: the count of Log.appended a round covered
}

// Sync makes every block appended so far durable: it fsyncs the open file
// (a full file, being sealed in the background or sealed, was fsynced
// whole before the next file was created) and the directory when a file
// was created since its last fsync. Sync may be called from several
// goroutines at once, also while the writer appends: concurrent callers
// share fsyncs (see syncer). A failed fsync is latched (see fault.go).
func (l *Log) Sync() error {
	if err := l.writeErr("sync"); err != nil {
		return err
	}
	target := l.appended.Load()
	s := &l.syncer
	s.mu.Lock()
	for s.running && s.synced < target {
		s.cond.Wait()
	}
	if s.synced >= target {
		s.mu.Unlock()
		return l.syncResult()
	}
	s.running = true
	s.mu.Unlock()

	covered, err := l.syncRound()

	s.mu.Lock()
	s.running = false
	if err == nil && covered > s.synced {
		s.synced = covered
	}
	s.cond.Broadcast()
	s.mu.Unlock()
	if err != nil {
		return l.fail("sync", err)
	}
	return nil
}

// syncResult is what a caller served by another's round returns: nil, or
// the fault that round (or any other) latched.
func (l *Log) syncResult() error {
	if err := l.fault.get(); err != nil {
		return l.writeErr("sync")
	}
	return nil
}

// syncRound is one fsync round: it covers the Appends published when it
// starts.
func (l *Log) syncRound() (covered uint64, err error) {
	if err := l.fault.get(); err != nil {
		return 0, err
	}
	// Order matters: an Append creates its file and marks the directory
	// dirty before it is counted, and is counted after it is in the view;
	// so when covered counts it, dirty and the view show its file.
	covered = l.appended.Load()
	dirty := l.dirDirty.Swap(false)
	l.mu.RLock()
	var h *handle
	if l.active != nil {
		h = l.active.seg
		h.acquire()
	}
	l.mu.RUnlock()
	if h != nil {
		defer h.release()
	}
	if l.opts.NoSync {
		return covered, nil
	}
	if h != nil {
		if err := h.sync(); err != nil {
			return 0, err
		}
	}
	if dirty {
		if err := l.syncDir(); err != nil {
			return 0, err
		}
	}
	// A fault latched meanwhile (by a background seal) is reported.
	if err := l.fault.get(); err != nil {
		return 0, err
	}
	return covered, nil
}

// synced reports whether a Sync round covered the first n Appends.
func (l *Log) synced(n uint64) bool {
	l.syncer.mu.Lock()
	defer l.syncer.mu.Unlock()
	return l.syncer.synced >= n
}
