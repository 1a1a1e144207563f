package live

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
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

type cacheShard struct {
	mu    sync.Mutex
	m     map[string]*centry
	lru   centry // sentinel: lru.next is the most recently used
	bytes int
	limit int
}

type centry struct {
	key        string
	v          value
	prev, next *centry
}

func newCache(limit int) *cache {
	c := &cache{seed: maphash.MakeSeed()}
	for i := range c.shards {
		s := &c.shards[i]
		s.m = make(map[string]*centry)
		s.lru.prev, s.lru.next = &s.lru, &s.lru
		s.limit = max(limit/cacheShards, 1)
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
	e, ok := s.m[string(key)]
	if !ok {
		c.misses.Add(1)
		return value{}, false
	}
	c.hits.Add(1)
	s.unlink(e)
	s.pushFront(e)
	return e.v, true
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
	if e, ok := s.m[string(key)]; ok {
		s.set(e, v)
		return
	}
	e := &centry{key: string(key), v: v}
	s.m[e.key] = e
	s.pushFront(e)
	s.bytes += e.size()
	s.evict()
}

// update makes a key Flushed wrote hold its new value if it is cached: v
// replaces it, or a deletion drops it.
func (c *cache) update(key string, v value) {
	s := c.shard([]byte(key))
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[key]
	if !ok {
		return
	}
	if v.blob == nil {
		s.unlink(e)
		delete(s.m, key)
		s.bytes -= e.size()
		return
	}
	s.set(e, v)
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
		clear(s.m)
		s.lru.prev, s.lru.next = &s.lru, &s.lru
		s.bytes = 0
		s.mu.Unlock()
	}
}

func (e *centry) size() int { return len(e.key) + len(e.v.blob) + cacheOverhead }

func (s *cacheShard) set(e *centry, v value) {
	s.bytes -= e.size()
	e.v = v
	s.bytes += e.size()
	s.unlink(e)
	s.pushFront(e)
	s.evict()
}

func (s *cacheShard) evict() {
	for s.bytes > s.limit && s.lru.prev != &s.lru {
		e := s.lru.prev
		s.unlink(e)
		delete(s.m, e.key)
		s.bytes -= e.size()
	}
}

func (s *cacheShard) unlink(e *centry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

func (s *cacheShard) pushFront(e *centry) {
	e.prev, e.next = &s.lru, s.lru.next
	s.lru.next.prev = e
	s.lru.next = e
}
