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

	closed  atomic.Bool
	metrics atomic.Pointer[metrics] // nil until RegisterMetrics
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
func Open(dir string, cfg Config, log *slog.Logger) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("store config: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cache := pebble.NewCache(max(cfg.BlockCacheBytes, 1<<20))
	defer cache.Unref()
	opts := &pebble.Options{
		Cache:                       cache,
		MemTableSize:                64 << 20,
		MemTableStopWritesThreshold: 4,
		Logger:                      pebbleLogger{log},
	}
	if cfg.FS != nil {
		opts.FS = cfg.FS
	}
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("open pebble at %q: %w", dir, err)
	}
	s := &Store{db: db, cfg: cfg, log: log, views: newViewCache()}
	if s.nodes, err = lru.New[common.Hash, []byte](max(cfg.NodeCacheEntries, 1)); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.loadMeta(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
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
			return errors.New("the store holds an interrupted bulk genesis load: delete the datadir and load again")
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
	return s.db.Close()
}

type pebbleLogger struct{ log *slog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Debug("pebble", "msg", fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log.Error("pebble", "msg", fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Fatalf(format string, args ...any) {
	l.log.Error("pebble fatal", "msg", fmt.Sprintf(format, args...))
	panic(fmt.Sprintf(format, args...))
}
