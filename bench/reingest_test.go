package bench

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/history"
)

// tiersOnly is a TierStore that answers only Tiers.
type tiersOnly struct {
	TierStore
	recentEarliest uint64
}

func (s tiersOnly) Tiers() []TierStatus {
	return []TierStatus{{Name: "recent", Earliest: s.recentEarliest}}
}

func TestMigrationBehind(t *testing.T) {
	on := history.Retention{Recent: 64, Window: 1 << 40, Checkpoint: 16}
	tests := []struct {
		name           string
		r              history.Retention
		blocks         uint64
		recentEarliest uint64
		want           uint64
	}{
		{"retention off", history.Retention{}, 200, 0, 0},
		{"head inside the recent tier", on, 64, 0, 0},
		// (200-64)/16*16+1 = 129 is where the recent tier should start.
		{"behind", on, 200, 100, 29},
		{"on time", on, 200, 129, 0},
		{"ahead", on, 200, 145, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, migrationBehind(tiersOnly{recentEarliest: tt.recentEarliest}, tt.r, tt.blocks))
		})
	}
}
