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
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/strata-chain/strata/history"
)

// Store is the Pebble-backed history store. It implements history.Reader and
// history.Ingester. Reads are safe for concurrent use and run concurrently
// with Ingest; Ingest calls are serialised by ingestMu.
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

var (
	_ history.Reader   = (*Store)(nil)
	_ history.Ingester = (*Store)(nil)
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

// checkSchema decides what to do with the store's layout version (see
// SchemaVersion): a new store is claimed at SchemaVersion; a store of an
// older version this build reads (oldestSchemaVersion and up) is migrated
// by raising its marker; any other version is refused, naming both.
func (s *Store) checkSchema() error {
	v, err := s.get(metaKey(metaSchema))
	switch {
	case errors.Is(err, history.ErrNotFound):
		// A new store, or one that never committed a block: claim it.
		if err := s.db.Set(metaKey(metaSchema), encodeBlock(SchemaVersion), pebble.Sync); err != nil {
			return fmt.Errorf("write schema version: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("read schema version: %w", err)
	case len(v) != 8:
		return fmt.Errorf("corrupt schema version %x", v)
	}
	switch have := binary.BigEndian.Uint64(v); {
	case have == SchemaVersion:
		return nil
	case have > SchemaVersion:
		return fmt.Errorf("store has schema version %d, this build reads version %d: use a matching strata build or a new datadir", have, SchemaVersion)
	case have < oldestSchemaVersion:
		return fmt.Errorf("store has schema version %d, this build reads versions %d to %d: use a new datadir", have, oldestSchemaVersion, SchemaVersion)
	default:
		// Only the changesets changed since, and each says its layout: the
		// data reads as it is. The marker goes up so that an older build,
		// which could not read the changesets this build writes, refuses
		// the store from now on.
		if err := s.db.Set(metaKey(metaSchema), encodeBlock(SchemaVersion), pebble.Sync); err != nil {
			return fmt.Errorf("migrate schema version %d to %d: %w", have, SchemaVersion, err)
		}
		s.log.Info("Migrated the store's schema version", "from", have, "to", SchemaVersion)
		return nil
	}
}

func encodeHead(h history.Head) []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 72), h.Number)
	b = append(b, h.Hash[:]...)
	return append(b, h.Root[:]...)
}

func decodeHead(b []byte) (*history.Head, error) {
	if len(b) != 72 {
		return nil, fmt.Errorf("corrupt head marker (%d bytes)", len(b))
	}
	return &history.Head{
		Number: binary.BigEndian.Uint64(b),
		Hash:   common.BytesToHash(b[8:40]),
		Root:   common.BytesToHash(b[40:72]),
	}, nil
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

// Head implements history.Reader.
func (s *Store) Head() (history.Head, error) {
	h := s.head.Load()
	if h == nil {
		return history.Head{}, history.ErrEmpty
	}
	return *h, nil
}

// Oldest implements history.Reader.
func (s *Store) Oldest() (uint64, error) {
	if s.head.Load() == nil {
		return 0, history.ErrEmpty
	}
	return s.oldest.Load(), nil
}

// HeaderByNumber implements history.Reader.
func (s *Store) HeaderByNumber(n uint64) (*types.Header, error) {
	if h := s.head.Load(); h == nil || n > h.Number {
		return nil, history.ErrNotFound
	}
	v, err := s.get(blockKey(headerPrefix, n))
	if err != nil {
		return nil, fmt.Errorf("header %d: %w", n, err)
	}
	var hdr types.Header
	if err := rlp.DecodeBytes(v, &hdr); err != nil {
		return nil, fmt.Errorf("decode header %d: %w", n, err)
	}
	return &hdr, nil
}

// NumberByHash implements history.Reader.
func (s *Store) NumberByHash(hash common.Hash) (uint64, error) {
	v, err := s.get(hashKey(hashPrefix, hash))
	if err != nil {
		return 0, err
	}
	n := binary.BigEndian.Uint64(v)
	if h := s.head.Load(); h == nil || n > h.Number {
		return 0, history.ErrNotFound
	}
	return n, nil
}

// Body implements history.Reader.
func (s *Store) Body(n uint64) (types.Transactions, error) {
	if _, err := s.HeaderByNumber(n); err != nil {
		return nil, err
	}
	v, err := s.get(blockKey(bodyPrefix, n))
	if errors.Is(err, history.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var txs types.Transactions
	if err := rlp.DecodeBytes(v, &txs); err != nil {
		return nil, fmt.Errorf("decode body %d: %w", n, err)
	}
	return txs, nil
}

// Receipts implements history.Reader.
func (s *Store) Receipts(n uint64) (types.Receipts, error) {
	if _, err := s.HeaderByNumber(n); err != nil {
		return nil, err
	}
	v, err := s.get(blockKey(receiptPrefix, n))
	if errors.Is(err, history.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var stored []*types.ReceiptForStorage
	if err := rlp.DecodeBytes(v, &stored); err != nil {
		return nil, fmt.Errorf("decode receipts %d: %w", n, err)
	}
	out := make(types.Receipts, len(stored))
	for i, r := range stored {
		out[i] = (*types.Receipt)(r)
	}
	return out, nil
}

// TxLookup implements history.Reader.
func (s *Store) TxLookup(hash common.Hash) (uint64, uint64, error) {
	v, err := s.get(hashKey(txPrefix, hash))
	if err != nil {
		return 0, 0, err
	}
	if len(v) != 16 {
		return 0, 0, fmt.Errorf("corrupt tx lookup for %s", hash)
	}
	n := binary.BigEndian.Uint64(v)
	if h := s.head.Load(); h == nil || n > h.Number {
		return 0, 0, history.ErrNotFound
	}
	return n, binary.BigEndian.Uint64(v[8:]), nil
}

// Code implements history.Reader.
func (s *Store) Code(codeHash common.Hash) ([]byte, error) {
	if codeHash == types.EmptyCodeHash {
		return nil, nil
	}
	return s.get(hashKey(codePrefix, codeHash))
}

// StateAt implements history.Reader. A block in the recent tier, or at a
// checkpoint of the window, is read directly; one between the window's
// checkpoints is rebuilt from the checkpoint below it; one below the window
// serves only pinned accounts (others get *history.PrunedError).
func (s *Store) StateAt(n uint64) (history.State, error) {
	h := s.head.Load()
	if h == nil {
		return nil, history.ErrEmpty
	}
	if n > h.Number {
		return nil, &history.FutureError{Number: n, Head: h.Number}
	}
	if s.closed.Load() {
		return nil, history.ErrClosed
	}
	// The tier boundaries are read from the same snapshot as the data, so
	// a migration committing meanwhile cannot mislead the read.
	snap := s.db.NewSnapshot()
	recent, oldest := uint64(0), uint64(0)
	if v, err := getFrom(snap, metaKey(metaRecent)); err == nil && len(v) == 8 {
		recent = binary.BigEndian.Uint64(v)
	}
	if v, err := getFrom(snap, metaKey(metaOldest)); err == nil && len(v) == 8 {
		oldest = binary.BigEndian.Uint64(v)
	}
	if n < oldest && len(s.pinned) == 0 {
		snap.Close()
		return nil, &history.PrunedError{Number: n, Oldest: oldest}
	}
	raw, err := getFrom(snap, blockKey(headerPrefix, n))
	if err != nil {
		snap.Close()
		return nil, fmt.Errorf("header %d: %w", n, err)
	}
	var hdr types.Header
	if err := rlp.DecodeBytes(raw, &hdr); err != nil {
		snap.Close()
		return nil, fmt.Errorf("decode header %d: %w", n, err)
	}
	C := max(s.cfg.Retention.Checkpoint, 1)
	switch {
	case n >= recent || (n >= oldest && n%C == 0):
		return s.openStateOn(snap, n, hdr.Root), nil
	case n >= oldest:
		return s.cachedWindowState(snap, n, func() (history.State, error) { return s.windowState(snap, n) })
	default:
		return &pinnedState{state: s.openStateOn(snap, n, hdr.Root), oldest: oldest}, nil
	}
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

// DiskUsage is the bytes the database occupies on disk (sstables, WAL,
// manifests).
func (s *Store) DiskUsage() uint64 {
	if s.closed.Load() {
		return 0
	}
	return s.db.Metrics().DiskSpaceUsage()
}
