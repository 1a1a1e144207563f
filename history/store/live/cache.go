package live

import (
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// cacheShards spreads the clean cache over independent locks.
const cacheShards = 16

// cacheOverhead approximates an entry's memory beyond its key and blob.
const cacheOverhead = 96

// cache is the clean cache: disk-layer values by disk key, bounded in
// bytes, least recently used first out. It holds only values equal to what
// Pebble holds at the disk layer (see DB.gen): a fill is refused unless the
// disk layer was stable throughout the read, and Flushed replaces or drops
// every entry of a key it wrote before the next view is published. Absent
// keys are not cached.
type cache struct {
	seed         maphash.Seed
	shards       [cacheShards]cacheShard
	hits, misses atomic.Uint64
}

// cacheShard is golang-lru's LRU bounded in bytes: it evicts the oldest
// entries while the bytes exceed the limit. mu also makes fill's check of
// the disk generation and its insert one step.
type cacheShard struct {
	mu    sync.Mutex
	lru   *simplelru.LRU[string, value]
	bytes int // guarded by mu; kept by add and by the eviction callback
	limit int
}

func newCache(limit int) *cache {
	c := &cache{seed: maphash.MakeSeed()}
	for i := range c.shards {
		s := &c.shards[i]
		s.limit = max(limit/cacheShards, 1)
		// The count bound is never reached: the byte bound evicts first.
		s.lru, _ = simplelru.NewLRU(math.MaxInt32, func(k string, v value) { s.bytes -= entrySize(k, v) })
	}
	return c
}

func (c *cache) shard(key []byte) *cacheShard {
	return &c.shards[maphash.Bytes(c.seed, key)%cacheShards]
}

// get returns the cached value of key.
func (c *cache) get(key []byte) (value, bool) {
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	// The lookup does not keep its key: a string over key's bytes saves a
	// copy on every read of the hot path.
	v, ok := s.lru.Get(unsafe.String(unsafe.SliceData(key), len(key)))
	if !ok {
		c.misses.Add(1)
		return value{}, false
	}
	c.hits.Add(1)
	return v, true
}

// fill caches v, read from Pebble for key, if the disk generation is still
// gen and even: the disk layer did not change since before the read.
func (c *cache) fill(key []byte, v value, gen uint64, cur *atomic.Uint64) {
	if v.blob == nil || gen&1 != 0 {
		return
	}
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur.Load() != gen {
		return
	}
	s.add(string(key), v)
}

// update makes a key Flushed wrote hold its new value if it is cached: v
// replaces it, or a deletion drops it.
func (c *cache) update(key string, v value) {
	s := c.shard([]byte(key))
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.lru.Contains(key) {
		return
	}
	if v.blob == nil {
		s.lru.Remove(key) // the callback takes its bytes off
		return
	}
	s.add(key, v)
}

// size is the bytes the entries take.
func (c *cache) size() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += s.bytes
		s.mu.Unlock()
	}
	return n
}

// purge drops every entry.
func (c *cache) purge() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		s.lru.Purge()
		s.mu.Unlock()
	}
}

func entrySize(key string, v value) int { return len(key) + len(v.blob) + cacheOverhead }

// add sets key to v as the most recently used entry and evicts the oldest
// while the shard is over its bytes. Called with mu held.
func (s *cacheShard) add(key string, v value) {
	if old, ok := s.lru.Peek(key); ok {
		s.bytes -= entrySize(key, old)
	}
	s.lru.Add(key, v)
	s.bytes += entrySize(key, v)
	for s.bytes > s.limit {
		if _, _, ok := s.lru.RemoveOldest(); !ok {
			break
		}
	}
}
