package history

import (
	"context"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
)

// Retention sets the tiers, in blocks (DESIGN §4). It is the contract
// between retention, which turns the operator's spans into it, and the
// engine (history/store), which keeps the tiers it describes.
//
// Blocks in the recent tier (the newest Recent blocks, rounded to whole
// checkpoint intervals) keep every trie-node version. Blocks in the window
// tier keep every flat account and slot version and every changeset, but
// trie-node versions only as of each checkpoint (every Checkpoint-th block):
// within an interval (c-C, c] only the newest version of each node
// survives. A proof at a checkpoint reads its nodes directly; one between
// checkpoints is rebuilt in memory from the checkpoint below it and the
// blocks' flat diffs, every rebuilt root checked against its header. Below
// the window only headers and the pinned accounts' full history (their
// flat values, storage tries and the account-trie nodes on their paths)
// survive, so withdrawal proofs work at any age.
type Retention struct {
	Recent     uint64        // 0 keeps every version of every block (retention off)
	Window     uint64        // blocks below the recent tier kept compact; 0: none, the recent tier's edge is also the oldest block
	Checkpoint uint64        // C; the window keeps the trie at every C-th block
	Pinned     []common.Hash // keccak256 of the pinned accounts' addresses
}

// Enabled reports whether retention moves or drops anything.
func (r Retention) Enabled() bool { return r.Recent > 0 }

// Validate checks the spans an engine needs when retention is enabled:
// Checkpoint at least 1 and at most Recent, and at most Window when there
// is a window. A disabled Retention is always valid.
func (r Retention) Validate() error {
	if !r.Enabled() {
		return nil
	}
	if r.Checkpoint == 0 || r.Recent < r.Checkpoint || (r.Window > 0 && r.Window < r.Checkpoint) {
		return fmt.Errorf("retention: checkpoint %d must be at least 1 and at most the recent (%d) and window (%d) spans", r.Checkpoint, r.Recent, r.Window)
	}
	return nil
}

// MigrateResult says what one Migrate call did.
type MigrateResult struct {
	Thinned, Pruned uint64 // blocks moved to the window, and below it
	Deleted         int    // versions deleted
	Examined        int    // changeset entries examined (the unit of budget)
	More            bool   // more work is due now
	Yielded         bool   // the step stopped early because a block started ingesting
}

// Migrator moves a store's blocks down the tiers its Retention sets, in
// steps a caller paces (the retention package runs it in the background).
//
// Invariants every implementation keeps:
//   - Migrate examines at most budget changeset entries per call and
//     returns early, with the work so far, when ctx ends (a caller bounds a
//     step by time with a deadline; the error is then ctx's) or when a
//     block starts ingesting (Yielded): migration uses only the time ingest
//     leaves.
//   - Each unit of work is one atomic batch that also moves the tier
//     boundary or the task's cursor, so a crash or a cancelled step at any
//     point leaves a consistent store, and the next call resumes there.
//   - A version is deleted only when a newer version of the same item
//     exists at or below its interval's checkpoint: reads at any block the
//     tiers still cover see exactly that block's state, and readers and
//     ingest are never blocked by a step.
//   - More reports that work is due now; with More false the tiers are
//     where the head says they should be and a caller may idle. With
//     retention disabled Migrate does nothing and returns a zero result.
//   - Migrate is safe to call concurrently with ingest and reads; calls to
//     Migrate itself are serialised by the implementation.
type Migrator interface {
	Migrate(ctx context.Context, budget int) (MigrateResult, error)
}
