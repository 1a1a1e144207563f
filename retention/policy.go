package retention

import (
	"github.com/ethereum/go-ethereum/common"

	"github.com/strata-chain/strata/history"
)

// Policy is the tier schedule (DESIGN §4): a history.TierPolicy over the
// spans of a history.Retention, in blocks. It is the only copy of the
// schedule; the store asks it which task is due and carries the task out.
//
// The schedule, for head h, spans Recent and Window and checkpoint C:
//   - the recent tier keeps at least Recent blocks and gives up whole
//     intervals (c-C, c], so its first block moves, one interval per task,
//     up to (h-Recent)/C*C + 1;
//   - then the oldest block moves, one interval per task, up to the
//     checkpoint at or below recent-Window (with no window, to the
//     checkpoint just below the recent tier: the window is that one block).
//
// Thinnings come first: a pruning is named only when no thinning is due.
// A Policy over a disabled Retention (or one with no checkpoint) names no
// task.
type Policy struct {
	r history.Retention
}

// NewPolicy returns the schedule for r's spans and pins. It does not
// validate r: the store validates the Retention it is configured with, and
// a Policy whose spans cannot schedule anything names no task.
func NewPolicy(r history.Retention) Policy {
	r.Pinned = append([]common.Hash(nil), r.Pinned...) // fixed for the policy's life
	return Policy{r: r}
}

var _ history.TierPolicy = Policy{}

// Pinned returns the pinned accounts' address hashes (Retention.Pinned).
func (p Policy) Pinned() []common.Hash { return append([]common.Hash(nil), p.r.Pinned...) }

// Due returns the next task for the bounds b, false when the tiers are
// where they should be.
func (p Policy) Due(b history.TierBounds) (history.TierTask, bool) {
	r := p.r
	C := r.Checkpoint
	if !r.Enabled() || C == 0 {
		return history.TierTask{}, false
	}
	// The recent tier keeps at least Recent blocks; it gives up whole
	// intervals (c-C, c], so the new boundary is c+1 for a checkpoint c.
	recentTarget := uint64(0)
	if b.Head > r.Recent {
		recentTarget = (b.Head-r.Recent)/C*C + 1
	}
	// The interval recent..recent+C-1 goes when the boundary after it,
	// recent+C, is at or below the target: then it is at most
	// h-Recent+1, so the head stays in the recent tier.
	recent := max(b.Recent, 1) // block 0 is a checkpoint; nothing below it
	if recent+C <= recentTarget {
		return history.TierTask{From: recent, To: recent + C - 1}, true
	}
	// No window: the recent tier's lower edge is also the oldest block.
	oldestTarget := b.Recent - min(b.Recent, 1)
	if r.Window > 0 {
		oldestTarget = 0
		if b.Recent > r.Window {
			oldestTarget = b.Recent - r.Window
		}
	}
	oldestTarget = oldestTarget / C * C
	if b.Oldest < oldestTarget {
		to := (b.Oldest + C) / C * C // the next checkpoint: oldest stays one
		return history.TierTask{Prune: true, From: b.Oldest, To: min(to, oldestTarget)}, true
	}
	return history.TierTask{}, false
}
