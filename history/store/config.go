package store

import (
	"errors"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/ethereum/go-ethereum/common"

	"github.com/strata-chain/strata/history"
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
	// Retention sets the tiers; the zero value keeps everything. The store
	// reads from it whether retention is on and the checkpoint interval
	// (window reads rebuild from the checkpoint below; each task is checked
	// to be one interval). Its spans and pins are the policy's input: when
	// Pinned is set it must name the accounts the policy pins.
	Retention Retention
	// Policy is the tier schedule the store asks which task is due and
	// which accounts are pinned (retention.NewPolicy builds it from the
	// same Retention). Required when Retention is enabled; ignored
	// otherwise.
	Policy history.TierPolicy
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
	if c.Retention.Enabled() {
		if c.Policy == nil {
			errs = append(errs, fmt.Errorf("retention is enabled (recent tier %d blocks) but no tier policy is set: set Config.Policy (retention.NewPolicy builds it from the same Retention)", c.Retention.Recent))
		} else if len(c.Retention.Pinned) > 0 && !samePins(c.Retention.Pinned, c.Policy.Pinned()) {
			errs = append(errs, fmt.Errorf("retention pins %d accounts and the tier policy %d, not the same ones: build the policy from the same Retention", len(c.Retention.Pinned), len(c.Policy.Pinned())))
		}
	}
	return errors.Join(errs...)
}

// samePins reports whether a and b name the same accounts, in any order.
func samePins(a, b []common.Hash) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.SortFunc(x, common.Hash.Cmp)
	slices.SortFunc(y, common.Hash.Cmp)
	return slices.Equal(slices.Compact(x), slices.Compact(y))
}
