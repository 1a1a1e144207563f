package store

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/strata-chain/strata/history"
)

// A store stops writing at the first fault of its disk: a commit Pebble
// could not write or sync (Pebble reports it through Logger.Fatalf, whose
// default exits the process), a flush or compaction that failed (Pebble's
// background errors), or any other fatal condition Pebble reports. The
// fault is latched once, for the life of the Store:
//
//   - Health returns it; every later write (Ingest, IngestBatch, Unwind,
//     LoadGenesis, Migrate) is refused with it, classed history.ClassCritical;
//   - a commit that was under way when it happened is not reported
//     committed (its caller gets the fault), so no block is reported ingested
//     that Pebble did not make durable;
//   - reads go on from what Pebble holds, as far as Pebble allows;
//   - new files wait faultRetryDelay before they are tried on the disk, so
//     Pebble's flush and compaction retries, which have no backoff of their
//     own, do not spin; Close ends the wait.
//
// Nothing clears a fault: the operator frees the disk and restarts.

// faultRetryDelay is how long a new file waits once the store has a fault.
const faultRetryDelay = time.Second

// faultLogEvery is the least time between two log lines of one kind of
// Pebble error; the lines in between are counted in the next.
const faultLogEvery = 10 * time.Second

// fault latches the first fault of a store's disk.
type fault struct {
	err     atomic.Pointer[error]
	stop    chan struct{} // closed by Close: waits in newFile end
	stopped sync.Once
	onFatal func(error) // called once with the fault (Open's watchdog)
	onceFn  sync.Once
}

func newFault() *fault { return &fault{stop: make(chan struct{})} }

// latch records err as the fault unless one is already recorded.
func (f *fault) latch(err error) {
	e := history.Critical(err)
	if f.err.CompareAndSwap(nil, &e) && f.onFatal != nil {
		f.onceFn.Do(func() { f.onFatal(e) })
	}
}

// get is the latched fault, nil if none.
func (f *fault) get() error {
	if p := f.err.Load(); p != nil {
		return *p
	}
	return nil
}

// close ends the waits of new files.
func (f *fault) close() { f.stopped.Do(func() { close(f.stop) }) }

// throttle makes a new file wait faultRetryDelay once there is a fault.
func (f *fault) throttle() {
	if f.get() == nil {
		return
	}
	t := time.NewTimer(faultRetryDelay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-f.stop:
	}
}

// Health is nil while the store can write, and the fault that stopped its
// writes after one (classed history.ClassCritical, naming the cause, e.g.
// "no space left on device"). A node reports it and stops ingest; the store
// keeps answering reads.
func (s *Store) Health() error { return s.fault.get() }

// errReadOnly refuses the writes of a store opened by OpenReadOnly.
var errReadOnly = errors.New("the store was opened read-only")

// writeErr is the error a write is refused with: the store's fault, or
// errReadOnly.
func (s *Store) writeErr() error {
	if s.readOnly {
		return errReadOnly
	}
	if err := s.fault.get(); err != nil {
		return history.Critical(fmt.Errorf("the store stopped writing: %w", err))
	}
	return nil
}

// commit commits b unless the store has a fault, and reports success only
// if no fault was latched while it committed: Pebble reports a commit it
// could not write through Logger.Fatalf and then returns nil from Commit.
// A failed commit is itself latched: the WAL is then in an unknown state.
func (s *Store) commit(b *pebble.Batch, opts *pebble.WriteOptions) error {
	if err := s.writeErr(); err != nil {
		return err
	}
	if err := b.Commit(opts); err != nil {
		s.fault.latch(fmt.Errorf("pebble commit: %w", err))
		return history.Critical(err)
	}
	return s.writeErr()
}

// fatalError is what Pebble's Logger.Fatalf reported, keeping the first
// error among its arguments as the cause (errors.Is finds the errno).
type fatalError struct {
	msg   string
	cause error
}

func (e *fatalError) Error() string { return e.msg }
func (e *fatalError) Unwrap() error { return e.cause }

func newFatalError(format string, args ...any) error {
	e := &fatalError{msg: fmt.Sprintf(format, args...)}
	for _, a := range args {
		if err, ok := a.(error); ok {
			e.cause = err
			break
		}
	}
	return e
}

// pebbleLogger sends Pebble's log to slog. Fatalf latches the fault instead
// of exiting; Errorf lines are rate-limited by format.
type pebbleLogger struct {
	log   *slog.Logger
	fault *fault
	limit *logLimiter
}

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Debug("pebble", "msg", fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	if n, ok := l.limit.allow(format); ok {
		l.log.Error("pebble", "msg", fmt.Sprintf(format, args...), "suppressed", n)
	}
}

// Fatalf latches the fault. Pebble carries on after it returns; the store
// refuses writes from then on and does not report the commit that failed.
func (l pebbleLogger) Fatalf(format string, args ...any) {
	err := newFatalError(format, args...)
	l.fault.latch(err)
	if n, ok := l.limit.allow("fatal"); ok {
		l.log.Error("Pebble fatal error: the store stops writing", "err", err, "suppressed", n)
	}
}

// backgroundError latches a failed flush, compaction or other background
// job of Pebble's and logs it, rate-limited: Pebble retries them at once,
// forever.
func (l pebbleLogger) backgroundError(err error) {
	if errors.Is(err, pebble.ErrCancelledCompaction) {
		return
	}
	l.fault.latch(fmt.Errorf("pebble background error: %w", err))
	if n, ok := l.limit.allow("background"); ok {
		l.log.Error("Pebble background error: the store stops writing", "err", err, "suppressed", n)
	}
}

// eventListener is the store's Pebble event listener.
func (l pebbleLogger) eventListener() *pebble.EventListener {
	return &pebble.EventListener{BackgroundError: l.backgroundError}
}

// logLimiter lets one line of each key through per faultLogEvery.
type logLimiter struct {
	mu   sync.Mutex
	now  func() time.Time
	last map[string]time.Time
	held map[string]int // lines suppressed since the last one let through
}

func newLogLimiter() *logLimiter {
	return &logLimiter{now: time.Now, last: map[string]time.Time{}, held: map[string]int{}}
}

// allow reports whether a line of key may be logged now and, if so, how many
// were suppressed since the last one.
func (r *logLimiter) allow(key string) (suppressed int, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if last, seen := r.last[key]; seen && now.Sub(last) < faultLogEvery {
		r.held[key]++
		return 0, false
	}
	r.last[key] = now
	suppressed = r.held[key]
	r.held[key] = 0
	return suppressed, true
}

// faultFS makes every new file wait faultRetryDelay once the store has a
// fault (see fault.throttle); everything else goes straight to the FS.
type faultFS struct {
	vfs.FS
	fault *fault
}

func (fs faultFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	fs.fault.throttle()
	return fs.FS.Create(name, category)
}
