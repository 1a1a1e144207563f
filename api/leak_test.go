package api

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine they started is still
// running when they end: the rpc and HTTP servers, proof permits and waits
// for future blocks must all stop with the tests that started them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// go-ethereum's process-wide pool that recovers transaction senders
		// (core.SenderCacher): started once on first use, never stopped.
		goleak.IgnoreTopFunction("github.com/ethereum/go-ethereum/core.(*txSenderCacher).cache"),
		// The in-memory LevelDB of the p2p node database of go-ethereum's
		// simulated backend (the geth-compatibility chain): after Close it
		// waits up to a second for its memory pool, longer than goleak's
		// retries.
		goleak.IgnoreTopFunction("github.com/syndtr/goleveldb/leveldb.(*DB).mpoolDrain"),
	)
}
