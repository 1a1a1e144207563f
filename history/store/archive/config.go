package archive

import (
	"errors"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Config is the v2 store's configuration.
type Config struct {
	// FS is the file system (nil: the operating system's); tests give a
	// crashable or fault-injecting one.
	FS vfs.FS
	// NoSync skips fsyncs (tests and benchmarks of CPU only); a crash may
	// then lose reported blocks.
	NoSync bool
	// Recent is how many blocks below the head every state is held
	// (0: every block ever ingested).
	Recent uint64
	// BlocksPerFile is the history log's file size in blocks; pruning
	// deletes whole files.
	BlocksPerFile uint64
	// FullEvery is k: a node's change is written as a full copy when
	// block mod k equals the node's phase, so a chain of diffs is at most
	// k long for a node that changes every block.
	FullEvery uint64
	// Layers is how many of the newest blocks stay in memory as diff
	// layers (at least the deepest reorg the follower unwinds), and
	// FlushEvery how many more accumulate before one aggregated flush.
	Layers, FlushEvery uint64
	// BlockCacheBytes is Pebble's block cache; CleanCacheBytes the cache
	// of disk-layer trie nodes.
	BlockCacheBytes, CleanCacheBytes int64
}

// DefaultConfig is the configuration the node runs with.
func DefaultConfig() Config {
	return Config{
		Recent:          18000,
		BlocksPerFile:   512,
		FullEvery:       16,
		Layers:          64,
		FlushEvery:      64,
		BlockCacheBytes: 512 << 20,
		CleanCacheBytes: 256 << 20,
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.BlocksPerFile == 0:
		return errors.New("blocks per history file must be positive")
	case c.FullEvery == 0:
		return errors.New("full copy interval must be positive")
	case c.Layers == 0:
		return errors.New("diff layers held must be positive")
	case c.FlushEvery == 0:
		return errors.New("flush interval must be positive")
	}
	return nil
}
