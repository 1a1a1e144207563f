package bench

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/api/slo"
)

func TestRecoveryDir(t *testing.T) {
	// No --datadir: a temporary directory that the cleanup removes.
	dir, cleanup, err := recoveryDir("")
	require.NoError(t, err)
	require.DirExists(t, dir)
	cleanup()
	require.NoDirExists(t, dir)

	// An empty --datadir is used and kept.
	keep := t.TempDir()
	dir, cleanup, err = recoveryDir(keep)
	require.NoError(t, err)
	require.Equal(t, keep, dir)
	cleanup()
	require.DirExists(t, keep)

	// A --datadir holding anything is refused.
	require.NoError(t, os.WriteFile(filepath.Join(keep, "x"), nil, 0o644))
	_, _, err = recoveryDir(keep)
	require.ErrorContains(t, err, "is not empty")
}

// TestRecovered judges recovery from the SLO monitor's state, on a fake
// clock.
func TestRecovered(t *testing.T) {
	t0 := time.Unix(1000, 0)
	contract := DefaultContract()
	obj := slo.Objectives{MaxLagBlocks: uint64(contract.MaxLagBlocks), MaxLag: contract.MaxLag, IngestP99: contract.IngestP99,
		Window: time.Minute, HoldDown: contract.SLOHoldDown}
	late := time.Second + contract.SLOHoldDown + time.Minute + time.Millisecond
	tests := []struct {
		name             string
		chainLive        bool
		upstream, head   uint64
		ingest           time.Duration
		moved, level     bool
		timeToSLO, now   time.Duration // TimeToSLO before the call, and now
		done             bool
		wantSLO, wantRdy time.Duration
		notReady         string
	}{
		{name: "ready", chainLive: true, upstream: 10, head: 10, ingest: time.Millisecond, moved: true, now: time.Second,
			done: true, wantSLO: time.Second, wantRdy: time.Second},
		{name: "lag outside", chainLive: true, upstream: 40, head: 10, ingest: time.Millisecond, moved: true, now: time.Second},
		{name: "head not moved", chainLive: true, upstream: 10, head: 10, ingest: time.Millisecond, now: time.Second},
		{name: "stopped chain caught up", upstream: 40, head: 40, ingest: time.Second, moved: true, level: true, now: 2 * time.Second,
			done: true, wantSLO: 2 * time.Second, wantRdy: 2 * time.Second},
		{name: "ingest stays out", chainLive: true, upstream: 10, head: 10, ingest: time.Second, moved: true, timeToSLO: time.Second, now: late,
			done: true, wantSLO: time.Second, notReady: "ingest"},
		{name: "head not moved, late", chainLive: true, upstream: 10, head: 10, ingest: time.Millisecond, timeToSLO: time.Second, now: late,
			done: true, wantSLO: time.Second, notReady: "not past the outage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mon := slo.New(obj, func() time.Time { return t0 })
			mon.Upstream(tt.upstream, t0)
			mon.Committed(tt.head, tt.ingest)
			r := &outageRun{cfg: CatchupConfig{ChainLive: tt.chainLive}, contract: contract, mon: mon}
			rec := &Recovery{TimeToSLO: tt.timeToSLO}
			require.Equal(t, tt.done, r.recovered(rec, tt.now, tt.moved, tt.level))
			require.Equal(t, tt.wantSLO, rec.TimeToSLO)
			require.Equal(t, tt.wantRdy, rec.TimeToReady)
			if tt.notReady == "" {
				require.Empty(t, rec.NotReady)
			} else {
				require.Contains(t, rec.NotReady, tt.notReady)
			}
		})
	}
}
