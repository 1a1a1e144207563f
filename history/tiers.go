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

// TierBounds is where a store's tiers stand: what a TierPolicy decides
// from. Recent is the recent tier's first block (every block at or above it
// keeps every version; 0 before any interval moved), Oldest the oldest block
// with full state (blocks below it keep only headers and pinned history),
// Head the newest block. A store keeps Oldest <= Recent <= Head+1.
type TierBounds struct {
	Head, Recent, Oldest uint64
}

// TierTask is one step down the tiers, a whole checkpoint interval (or,
// for Prune, a run of them) that an engine moves in one task:
//   - a thinning (Prune false) moves blocks From..To, with From the recent
//     tier's first block (1 while it is 0) and To = From+Checkpoint-1 the
//     interval's checkpoint, into the window: the recent tier then starts
//     at To+1, and within the interval only each node's newest version up
//     to To survives;
//   - a pruning (Prune true) moves blocks From..To-1, with From the oldest
//     block, below the window: To, a checkpoint below the recent tier,
//     becomes the oldest block, and only headers and pinned history of the
//     blocks below it survive.
type TierTask struct {
	Prune    bool
	From, To uint64
}

// String names the task in errors and logs.
func (t TierTask) String() string {
	if t.Prune {
		return fmt.Sprintf("prune blocks %d up to the new oldest block %d", t.From, t.To)
	}
	return fmt.Sprintf("thin blocks %d-%d (checkpoint %d)", t.From, t.To, t.To)
}

// TierPolicy decides how a store's blocks move down the tiers: which task
// is due, and which accounts keep their full history below the window. The
// retention package implements it from the operator's spans; an engine
// (history/store) asks it and only carries tasks out, so the schedule lives
// in one place.
//
// Invariants every implementation keeps:
//   - Due is a pure function of the bounds (and of the policy's own fixed
//     settings): the same bounds name the same task, so a store that asks
//     again after a crash, before or after starting a task, is told the
//     same thing; once an engine has started a task (moved the boundary)
//     it finishes it from its own cursor without asking again.
//   - A task starts at its tier's boundary (a thinning at max(Recent, 1), a
//     pruning at Oldest) and covers whole checkpoint intervals of the
//     engine's Retention.Checkpoint: a thinning exactly one, a pruning one
//     or more ending on a checkpoint.
//   - A task never crosses the head or the tier above: a thinning ends
//     below Head (the head stays in the recent tier), a pruning ends below
//     Recent (the window keeps at least the checkpoint To).
//   - Due reports false when the tiers are where they should be; a caller
//     then idles until the head moves.
//   - Pinned is fixed for the policy's life: the keccak256 hashes of the
//     addresses whose flat values, storage tries and account-trie paths
//     keep every version below the window (withdrawal proofs at any age).
//
// An engine checks each task it is given against its bounds and refuses
// one that breaks these invariants with an error; it never guesses.
type TierPolicy interface {
	Due(TierBounds) (TierTask, bool)
	Pinned() []common.Hash
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
