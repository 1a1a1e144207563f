package retention

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/history"
)

func TestSpansBlocks(t *testing.T) {
	tests := []struct {
		name    string
		spans   Spans
		bt      time.Duration
		recent  uint64
		window  uint64
		wantErr string
	}{
		{"defaults at 200 ms", DefaultSpans(), 200 * time.Millisecond, 18_000, 3_024_000, ""},
		{"defaults at 2 s", DefaultSpans(), 2 * time.Second, 1_800, 302_400, ""},
		{"off", Spans{}, 200 * time.Millisecond, 0, 0, ""},
		{"recent shorter than an interval", Spans{Recent: time.Second, Checkpoint: 16}, 200 * time.Millisecond, 0, 0, "fewer than one checkpoint interval"},
		{"no block time", DefaultSpans(), 0, 0, 0, "block time"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := tc.spans.Blocks(tc.bt)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.recent, r.Recent)
			require.Equal(t, tc.window, r.Window)
			require.Len(t, r.Pinned, len(tc.spans.Pinned))
		})
	}
}

// stepMigrator hands each Migrate call to the test and returns what the
// test answers.
type stepMigrator struct {
	calls   chan call
	answers chan answer
}

type call struct {
	budget   int
	deadline time.Duration // left on the step's context
}

type answer struct {
	res history.MigrateResult
	err error
}

func (m *stepMigrator) Migrate(ctx context.Context, budget int) (history.MigrateResult, error) {
	dl, ok := ctx.Deadline()
	if !ok {
		return history.MigrateResult{}, errors.New("step without a deadline")
	}
	m.calls <- call{budget: budget, deadline: time.Until(dl)}
	a := <-m.answers
	return a.res, a.err
}

// TestRunAfterCommit: in after-commit mode a step starts only when a block
// commits, is bounded by the slice, survives running out of time, and a
// store error stops the runner with that error.
func TestRunAfterCommit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m := &stepMigrator{calls: make(chan call), answers: make(chan answer)}
	committed := make(chan struct{})
	cfg := Config{Budget: 100, Slice: 30 * time.Second, Pause: time.Hour, Idle: time.Hour, Committed: committed}
	done := make(chan error, 1)
	steps := 0
	go func() {
		done <- Run(ctx, cfg, m, slog.New(slog.DiscardHandler), func(history.MigrateResult, time.Duration) { steps++ })
	}()
	step := func(a answer) call {
		t.Helper()
		select {
		case committed <- struct{}{}:
		case <-ctx.Done():
			t.Fatal("the runner did not wait for a commit")
		}
		var c call
		select {
		case c = <-m.calls:
		case <-ctx.Done():
			t.Fatal("no step after a commit")
		}
		m.answers <- a
		return c
	}
	c := step(answer{res: history.MigrateResult{Thinned: 8, Examined: 100, More: true}})
	require.Equal(t, 100, c.budget)
	require.Greater(t, c.deadline, time.Duration(0))
	require.LessOrEqual(t, c.deadline, 30*time.Second)
	select {
	case <-m.calls:
		t.Fatal("a step started without a commit (Pause is an hour)")
	default:
	}
	step(answer{res: history.MigrateResult{Examined: 40, More: true}, err: context.DeadlineExceeded})
	step(answer{err: errors.New("disk on fire")})
	select {
	case err := <-done:
		require.ErrorContains(t, err, "disk on fire")
	case <-ctx.Done():
		t.Fatal("the runner did not stop on a store error")
	}
	require.Equal(t, 2, steps, "onStep reports steps that examined entries")
}

// TestRunStopsWithContext: cancelling the runner's context ends it without
// an error.
func TestRunStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	m := &stepMigrator{calls: make(chan call), answers: make(chan answer)}
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{Budget: 1, Slice: time.Second, Idle: time.Hour}, m, slog.New(slog.DiscardHandler), nil)
	}()
	timeout := time.After(time.Minute)
	select {
	case <-m.calls: // timer mode: the first step starts at once
	case <-timeout:
		t.Fatal("no first step")
	}
	cancel()
	m.answers <- answer{err: context.Canceled}
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-timeout:
		t.Fatal("the runner did not stop")
	}
}
