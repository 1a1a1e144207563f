package bench

import (
	"context"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/history/store"
	"github.com/strata-chain/strata/retention"
)

// openCrashStore opens the real store on fs for the power-cut loop, with
// the test-only fsync mutation applied when its variable is set (the same
// wiring cmd/strata gives `strata bench crash --powercut`).
func openCrashStore(fs vfs.FS, dir string, r history.Retention) (CrashStore, error) {
	cfg := store.DefaultConfig()
	cfg.FS = fs
	cfg.NodeCacheEntries = 1 // reads go to Pebble: a lost node cannot hide in the cache
	cfg.NoSync = store.UnsafeNoSync()
	if r.Enabled() {
		cfg.Retention, cfg.Policy = r, retention.NewPolicy(r)
	}
	return store.Open(dir, cfg, nil)
}

// TestPowerCut cuts the power 50 times while a store ingests and migrates
// with tiny tiers: every reopened clone holds every reported block, is
// consistent, proves, and has the digest of a store fed the same blocks.
// With the store's ingest fsync mutated away, the same loop must report
// lost blocks: the check can fail.
func TestPowerCut(t *testing.T) {
	if testing.Short() {
		t.Skip("100 power cuts and their checks take tens of seconds: make test runs them")
	}
	for _, tc := range []struct {
		name   string
		nosync bool
	}{
		{"synced", false},
		{"mutation: ingest skips the fsync", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.nosync {
				t.Setenv(store.UnsafeNoSyncEnv, "1")
			}
			rep, err := PowerCut(context.Background(), PowerCutConfig{
				Cuts: 50, Seed: 7, MaxBlocks: 12, Retention: PowerCutRetention(7), Open: openCrashStore,
			})
			require.NoError(t, err)
			t.Logf("\n%s", rep.Table())
			require.Equal(t, 50, rep.Kills)
			require.Equal(t, 50, rep.DigestsCompared)
			if !tc.nosync {
				require.NoError(t, rep.Err())
				require.Positive(t, rep.ProofsChecked)
				return
			}
			require.Positive(t, rep.LostBlocks, "a store that skips the fsync loses reported blocks to a power cut")
			require.Zero(t, rep.ReopenFailures+rep.Inconsistencies+rep.ProofFailures+rep.DigestMismatches,
				"losing the unsynced tail still leaves a consistent store: %v", rep.Problems)
		})
	}
}
