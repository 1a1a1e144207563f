package archive

import (
	"maps"
	"sync"
	"time"
)

// Usage is what the store has written since it opened, by line, for the
// side-by-side bench and the closing figures.
type Usage struct {
	Blocks         uint64        // blocks committed
	HistoryBytes   uint64        // history records appended (reverse node diffs)
	HistoryEntries uint64        // node versions in them
	FullEntries    uint64        // of which full copies
	FullBytes      uint64        // and their bytes
	ChainBytes     uint64        // bodies and receipts (RLP)
	ForwardBytes   uint64        // forward updates (kept until flushed)
	Flushes        uint64        // aggregated flushes
	FlushedKeys    uint64        // keys they wrote
	FlushedBytes   uint64        // batch bytes they wrote
	FlushTime      time.Duration // time they took
	PrunedBytes    uint64        // history bytes deleted by pruning
	// Phases is ingest's wall time by phase: apply (trie reads and
	// hashing), record (diff encoding), append, sync (the log's fsync),
	// commit (the Pebble batch, synced), flush.
	Phases map[string]time.Duration
}

type usage struct {
	mu sync.Mutex
	u  Usage
}

func (u *usage) record(bytes int, st recordStats) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.u.HistoryBytes += uint64(bytes)
	u.u.HistoryEntries += uint64(st.entries)
	u.u.FullEntries += uint64(st.full)
	u.u.FullBytes += uint64(st.fullBytes)
}

func (u *usage) block(chain, forward int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.u.Blocks++
	u.u.ChainBytes += uint64(chain)
	u.u.ForwardBytes += uint64(forward)
}

func (u *usage) flush(keys, bytes int, d time.Duration) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.u.Flushes++
	u.u.FlushedKeys += uint64(keys)
	u.u.FlushedBytes += uint64(bytes)
	u.u.FlushTime += d
}

func (u *usage) pruned(n int64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.u.PrunedBytes += uint64(n)
}

// phase adds d to ingest's time in phase.
func (u *usage) phase(name string, d time.Duration) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.u.Phases == nil {
		u.u.Phases = map[string]time.Duration{}
	}
	u.u.Phases[name] += d
}

// Usage returns what the store has written since it opened.
func (s *Store) Usage() Usage {
	s.usage.mu.Lock()
	defer s.usage.mu.Unlock()
	out := s.usage.u
	out.Phases = maps.Clone(out.Phases)
	return out
}

// HistoryFiles is the history log's size on disk: record files and their
// indexes.
func (s *Store) HistoryFiles() (bytes, index int64) {
	for _, f := range s.hist.Files() {
		bytes += f.Bytes
		index += f.IndexBytes
	}
	return bytes, index
}

// since adds the time from t to now to phase and returns now.
func (u *usage) since(phase string, t time.Time) time.Time {
	now := time.Now()
	u.phase(phase, now.Sub(t))
	return now
}
