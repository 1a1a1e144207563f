package store

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Config tunes the store.
type Config struct {
	// NodeCacheEntries is the number of trie nodes kept in the hash-keyed
	// LRU cache shared by all readers.
	NodeCacheEntries int
	// BlockCacheBytes is Pebble's block cache size.
	BlockCacheBytes int64
	// NoSync skips the fsync on each ingest commit (tests and bulk loads
	// only: a crash may then lose the newest blocks, never consistency).
	NoSync bool
	// FS overrides the file system (tests use vfs.NewMem or a crashable FS).
	FS vfs.FS
	// Retention sets the tiers; the zero value keeps everything.
	Retention Retention
}

// DefaultConfig is the configuration `strata run` uses unless told otherwise.
func DefaultConfig() Config {
	return Config{
		NodeCacheEntries: 256 << 10,
		BlockCacheBytes:  256 << 20,
	}
}

// Validate reports every problem with the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.NodeCacheEntries < 0 {
		errs = append(errs, fmt.Errorf("node cache entries must not be negative, got %d", c.NodeCacheEntries))
	}
	if c.BlockCacheBytes < 0 {
		errs = append(errs, fmt.Errorf("block cache bytes must not be negative, got %d", c.BlockCacheBytes))
	}
	if err := c.Retention.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
