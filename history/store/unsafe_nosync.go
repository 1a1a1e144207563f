package store

import "os"

// UnsafeNoSyncEnv names a test-only mutation of the store: with the
// variable set to 1, UnsafeNoSync reports true and whoever opens a store
// through the crash bench's wiring commits every ingest with pebble.NoSync
// (Config.NoSync), skipping the fsync that makes a reported block durable.
// It exists to show that the power-cut test catches a store that skips that
// fsync (it then reports lost blocks); it is off unless set, and nothing
// in a running node reads it.
const UnsafeNoSyncEnv = "STRATA_TEST_UNSAFE_NOSYNC"

// UnsafeNoSync reports whether the test-only mutation UnsafeNoSyncEnv is on.
func UnsafeNoSync() bool { return os.Getenv(UnsafeNoSyncEnv) == "1" }
