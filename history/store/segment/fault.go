package segment

import (
	"fmt"
	"sync/atomic"
)

// A log stops writing at the first write, sync, rename, create, truncate or
// remove of its files that fails: after one the bytes on disk are in a
// state the log no longer knows (a write may have landed in part, a failed
// fsync may have dropped dirty pages). The fault is latched once, for the
// life of the Log:
//
//   - Health returns it; every later Append, Sync, TruncateAfter and
//     PruneBefore is refused with it, wrapped with what was refused
//     ("segment: append block N: the log stopped writing after a fault: ...");
//   - the call that hit it returns it (wrapped with the call and the file),
//     and whatever it was doing is not published: a block whose Append
//     failed is not shown by Bounds, Read or Lookup;
//   - reads go on from what was published;
//   - Open on a healthy disk recovers: a torn tail is cut, a half-written
//     index rebuilt or removed.
//
// Nothing clears a fault: the operator frees the disk and reopens the log.

// fault latches the first fault of a log's disk.
type fault struct {
	err atomic.Pointer[error]
}

// latch records err as the fault unless one is already recorded, and
// returns err.
func (f *fault) latch(err error) error {
	e := err
	f.err.CompareAndSwap(nil, &e)
	return err
}

// get is the latched fault, nil if none.
func (f *fault) get() error {
	if p := f.err.Load(); p != nil {
		return *p
	}
	return nil
}

// Health is nil while the log can write, and the fault that stopped its
// writes after one.
func (l *Log) Health() error { return l.fault.get() }

// writeErr is the error a write described by what ("append block 7") is
// refused with: ErrClosed, or the latched fault; nil if the log can write.
func (l *Log) writeErr(what string) error {
	if l.closed.Load() {
		return fmt.Errorf("segment: %s: %w", what, ErrClosed)
	}
	if err := l.fault.get(); err != nil {
		return fmt.Errorf("segment: %s: the log stopped writing after a fault: %w", what, err)
	}
	return nil
}

// fail latches err (an I/O failure of a write path, already naming the
// operation and file) and returns it wrapped with what was being done.
func (l *Log) fail(what string, err error) error {
	l.fault.latch(err)
	return fmt.Errorf("segment: %s: %w", what, err)
}
