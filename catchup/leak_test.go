package catchup

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine they started is still
// running when they end: the fetch, replay and commit stages of the
// pipeline stop when it ends.
// No library goroutine outlives these tests, so nothing is ignored.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
