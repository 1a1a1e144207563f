package bench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestReplayResultString(t *testing.T) {
	tests := []struct {
		name string
		res  ReplayResult
		want string
	}{
		{"without CPU", ReplayResult{Blocks: 100, Txs: 5, Elapsed: time.Second, Speed: 20, Prepare: 800 * time.Millisecond, Commit: 500 * time.Millisecond},
			"replayed 100 blocks (5 txs) in 1s: 100.0 blocks/s, 20.0x real time (replay 800ms, commit 500ms, waiting for the source 0s; replay and commit overlap)"},
		{"with CPU", ReplayResult{Blocks: 100, Txs: 5, Elapsed: 2 * time.Second, Speed: 10, CPU: 3 * time.Second, Cores: 2},
			"replayed 100 blocks (5 txs) in 2s: 50.0 blocks/s, 10.0x real time (replay 0s, commit 0s, waiting for the source 0s; replay and commit overlap); CPU 3s = 30ms per block, 1.50 of 2 cores busy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { require.Equal(t, tt.want, tt.res.String()) })
	}
}

func TestProcessCPUAdvances(t *testing.T) {
	before := ProcessCPU()
	if before == 0 {
		t.Skip("process CPU time is not measured on this platform")
	}
	x := uint64(1)
	for start := ProcessCPU(); ProcessCPU()-start < 20*time.Millisecond; {
		for range 100000 {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	require.NotZero(t, x)
	require.Greater(t, ProcessCPU(), before)
}
