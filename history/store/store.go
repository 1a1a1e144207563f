package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/ethereum/go-ethereum/common"
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/strata-chain/strata/history"
)

// Store is the Pebble-backed history store. It implements history.Reader,
// history.Ingester, history.BatchIngester and history.GenesisLoader. Reads
// are safe for concurrent use and run concurrently with ingest; whatever
// moves the head is serialised by ingestMu.
type Store struct {
	db    *pebble.DB
	cfg   Config
	log   *slog.Logger
	nodes *lru.Cache[common.Hash, []byte] // hash -> node blob; content-addressed, never stale

	ingestMu sync.Mutex // serialises what moves the head (lockWrites)

	// head is the newest committed block, nil while the store is empty.
	// Written only under ingestMu after the batch that moves it committed.
	head   atomic.Pointer[history.Head]
	oldest atomic.Uint64 // the oldest block with full state (meta oldest)
	recent atomic.Uint64 // the first block with every node version (meta recent)

	migrateMu sync.Mutex   // serialises Migrate
	task      *migrateTask // the migration under way; guarded by migrateMu
	plan      *taskPlan    // what task deletes; guarded by migrateMu

	views            *lru.Cache[uint64, *sharedView] // rebuilt window states
	ingesting        atomic.Int32                    // Ingest and IngestBatch calls under way
	windowRebuilds   atomic.Uint64                   // window states rebuilt
	viewHits         atomic.Uint64                   // window reads the cache answered
	rebuildFallbacks atomic.Uint64                   // window rebuilds whose merged replay failed (a merge bug; answers stay right)
	bytes            tierBytes
	pinned           map[common.Hash][]byte // pinned address hash -> its key nibbles

	fault    *fault // the first fault of the disk; see fault.go
	readOnly bool   // opened by OpenReadOnly: every write is refused
	closed   atomic.Bool
	metrics  atomic.Pointer[metrics] // nil until RegisterMetrics
}

// Every history interface the store implements, checked at compile time.
var (
	_ history.Reader        = (*Store)(nil)
	_ history.Ingester      = (*Store)(nil)
	_ history.BatchIngester = (*Store)(nil)
	_ history.GenesisLoader = (*Store)(nil)
	_ history.Migrator      = (*Store)(nil)

	_ history.State         = (*state)(nil)       // a block's state, read directly
	_ history.State         = (*pinnedState)(nil) // below the window: pinned accounts only
	_ history.State         = (*viewHandle)(nil)  // a rebuilt window state, shared
	_ history.GenesisSource = (*GenesisExport)(nil)
)

// Open opens (creating if needed) the store in dir. A store of an older
// schema version this build reads is migrated; one of a version it does not
// know is refused (see SchemaVersion).
//
// Open returns promptly on a disk that cannot take Pebble's recovery
// writes (the flush of the WAL it replays), with the fault: Pebble itself
// would retry that flush forever inside its Open. The abandoned open goes
// on in the background, one attempt a second, and closes the database if
// the disk recovers.
func Open(dir string, cfg Config, log *slog.Logger) (*Store, error) {
	return open(dir, cfg, log, openOptions{})
}

// OpenReadOnly opens the store in dir without writing anything, not even
// Pebble's recovery, so a store on a full disk opens (`strata db stats`).
// Every write is refused; an older schema version is read as it is.
func OpenReadOnly(dir string, cfg Config, log *slog.Logger) (*Store, error) {
	return open(dir, cfg, log, openOptions{readOnly: true})
}

// openOptions are Open's choices that are not the store's configuration.
type openOptions struct {
	readOnly      bool
	memTableBytes uint64 // Pebble's memtable, the unit of a flush (0: 64 MiB)
}

func open(dir string, cfg Config, log *slog.Logger, o openOptions) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("store config: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cache := pebble.NewCache(max(cfg.BlockCacheBytes, 1<<20))
	defer cache.Unref()
	f := newFault()
	logger := pebbleLogger{log: log, fault: f, limit: newLogLimiter()}
	fs := cfg.FS
	if fs == nil {
		fs = vfs.Default
	}
	memTable := o.memTableBytes
	if memTable == 0 {
		memTable = 64 << 20
	}
	opts := &pebble.Options{
		Cache:                       cache,
		MemTableSize:                memTable,
		MemTableStopWritesThreshold: 4,
		Logger:                      logger,
		EventListener:               logger.eventListener(),
		FS:                          faultFS{FS: fs, fault: f},
		ReadOnly:                    o.readOnly,
	}
	db, err := openPebble(dir, opts, f)
	if err != nil {
		return nil, fmt.Errorf("open pebble at %q: %w", dir, err)
	}
	s := &Store{db: db, cfg: cfg, log: log, views: newViewCache(), fault: f, readOnly: o.readOnly}
	if s.nodes, err = lru.New[common.Hash, []byte](max(cfg.NodeCacheEntries, 1)); err != nil {
		s.closeDB()
		return nil, err
	}
	if err := s.loadMeta(); err != nil {
		s.closeDB()
		return nil, err
	}
	if err := s.fault.get(); err != nil {
		s.closeDB()
		return nil, fmt.Errorf("open %q: %w", dir, err)
	}
	return s, nil
}

// abandonedOpens counts opens Open gave up on that are still running.
var abandonedOpens sync.WaitGroup

// openPebble opens the database, or returns the first fault latched while
// Pebble opens it.
func openPebble(dir string, opts *pebble.Options, f *fault) (*pebble.DB, error) {
	failed := make(chan error, 1)
	f.onFatal = func(err error) { failed <- err }
	type opened struct {
		db  *pebble.DB
		err error
	}
	done := make(chan opened, 1)
	go func() {
		db, err := pebble.Open(dir, opts)
		done <- opened{db, err}
	}()
	select {
	case o := <-done:
		return o.db, o.err
	case err := <-failed:
		abandonedOpens.Add(1)
		go func() {
			defer abandonedOpens.Done()
			if o := <-done; o.db != nil {
				_ = o.db.Close()
			}
		}()
		return nil, err
	}
}

// OpenMem opens an empty store on an in-memory file system.
func OpenMem(cfg Config) (*Store, error) {
	cfg.FS = vfs.NewMem()
	cfg.NoSync = true
	return Open("", cfg, nil)
}

func (s *Store) loadMeta() error {
	if err := s.checkSchema(); err != nil {
		return err
	}
	v, err := s.get(metaKey(metaHead))
	switch {
	case errors.Is(err, history.ErrNotFound):
		if _, err := s.get(metaKey(metaBulkLoad)); err == nil {
			if err := s.discardBulkLoad(); err != nil {
				return err
			}
		}
		return s.loadRetentionMeta()
	case err != nil:
		return fmt.Errorf("read head: %w", err)
	}
	h, err := decodeHead(v)
	if err != nil {
		return err
	}
	s.head.Store(h)
	if v, err := s.get(metaKey(metaOldest)); err == nil && len(v) == 8 {
		s.oldest.Store(binary.BigEndian.Uint64(v))
	}
	return s.loadRetentionMeta()
}

// get returns a copy of the value at key, history.ErrNotFound if absent.
func (s *Store) get(key []byte) ([]byte, error) {
	if s.closed.Load() {
		return nil, history.ErrClosed
	}
	return getFrom(s.db, key)
}

// getFrom returns a copy of the value at key in r (the database, a snapshot
// or a batch), history.ErrNotFound if absent.
func getFrom(r pebble.Reader, key []byte) ([]byte, error) {
	v, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, history.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	out := bytes.Clone(v)
	closer.Close()
	return out, nil
}

// Close flushes and closes the database. It is idempotent.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	s.ingestMu.Lock()
	defer s.ingestMu.Unlock()
	s.views.Purge() // cached states let go of their snapshots
	return s.closeDB()
}

// closeDB ends the waits of a store with a fault and closes the database.
func (s *Store) closeDB() error {
	s.fault.close()
	return s.db.Close()
}
