package stream

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine they started is still
// running when they end: the gRPC servers, streams and clients stop when
// the tests close them.
// No library goroutine outlives these tests, so nothing is ignored.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
