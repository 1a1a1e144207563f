package retention

import (
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/history"
)

// TestPolicyDue: the schedule names, for given bounds, the next interval to
// thin or prune, or nothing.
func TestPolicyDue(t *testing.T) {
	spans := history.Retention{Recent: 40, Window: 96, Checkpoint: 8}
	noWindow := history.Retention{Recent: 16, Checkpoint: 8}
	tight := history.Retention{Recent: 1, Checkpoint: 1}
	thin := func(from, to uint64) *history.TierTask { return &history.TierTask{From: from, To: to} }
	prune := func(from, to uint64) *history.TierTask { return &history.TierTask{Prune: true, From: from, To: to} }
	tests := []struct {
		name string
		r    history.Retention
		b    history.TierBounds
		want *history.TierTask // nil: nothing is due
	}{
		{"empty store", spans, history.TierBounds{}, nil},
		{"recent tier not yet over its span", spans, history.TierBounds{Head: 47}, nil},
		{"first interval once Recent blocks sit above it", spans, history.TierBounds{Head: 48}, thin(1, 8)},
		{"next interval from the boundary", spans, history.TierBounds{Head: 200, Recent: 9}, thin(9, 16)},
		{"recent tier keeps Recent blocks, no window to prune yet", spans, history.TierBounds{Head: 55, Recent: 9}, nil},
		{"recent tier in place: prune from block 0", spans, history.TierBounds{Head: 200, Recent: 161}, prune(0, 8)},
		{"prune the next interval", spans, history.TierBounds{Head: 200, Recent: 161, Oldest: 56}, prune(56, 64)},
		{"window in place", spans, history.TierBounds{Head: 200, Recent: 161, Oldest: 64}, nil},
		{"thinning comes before pruning", spans, history.TierBounds{Head: 300, Recent: 161, Oldest: 0}, thin(161, 168)},
		{"oldest off a checkpoint moves to the next one", spans, history.TierBounds{Head: 200, Recent: 161, Oldest: 60}, prune(60, 64)},
		{"no window: prune up to the recent tier's checkpoint", noWindow, history.TierBounds{Head: 100, Recent: 81, Oldest: 72}, prune(72, 80)},
		{"no window, in place", noWindow, history.TierBounds{Head: 100, Recent: 81, Oldest: 80}, nil},
		{"one-block intervals keep the head", tight, history.TierBounds{Head: 10, Recent: 9}, thin(9, 9)},
		{"one-block intervals, recent tier is the head", tight, history.TierBounds{Head: 10, Recent: 10, Oldest: 8}, prune(8, 9)},
		{"retention off", history.Retention{}, history.TierBounds{Head: 1000}, nil},
		{"no checkpoint", history.Retention{Recent: 16}, history.TierBounds{Head: 1000}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := NewPolicy(tc.r).Due(tc.b)
			if tc.want == nil {
				require.False(t, ok, "nothing is due, got %s", got)
				return
			}
			require.True(t, ok, "want %s", *tc.want)
			require.Equal(t, *tc.want, got)
		})
	}
}

// TestPolicyWalk applies the schedule's tasks as a store would, block by
// block up to a head of 2,000, and checks history.TierPolicy's invariants
// at every step and where the tiers settle: the recent tier keeps at least
// Recent blocks and gives up whole intervals, the oldest block is the
// checkpoint at or below recent-Window (or just below the recent tier).
func TestPolicyWalk(t *testing.T) {
	for _, r := range []history.Retention{
		{Recent: 40, Window: 96, Checkpoint: 8},
		{Recent: 16, Checkpoint: 8},
		{Recent: 1, Window: 3, Checkpoint: 1},
		{Recent: 33, Window: 17, Checkpoint: 16},
		{Recent: 18_000, Window: 1 << 20, Checkpoint: 16},
	} {
		p := NewPolicy(r)
		C := r.Checkpoint
		var b history.TierBounds
		for b.Head = 0; b.Head <= 2000; b.Head++ {
			for range 1000 {
				task, ok := p.Due(b)
				if !ok {
					break
				}
				again, _ := p.Due(b)
				require.Equal(t, task, again, "%+v at %+v: the same bounds name the same task", r, b)
				if task.Prune {
					require.Equal(t, b.Oldest, task.From, "%+v at %+v: %s starts at the oldest block", r, b, task)
					require.Greater(t, task.To, task.From)
					require.Zero(t, task.To%C, "%+v at %+v: %s ends on a checkpoint", r, b, task)
					require.Less(t, task.To, b.Recent, "%+v at %+v: %s stays below the recent tier", r, b, task)
					b.Oldest = task.To
					continue
				}
				require.Equal(t, max(b.Recent, 1), task.From, "%+v at %+v: %s starts at the recent tier", r, b, task)
				require.Equal(t, task.From+C-1, task.To, "%+v at %+v: %s is one interval", r, b, task)
				require.Zero(t, task.To%C)
				require.Less(t, task.To, b.Head, "%+v at %+v: %s keeps the head in the recent tier", r, b, task)
				b.Recent = task.To + 1
			}
			_, ok := p.Due(b)
			require.False(t, ok, "%+v at %+v: the walk settles", r, b)
			if b.Recent == 0 {
				require.LessOrEqual(t, b.Head, r.Recent+C-1, "%+v: nothing moved at head %d", r, b.Head)
				continue
			}
			kept := b.Head - b.Recent + 1
			require.GreaterOrEqual(t, kept, r.Recent, "%+v at %+v: the recent tier keeps Recent blocks", r, b)
			require.Less(t, kept, r.Recent+C, "%+v at %+v: and gives up whole intervals", r, b)
			want := b.Recent - 1
			if r.Window > 0 {
				want = b.Recent - min(b.Recent, r.Window)
			}
			require.Equal(t, want/C*C, b.Oldest, "%+v at %+v: the oldest block", r, b)
		}
	}
}

// TestPolicyPinned: the policy pins what the Retention pins, and a caller
// changing either slice afterwards changes neither the policy nor the
// Retention.
func TestPolicyPinned(t *testing.T) {
	a, b := common.HexToHash("0xa"), common.HexToHash("0xb")
	r := history.Retention{Recent: 16, Checkpoint: 8, Pinned: []common.Hash{a, b}}
	p := NewPolicy(r)
	require.Equal(t, []common.Hash{a, b}, p.Pinned())
	r.Pinned[0] = common.Hash{}
	got := p.Pinned()
	got[1] = common.Hash{}
	require.Equal(t, []common.Hash{a, b}, p.Pinned())
	require.Empty(t, NewPolicy(history.Retention{}).Pinned())
}
