package main

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/bench"
)

func TestProfilePath(t *testing.T) {
	for in, want := range map[string]string{
		"base-like":                 filepath.Join("configs", "profiles", "base-like.yaml"),
		"devnet":                    filepath.Join("configs", "profiles", "devnet.yaml"),
		"my.yaml":                   "my.yaml",
		"../../configs/devnet.yaml": "../../configs/devnet.yaml",
	} {
		require.Equal(t, want, profilePath(in), in)
	}
}

// TestBenchSoakShort runs the whole soak for about 20 s at the devnet
// profile, the source and the follower as child processes of the test
// binary: it checks that the report is written and that the sampling
// reads every figure from both processes, not the performance thresholds
// (a shared test machine cannot hold those).
func TestBenchSoakShort(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two strata processes for about 20 s")
	}
	out := t.TempDir()
	o := benchSoakOptions{
		profile: "../../configs/profiles/devnet.yaml", blockTime: 200 * time.Millisecond,
		duration: 10 * time.Second, warmup: 2 * time.Second, readyWait: 20 * time.Second, victimAlone: 4 * time.Second,
		clients: []int{1, 2}, rate: 5, victimRate: 5, inFlight: 4, setupTimeout: time.Minute,
		contract: "../../configs/contract.yaml", out: out, datadir: filepath.Join(t.TempDir(), "stores"),
		overrides: bench.NoOverrides,
		command: func(args []string) *exec.Cmd {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "STRATA_TEST_MAIN="+strings.Join(args, " "))
			return cmd
		},
	}
	rep, err := benchSoak(context.Background(), o, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.Empty(t, rep.Aborted)

	md, err := rep.Write(out)
	require.NoError(t, err)
	text, err := os.ReadFile(md)
	require.NoError(t, err)
	require.Contains(t, string(text), "# strata bench soak: devnet @ 200ms")
	for _, suffix := range []string{"lag", "proof", "rss", "goroutines"} {
		require.FileExists(t, strings.TrimSuffix(md, ".md")+"-"+suffix+".png")
	}
	require.FileExists(t, strings.TrimSuffix(md, ".md")+".json")
	for _, log := range []string{"source.log", "follower.log"} {
		raw, err := os.ReadFile(filepath.Join(out, log))
		require.NoError(t, err)
		require.Contains(t, string(raw), "Strata is serving", log)
	}

	// The phases: the victim alone, then 1 and 2 clients, all answered and verified.
	require.Len(t, rep.Phases, 3)
	for _, ph := range rep.Phases {
		require.Positive(t, ph.Victim.Count, "victim in the %d-client phase", ph.Clients)
		if ph.Clients > 0 {
			require.Positive(t, ph.Load.Count, "%d-client phase", ph.Clients)
		}
	}
	require.Positive(t, rep.Verified)
	require.Zero(t, rep.VerifyFailed, rep.FirstVerifyError)

	// The sampling read every figure of both processes, and the follower
	// followed. RSS comes from /proc and is read at every sample; the HTTP
	// figures may time out on a loaded machine, so each must have been read
	// at least once.
	require.GreaterOrEqual(t, len(rep.Samples), 8)
	var status, ready, goroutines, srcStatus, srcGoroutines int
	var first, last uint64
	for _, s := range rep.Samples {
		require.Positive(t, s.Follower.RSS, "follower RSS at %s", s.At)
		require.Positive(t, s.Source.RSS, "source RSS at %s", s.At)
		if s.Follower.StatusOK {
			status++
			if first == 0 {
				first = s.Follower.Head
			}
			last = s.Follower.Head
		}
		if s.Follower.Readyz == 200 || s.Follower.Readyz == 503 {
			ready++
		}
		if s.Follower.Goroutines > 0 {
			goroutines++
		}
		if s.Source.StatusOK && s.Source.Head > 0 {
			srcStatus++
		}
		if s.Source.Goroutines > 0 {
			srcGoroutines++
		}
	}
	for name, n := range map[string]int{"follower status": status, "follower readyz": ready, "follower goroutines": goroutines,
		"source status": srcStatus, "source goroutines": srcGoroutines} {
		require.Positive(t, n, name)
	}
	require.Greater(t, last, first, "the follower's head moved")
	require.Positive(t, rep.RSSTrend.Points)
	require.Positive(t, rep.GoroutineTrend.Points)
	require.GreaterOrEqual(t, len(rep.Verdicts), 7)
	require.Contains(t, rep.VerdictLines(), "follower /readyz never 503")
}
