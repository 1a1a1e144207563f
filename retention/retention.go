package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/strata-chain/strata/history"
)

// Spans are the tiers as an operator writes them.
type Spans struct {
	Recent     time.Duration    // every node version (default 1h)
	Window     time.Duration    // compact history below it (default 168h)
	Checkpoint uint64           // the window keeps the trie every Checkpoint blocks
	Pinned     []common.Address // full history forever (default the L2ToL1MessagePasser)
}

// MessagePasser is the OP Stack's L2ToL1MessagePasser predeploy.
var MessagePasser = common.HexToAddress("0x4200000000000000000000000000000000000016")

// DefaultSpans are DESIGN §5's defaults.
func DefaultSpans() Spans {
	return Spans{Recent: time.Hour, Window: 168 * time.Hour, Checkpoint: 16, Pinned: []common.Address{MessagePasser}}
}

// Blocks converts the spans at block time bt. A zero Recent keeps every
// version forever.
func (s Spans) Blocks(bt time.Duration) (history.Retention, error) {
	if bt <= 0 {
		return history.Retention{}, fmt.Errorf("retention: block time %s", bt)
	}
	r := history.Retention{Recent: uint64(s.Recent / bt), Window: uint64(s.Window / bt), Checkpoint: s.Checkpoint}
	for _, a := range s.Pinned {
		r.Pinned = append(r.Pinned, crypto.Keccak256Hash(a[:]))
	}
	if s.Recent > 0 && r.Recent < r.Checkpoint {
		return r, fmt.Errorf("retention: recent span %s is %d blocks, fewer than one checkpoint interval (%d)", s.Recent, r.Recent, r.Checkpoint)
	}
	return r, nil
}

// Migrator is what Run drives: history.Migrator, whose invariants (a step
// bounded by its budget and ctx, each batch atomic, never blocking ingest
// or reads) are what lets Run call it on a timer beside ingest.
type Migrator = history.Migrator

// Config paces the background work.
type Config struct {
	Budget int           // changeset entries per step at most
	Slice  time.Duration // time per step at most (the store works in small batches and checks it between them)
	Pause  time.Duration // between steps while work remains (timer mode)
	Idle   time.Duration // between checks when there is nothing to do
	// Committed, when set, receives a value after each ingested block;
	// steps then start right after a commit, in the idle part of the slot,
	// instead of on a timer that may land on the next block's ingest. Idle
	// still bounds the wait, so work goes on when no block comes.
	Committed <-chan struct{}
}

// DefaultConfig lets a step use at most one slot at block time bt; the
// store ends a step early when the next block starts ingesting, so in
// after-commit mode migration fills the idle part of each slot. (A step
// capped at a quarter slot fell behind at the base-like profile: a block's
// thinning examines ~4,500 entries.)
func DefaultConfig(bt time.Duration) Config {
	return Config{Budget: 1 << 30, Slice: max(bt, 5*time.Millisecond), Pause: max(bt/4, 5*time.Millisecond), Idle: time.Second}
}

// Run migrates until ctx ends; it returns nil then, or the first error.
func Run(ctx context.Context, cfg Config, m Migrator, log *slog.Logger, onStep func(history.MigrateResult, time.Duration)) error {
	wait := time.Duration(0)
	for {
		var timer <-chan time.Time
		if cfg.Committed == nil || wait > 0 {
			timer = time.After(wait)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-cfg.Committed: // nil in timer mode: never ready
		case <-timer:
		}
		start := time.Now()
		sctx, cancel := context.WithTimeout(ctx, cfg.Slice)
		res, err := m.Migrate(sctx, cfg.Budget)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("retention: %w", err)
		}
		if onStep != nil && res.Examined > 0 {
			onStep(res, time.Since(start))
		}
		if res.Thinned > 0 || res.Pruned > 0 {
			log.Debug("Retention step", "thinned", res.Thinned, "pruned", res.Pruned, "examined", res.Examined, "deleted", res.Deleted, "took", time.Since(start))
		}
		switch {
		case !res.More:
			wait = cfg.Idle
		case cfg.Committed != nil:
			wait = cfg.Idle // the next commit comes first, unless the chain stalled
		default:
			wait = cfg.Pause
		}
	}
}
