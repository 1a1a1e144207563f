package catchup

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/history/historytest"
	"github.com/strata-chain/strata/history/replay"
	"github.com/strata-chain/strata/history/store"
)

const (
	crashDirEnv  = "STRATA_CATCHUP_CRASH_DIR"
	crashSeedEnv = "STRATA_CATCHUP_CRASH_SEED"
	crashBlocks  = 4000
	crashRun     = 37 // blocks per batch
)

// TestCatchupCrashChild is the child of TestCatchupCrash: it catches a store
// up on the deterministic chain in batches, printing each committed head.
func TestCatchupCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("run by TestCatchupCrash")
	}
	seed, _ := strconv.ParseUint(os.Getenv(crashSeedEnv), 10, 64)
	ctx := context.Background()
	s, err := store.Open(dir, store.DefaultConfig(), nil)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	g := historytest.NewChain(seed)
	next := uint64(0)
	if h, err := s.Head(); err == nil {
		next = h.Number + 1
	}
	for range next {
		g.Next()
	}
	if next == 0 {
		if err := s.Ingest(ctx, g.Next()); err != nil {
			fmt.Println("genesis:", err)
			os.Exit(3)
		}
		next = 1
	}
	for next < crashBlocks {
		run := make([]*history.BlockUpdate, min(crashRun, crashBlocks-next))
		for i := range run {
			run[i] = g.Next()
		}
		base, err := s.StateAt(next - 1)
		if err == nil {
			err = replay.Prepare(ctx, base, run, 2)
			base.Close()
		}
		if err == nil {
			err = s.IngestBatch(ctx, run)
		}
		if err != nil {
			fmt.Println("catch-up:", err)
			os.Exit(4)
		}
		next += uint64(len(run))
		fmt.Println("committed", next-1)
	}
	os.Exit(0)
}

// TestCatchupCrash kills a catching-up child with SIGKILL at random moments.
// After every kill the store reopens at the end of a committed batch and
// holds exactly what a store fed block by block up to that head holds; the
// next child resumes from there.
func TestCatchupCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	seed := *seedFlag
	t.Logf("seed %d (rerun with -seed=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 77))
	dir := t.TempDir()
	ctx := context.Background()
	ref, err := store.OpenMem(store.DefaultConfig())
	require.NoError(t, err)
	defer ref.Close()
	g := historytest.NewChain(seed)
	refHead := int64(-1)
	for round := range 8 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCatchupCrashChild$", "-test.v=false")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashSeedEnv+"="+strconv.FormatUint(seed, 10))
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		want, seen := 1+rng.IntN(4), 0
		sc := bufio.NewScanner(out)
		for seen < want && sc.Scan() {
			if strings.HasPrefix(sc.Text(), "committed") {
				seen++
			}
		}
		require.Equal(t, want, seen, "round %d: child stopped early (last line %q)", round, sc.Text())
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		_ = cmd.Wait()

		s, err := store.Open(dir, store.DefaultConfig(), nil)
		require.NoError(t, err, "round %d: reopen after SIGKILL", round)
		head, err := s.Head()
		require.NoError(t, err)
		require.Zero(t, head.Number%crashRun, "round %d: head %d is not the end of a batch", round, head.Number)
		for refHead < int64(head.Number) {
			require.NoError(t, ref.Ingest(ctx, g.Next()))
			refHead++
		}
		require.Equal(t, g.Headers[head.Number].Hash(), head.Hash)
		d1, err := ref.Digest()
		require.NoError(t, err)
		d2, err := s.Digest()
		require.NoError(t, err)
		require.Equal(t, d1, d2, "round %d: the caught-up store differs from the per-block one at head %d", round, head.Number)
		require.NoError(t, s.Close())
	}
}
