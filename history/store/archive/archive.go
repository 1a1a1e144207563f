package archive

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/ethereum/go-ethereum/common"
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/history/store/live"
	"github.com/strata-chain/strata/history/store/segment"
)

// Store is the v2 history store. It implements history.Reader,
// history.Ingester and history.GenesisLoader. Reads are safe for concurrent
// use and run concurrently with ingest; whatever moves the head is
// serialised by writeMu.
type Store struct {
	cfg     Config
	log     *slog.Logger
	db      *pebble.DB
	live    *live.DB
	hist    *segment.Log
	fs      vfs.FS
	histDir string

	writeMu sync.Mutex // serialises Ingest, Unwind, LoadGenesis and pruning

	// the background flush of the disk layer (flush.go)
	flushMu   sync.Mutex // held while a flush runs; Unwind waits on it
	flushing  atomic.Bool
	flushReq  chan uint64
	flushDone chan struct{}

	head   atomic.Pointer[history.Head] // nil while empty
	oldest atomic.Uint64                // the oldest block whose state is held
	usage  usage
	// pastCache holds nodes rebuilt from the history log, by hash:
	// content-addressed, so never stale.
	pastCache *lru.Cache[common.Hash, []byte]
	fault     atomic.Pointer[faultErr] // the first write the store failed; later writes are refused
	closed    atomic.Bool
}

// faultErr boxes the latched fault for an atomic.Pointer.
type faultErr struct{ err error }

var (
	_ history.Reader        = (*Store)(nil)
	_ history.Ingester      = (*Store)(nil)
	_ history.GenesisLoader = (*Store)(nil)
	_ history.State         = (*state)(nil)
)

// Open opens (creating if needed) a v2 store in dir: Pebble in dir/db, the
// history log in dir/history. It replays the forward updates the disk
// layer does not cover yet (restart.go), so it returns with every reported
// block readable.
func Open(dir string, cfg Config, log *slog.Logger) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("archive config: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	fs := cfg.FS
	if fs == nil {
		fs = vfs.Default
	}
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("archive: create %s: %w", dir, err)
	}
	cache := pebble.NewCache(max(cfg.BlockCacheBytes, 1<<20))
	defer cache.Unref()
	db, err := pebble.Open(filepath.Join(dir, "db"), &pebble.Options{
		FS:                          fs,
		Cache:                       cache,
		MemTableSize:                64 << 20,
		MemTableStopWritesThreshold: 4,
		Logger:                      pebbleLogger{log},
	})
	if err != nil {
		return nil, fmt.Errorf("archive: open pebble: %w", err)
	}
	s := &Store{cfg: cfg, log: log, db: db, fs: fs, histDir: filepath.Join(dir, "history")}
	// The datadir's own entry and its db directory's must survive a
	// crash: Pebble syncs what is inside db, not db's entry in dir.
	if err := syncDirs(fs, filepath.Dir(dir), dir); err != nil {
		db.Close()
		return nil, fmt.Errorf("archive: sync %s: %w", dir, err)
	}
	s.pastCache, _ = lru.New[common.Hash, []byte](1 << 17)
	if err := s.open(); err != nil {
		s.closeAll()
		return nil, err
	}
	s.startFlusher()
	return s, nil
}

func (s *Store) open() error {
	if err := s.checkSchema(); err != nil {
		return err
	}
	s.live = live.New(s.db, live.Options{
		NodePrefix:      []byte{liveNodePrefix},
		AccountPrefix:   []byte{liveAccPrefix},
		SlotPrefix:      []byte{liveSlotPrefix},
		MetaKey:         metaKey(metaLive),
		CleanCacheBytes: int(s.cfg.CleanCacheBytes),
	})
	if err := s.live.Open(); err != nil {
		return fmt.Errorf("archive: open live state: %w", err)
	}
	if err := s.openHistory(); err != nil {
		return err
	}
	if err := s.loadMeta(); err != nil {
		return err
	}
	return s.restart()
}

// openHistory opens the history log and logs what its recovery repaired.
func (s *Store) openHistory() error {
	hist, err := segment.Open(segment.Options{FS: s.fs, Dir: s.histDir, BlocksPerFile: s.cfg.BlocksPerFile, NoSync: s.cfg.NoSync})
	if err != nil {
		return fmt.Errorf("archive: open history log: %w", err)
	}
	if r := hist.Recovered(); !r.Empty() {
		s.log.Warn("History log repaired on open", "report", r.String())
	}
	s.hist = hist
	return nil
}

// checkSchema writes the schema version into a new store and refuses a
// store of another layout.
func (s *Store) checkSchema() error {
	v, err := s.get(metaKey(metaSchema))
	switch {
	case errors.Is(err, history.ErrNotFound):
		if err := s.db.Set(metaKey(metaSchema), encodeUint64(schemaVersion), s.syncOpt()); err != nil {
			return fmt.Errorf("archive: write schema version: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("archive: read schema version: %w", err)
	case len(v) != 8 || decodeUint64(v) != schemaVersion:
		return fmt.Errorf("archive: the datadir holds another store layout (schema %x, want %d); rebuild it with strata catchup from a source", v, schemaVersion)
	}
	return nil
}

func (s *Store) loadMeta() error {
	v, err := s.get(metaKey(metaHead))
	switch {
	case errors.Is(err, history.ErrNotFound):
	case err != nil:
		return fmt.Errorf("archive: read head: %w", err)
	default:
		h, err := decodeHead(v)
		if err != nil {
			return fmt.Errorf("archive: head marker: %w", err)
		}
		s.head.Store(&h)
	}
	if v, err := s.get(metaKey(metaOldest)); err == nil && len(v) == 8 {
		s.oldest.Store(decodeUint64(v))
	}
	return nil
}

// Close closes the store. It is idempotent.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.flushReq != nil {
		close(s.flushReq)
		<-s.flushDone
	}
	return s.closeAll()
}

func (s *Store) closeAll() error {
	var errs []error
	if s.hist != nil {
		errs = append(errs, s.hist.Close())
	}
	errs = append(errs, s.db.Close())
	return errors.Join(errs...)
}

// Head implements history.Reader.
func (s *Store) Head() (history.Head, error) {
	if s.closed.Load() {
		return history.Head{}, history.ErrClosed
	}
	if h := s.head.Load(); h != nil {
		return *h, nil
	}
	return history.Head{}, history.ErrEmpty
}

// Oldest implements history.Reader.
func (s *Store) Oldest() (uint64, error) {
	if _, err := s.Head(); err != nil {
		return 0, err
	}
	return s.oldest.Load(), nil
}

// Compact compacts Pebble's whole key space (a benchmark settles the LSM
// after a bulk genesis load before it measures ingest).
func (s *Store) Compact() error {
	if s.closed.Load() {
		return history.ErrClosed
	}
	return s.db.Compact(context.Background(), []byte{0}, []byte{0xff}, true)
}

// get reads one key, history.ErrNotFound if absent.
func (s *Store) get(key []byte) ([]byte, error) {
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, history.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	out := append([]byte(nil), v...)
	return out, closer.Close()
}

func (s *Store) syncOpt() *pebble.WriteOptions {
	if s.cfg.NoSync {
		return pebble.NoSync
	}
	return pebble.Sync
}

// writeErr is the latched fault, or ErrClosed.
func (s *Store) writeErr() error {
	if s.closed.Load() {
		return history.ErrClosed
	}
	if f := s.fault.Load(); f != nil {
		return f.err
	}
	return nil
}

// latch records the first write the store failed: every later write is
// refused with it (reads go on).
func (s *Store) latch(err error) error {
	err = history.Critical(err)
	s.fault.CompareAndSwap(nil, &faultErr{err})
	return err
}

// pebbleLogger sends Pebble's logs to slog; Fatalf does not exit (a failed
// commit comes back as an error from the commit and is latched).
type pebbleLogger struct{ log *slog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}
func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log.Error(fmt.Sprintf(format, args...), "component", "pebble")
}
func (l pebbleLogger) Fatalf(format string, args ...any) {
	l.log.Error(fmt.Sprintf(format, args...), "component", "pebble", "fatal", true)
}

// syncDirs fsyncs each directory, so the entries created in it survive a
// crash.
func syncDirs(fs vfs.FS, dirs ...string) error {
	for _, d := range dirs {
		f, err := fs.OpenDir(d)
		if err != nil {
			return err
		}
		err = f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}
