package store

import (
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/strata-chain/strata/history"
)

// Rebuilt window states are kept for a short while: proof clients ask for
// many accounts and slots at one block (an op-program run, a withdrawal
// proof with its storage slot, a bisection step), and a rebuild replays up
// to Checkpoint-1 blocks. A window block's state never changes (unwinds
// stop at the recent tier), so a cached state is keyed by number alone.
// The TTL bounds how long a cached state holds its Pebble snapshot, which
// keeps deleted data from being compacted away: a hit past it rebuilds,
// and each migration step drops expired entries.
const (
	viewCacheEntries = 16
	viewCacheTTL     = 30 * time.Second
)

// sharedView is a rebuilt state that the cache and its callers share: it
// closes when the last of them lets go.
type sharedView struct {
	st      history.State
	refs    atomic.Int32
	expires time.Time
}

// acquire takes a reference unless the view already closed.
func (v *sharedView) acquire() bool {
	for {
		n := v.refs.Load()
		if n == 0 {
			return false
		}
		if v.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (v *sharedView) release() {
	if v.refs.Add(-1) == 0 {
		v.st.Close()
	}
}

// viewHandle is one caller's reference; Close releases it once.
type viewHandle struct {
	history.State
	v    *sharedView
	once sync.Once
}

func (h *viewHandle) Close() error {
	h.once.Do(h.v.release)
	return nil
}

func newViewCache() *lru.Cache[uint64, *sharedView] {
	c, err := lru.NewWithEvict[uint64, *sharedView](viewCacheEntries, func(_ uint64, v *sharedView) { v.release() })
	if err != nil {
		panic(err) // only for a size below 1
	}
	return c
}

// expireViews drops cached states past their TTL.
func (s *Store) expireViews(now time.Time) {
	for _, n := range s.views.Keys() {
		if v, ok := s.views.Peek(n); ok && now.After(v.expires) {
			s.views.Remove(n)
		}
	}
}

// cachedWindowState returns block n's rebuilt state from the cache, or
// rebuilds it (closing snap either way) and caches it.
func (s *Store) cachedWindowState(snap interface{ Close() error }, n uint64, rebuild func() (history.State, error)) (history.State, error) {
	now := time.Now()
	if v, ok := s.views.Get(n); ok && now.After(v.expires) {
		s.views.Remove(n)
	} else if ok && v.acquire() {
		snap.Close()
		s.viewHits.Add(1)
		return &viewHandle{State: v.st, v: v}, nil
	}
	st, err := rebuild()
	if err != nil {
		return nil, err
	}
	v := &sharedView{st: st, expires: now.Add(viewCacheTTL)}
	v.refs.Store(2) // the cache's and the caller's
	s.views.Add(n, v)
	return &viewHandle{State: st, v: v}, nil
}
