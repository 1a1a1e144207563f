package bench

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/trie"

	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/retention"
)

// reingestMode is how one re-ingest runs: with retention r (disabled:
// nothing migrates), the runner stepping after each commit or on its
// timer, and with measure the tiers measured at the end.
type reingestMode struct {
	r           history.Retention
	afterCommit bool
	measure     bool
}

// tierRun is what one re-ingest measured.
type tierRun struct {
	ingest    Summary
	steps     int // migration steps taken during ingest
	tiers     []tierLatency
	liveAfter uint64          // live table bytes after migration and compaction (measured runs)
	lat       []time.Duration // every block's ingest time
	behind    uint64          // blocks the recent tier should have given up by the end of ingest but had not
}

// tierLatency is one tier's size and proof latency.
type tierLatency struct {
	name     string
	span     string
	perBlock float64
	lat      Summary
}

// reingest ingests blocks 1..cfg.Blocks of the source into a fresh store in
// a temporary directory, one per slot, with the mode's retention running
// beside it; a measured mode then finishes the migration, compacts, and
// measures each tier.
func reingest(ctx context.Context, cfg TiersConfig, m reingestMode) (tierRun, error) {
	var res tierRun
	dir, err := os.MkdirTemp("", "strata-bench-tiers-")
	if err != nil {
		return res, fmt.Errorf("store directory: %w", err)
	}
	defer os.RemoveAll(dir)
	dst, err := openCopy(ctx, cfg, dir, m.r)
	if err != nil {
		return res, err
	}
	defer dst.Close()
	var mu sync.Mutex
	committed, stop := startMigration(ctx, dst, m, cfg.BlockTime, func() { mu.Lock(); res.steps++; mu.Unlock() })
	lat, err := ingestPaced(ctx, cfg, dst, committed)
	if stopErr := stop(); err == nil {
		err = stopErr
	}
	if err != nil {
		return res, err
	}
	// The runner has stopped: res.steps is final.
	res.ingest, res.lat = Summarize(lat), lat
	res.behind = migrationBehind(dst, m.r, cfg.Blocks)
	if !m.measure {
		return res, nil
	}
	if res.liveAfter, err = finishMigration(ctx, dst, m.r); err != nil || !m.r.Enabled() {
		return res, err
	}
	res.tiers, err = measureTierProofs(dst, cfg.Source, cfg.Samples)
	return res, err
}

// openCopy opens a fresh store in dir with retention r and loads the
// source's genesis state into it as block 0.
func openCopy(ctx context.Context, cfg TiersConfig, dir string, r history.Retention) (TierStore, error) {
	dst, err := cfg.OpenStore(dir, r)
	if err != nil {
		return nil, fmt.Errorf("open the copy: %w", err)
	}
	if err := loadGenesisFrom(ctx, cfg.Source, dst); err != nil {
		dst.Close()
		return nil, err
	}
	return dst, nil
}

// loadGenesisFrom loads the source's block 0 into dst.
func loadGenesisFrom(ctx context.Context, src RecordedChain, dst history.GenesisLoader) error {
	h0, err := src.Header(ctx, 0)
	if err != nil {
		return fmt.Errorf("source block 0: %w", err)
	}
	g, release, err := src.Genesis(ctx)
	if err != nil {
		return fmt.Errorf("source genesis: %w", err)
	}
	defer release()
	hdr := types.CopyHeader(h0)
	hdr.Root = common.Hash{}
	if _, err := dst.LoadGenesis(ctx, g, hdr, nil); err != nil {
		return fmt.Errorf("load genesis: %w", err)
	}
	return nil
}

// startMigration runs the retention runner on dst until stop, which
// returns the runner's error, calling onStep after each step. With
// afterCommit the runner steps after each value sent on committed (a
// send must not block); otherwise on its timer. With retention disabled
// nothing runs.
func startMigration(ctx context.Context, dst TierStore, m reingestMode, blockTime time.Duration, onStep func()) (committed chan struct{}, stop func() error) {
	committed = make(chan struct{}, 1)
	if !m.r.Enabled() {
		return committed, func() error { return nil }
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		rcfg := retention.DefaultConfig(blockTime)
		if m.afterCommit {
			rcfg.Committed = committed
		}
		done <- retention.Run(rctx, rcfg, dst, discardLog(), func(history.MigrateResult, time.Duration) { onStep() })
	}()
	return committed, func() error { cancel(); return <-done }
}

// ingestPaced ingests blocks 1..cfg.Blocks of the source into dst, each no
// earlier than its slot, signals committed after each without blocking,
// and returns each block's ingest time.
func ingestPaced(ctx context.Context, cfg TiersConfig, dst history.Ingester, committed chan<- struct{}) ([]time.Duration, error) {
	lat := make([]time.Duration, 0, cfg.Blocks)
	next := time.Now()
	for n := uint64(1); n <= cfg.Blocks; n++ {
		if wait := time.Until(next); wait > 0 {
			time.Sleep(wait) // the block's slot has not come yet
		}
		next = next.Add(cfg.BlockTime)
		u, err := cfg.Source.UpdateAt(n)
		if err != nil {
			return nil, fmt.Errorf("source block %d: %w", n, err)
		}
		start := time.Now()
		if err := dst.Ingest(ctx, u); err != nil {
			return nil, fmt.Errorf("ingest block %d: %w", n, err)
		}
		lat = append(lat, time.Since(start))
		select {
		case committed <- struct{}{}:
		default:
		}
	}
	return lat, nil
}

// migrationBehind is how many blocks the recent tier should have given up
// by the head (blocks) but had not.
func migrationBehind(dst TierStore, r history.Retention, blocks uint64) uint64 {
	if !r.Enabled() || blocks <= r.Recent {
		return 0
	}
	due := (blocks-r.Recent)/r.Checkpoint*r.Checkpoint + 1
	if earliest := dst.Tiers()[0].Earliest; due > earliest {
		return due - earliest
	}
	return 0
}

// finishMigration migrates until nothing is due, compacts, and returns the
// live table bytes.
func finishMigration(ctx context.Context, dst TierStore, r history.Retention) (uint64, error) {
	for r.Enabled() {
		m, err := dst.Migrate(ctx, 1<<20)
		if err != nil {
			return 0, fmt.Errorf("migrate: %w", err)
		}
		if !m.More {
			break
		}
	}
	if err := dst.Compact(); err != nil {
		return 0, fmt.Errorf("compact: %w", err)
	}
	return dst.LiveTableBytes(), nil
}

// measureTierProofs measures each tier's logical bytes per block and the
// latency of samples proofs at blocks it serves: of an account the block
// changed (the message passer if none) or, in the pinned tier, of the
// message passer below the oldest block. The sampling is seeded, so runs
// prove the same accounts.
func measureTierProofs(dst TierStore, src RecordedChain, samples int) ([]tierLatency, error) {
	rng := rand.New(rand.NewPCG(1, 2))
	oldest, _ := dst.Oldest()
	var out []tierLatency
	for _, t := range dst.Tiers() {
		tl := tierLatency{name: t.Name}
		if t.Empty {
			out = append(out, tl)
			continue
		}
		nblocks := t.Latest - t.Earliest + 1
		tl.span = fmt.Sprintf("%d-%d", t.Earliest, t.Latest)
		if t.Name != "pinned" {
			tl.perBlock = float64(t.Bytes) / float64(nblocks)
		}
		var ds []time.Duration
		for range samples {
			n, addr := sampleProof(rng, src, t, nblocks, oldest)
			start := time.Now()
			if err := proveAt(dst, n, addr); err != nil {
				return nil, fmt.Errorf("%s tier, block %d: %w", t.Name, n, err)
			}
			ds = append(ds, time.Since(start))
		}
		tl.lat = Summarize(ds)
		out = append(out, tl)
	}
	return out, nil
}

// sampleProof picks a block the tier serves and an account hash to prove
// there.
func sampleProof(rng *rand.Rand, src RecordedChain, t TierStatus, nblocks, oldest uint64) (uint64, common.Hash) {
	n := t.Earliest + rng.Uint64N(nblocks)
	addr := crypto.Keccak256Hash(retention.MessagePasser[:])
	if t.Name == "pinned" {
		return rng.Uint64N(max(oldest, 1)), addr
	}
	if u, err := src.UpdateAt(max(n, 1)); err == nil && len(u.Accounts) > 0 {
		keys := make([]common.Hash, 0, len(u.Accounts))
		for k := range u.Accounts {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i].Cmp(keys[j]) < 0 })
		addr = keys[rng.IntN(len(keys))]
	}
	return n, addr
}

// proveAt opens block n's state, proves the account and verifies the proof
// against the block's root.
func proveAt(s history.Reader, n uint64, addrHash common.Hash) error {
	proof, root, err := proveAccount(s, n, addrHash)
	if err != nil {
		return err
	}
	_, err = trie.VerifyProof(root, addrHash[:], proof)
	return err
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }
