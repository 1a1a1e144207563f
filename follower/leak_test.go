package follower

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine they started is still
// running when they end: the follower's Run, its prefetches, the stream
// client and the JSON-RPC clients must all stop with the tests that started
// them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// go-ethereum's process-wide pool that recovers transaction senders
		// (core.SenderCacher): started once on first use, never stopped.
		goleak.IgnoreTopFunction("github.com/ethereum/go-ethereum/core.(*txSenderCacher).cache"),
	)
}
