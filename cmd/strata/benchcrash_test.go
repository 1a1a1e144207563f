package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/bench"
)

// TestBenchCrashSIGKILL is `strata bench crash` in short: this binary's
// run and catchup commands as children, killed with SIGKILL three times
// each. Every reopened store must pass every check (reported blocks held,
// consistent, proving, the replica's digest).
func TestBenchCrashSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	cfg := bench.DefaultCrashConfig()
	cfg.Kills, cfg.Scenario, cfg.Seed, cfg.DataDir = 6, "all", 5, t.TempDir()
	cfg.MaxDelay, cfg.SourceBlocks = 2*time.Second, 120
	cfg.Spans.Window = 3 * time.Second // 30 blocks: pruning runs within the few kills
	cfg.Command = func(args []string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "STRATA_TEST_MAIN="+strings.Join(args, " "))
		return cmd
	}
	cfg.Open, cfg.CopyGenesis = openCrashStore, copyCrashGenesis
	rep, err := bench.Crash(context.Background(), cfg)
	require.NoError(t, err)
	t.Logf("\n%s", rep.Table())
	require.NoError(t, rep.Err())
	require.Equal(t, 6, rep.Kills)
	require.Positive(t, rep.BlocksChecked)
	require.Positive(t, rep.ProofsChecked)
}

// TestBenchCrashRefusesBadFlags: a bad scenario or a missing datadir is a
// clear error, not a run.
func TestBenchCrashRefusesBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--kills", "1", "--scenario", "flush", "--datadir", t.TempDir()}, `scenario "flush"`},
		{[]string{"--kills", "1"}, "--datadir is required"},
		{[]string{"--kills", "0", "--datadir", t.TempDir()}, "kills, max delay and block time must be positive"},
	} {
		cmd := newBenchCrashCmd()
		cmd.SetArgs(tc.args)
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		err := cmd.ExecuteContext(context.Background())
		require.ErrorContains(t, err, tc.want, "%v", tc.args)
	}
}
