package main

import (
	"bufio"
	"context"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/history/store"
	"github.com/strata-chain/strata/sequencer"
)

// TestCatchupCommandSurvivesSIGKILL replays a devnet's datadir into a new
// one with `strata catchup`, killing the child with SIGKILL after a random
// number of committed batches, several times. After every kill the target
// reopens at a batch boundary on the source's chain; the last run finishes,
// and the target then holds exactly the source's bytes.
func TestCatchupCommandSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	src, dst := t.TempDir(), t.TempDir()
	cfg := testNodeConfig(src)
	cfg.Sequencer.BlockTime = 10 * time.Millisecond
	n, err := startNode(context.Background(), cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	runUntil(t, n, func(info sequencer.BlockInfo) bool { return info.Number >= 240 })
	require.NoError(t, n.Close())
	source, err := store.Open(src, store.DefaultConfig(), nil)
	require.NoError(t, err)
	srcHead, err := source.Head()
	require.NoError(t, err)
	want, err := source.Digest()
	require.NoError(t, err)
	require.NoError(t, source.Close()) // the child opens it

	const batch = 8
	run := func(kill bool, rng *rand.Rand) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "STRATA_TEST_MAIN=catchup --source "+src+" --datadir "+dst+
			" --batch-blocks 8 --fetchers 2 --block-time 10ms --progress-interval 0")
		out, err := cmd.StderrPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		sc := bufio.NewScanner(out)
		if kill {
			want, seen := 1+rng.IntN(6), 0
			for seen < want && sc.Scan() {
				if strings.Contains(sc.Text(), `"task":"catch-up"`) {
					seen++
				}
			}
			require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		}
		for sc.Scan() {
		}
		err = cmd.Wait()
		if !kill {
			require.NoError(t, err)
		}
	}
	rng := rand.New(rand.NewPCG(4, 2))
	for round := range 5 {
		run(true, rng)
		s, err := store.Open(dst, store.DefaultConfig(), nil)
		require.NoError(t, err, "round %d: reopen after SIGKILL", round)
		head, err := s.Head()
		require.NoError(t, err)
		require.Zero(t, head.Number%batch, "round %d: head %d is not a batch boundary", round, head.Number)
		h, err := s.HeaderByNumber(head.Number)
		require.NoError(t, err)
		require.Equal(t, head.Hash, h.Hash())
		require.NoError(t, s.Close())
	}
	run(false, nil)
	s, err := store.Open(dst, store.DefaultConfig(), nil)
	require.NoError(t, err)
	defer s.Close()
	head, err := s.Head()
	require.NoError(t, err)
	require.Equal(t, srcHead, head)
	got, err := s.Digest()
	require.NoError(t, err)
	require.Equal(t, want, got, "the replayed datadir holds the source's bytes")
}
