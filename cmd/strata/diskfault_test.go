package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/sequencer"
)

// fullDisk fails every write to the store's WAL with ENOSPC once armed.
type fullDisk struct{ armed atomic.Bool }

func (d *fullDisk) String() string { return "full disk" }

func (d *fullDisk) MaybeError(op errorfs.Op) error {
	if d.armed.Load() && op.Kind == errorfs.OpFileWrite && strings.HasSuffix(op.Path, ".log") {
		return &os.PathError{Op: "write", Path: op.Path, Err: syscall.ENOSPC}
	}
	return nil
}

// TestNodeKeepsServingOnFullDisk fills the disk under a running node: ingest
// stops, the node keeps answering for the blocks it holds, readiness names
// the fault, and run returns the fault only when the node is stopped (so
// the process exits non-zero naming it), never a panic.
func TestNodeKeepsServingOnFullDisk(t *testing.T) {
	disk := &fullDisk{}
	cfg := testNodeConfig(t.TempDir())
	cfg.Store.FS = errorfs.Wrap(vfs.NewMem(), disk)
	n, err := newNode(cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.NoError(t, n.Start(context.Background()))
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := n.Stop(ctx); err != nil { // closing a faulted store names the fault again, nothing else
			require.ErrorIs(t, err, syscall.ENOSPC)
		}
	}()

	const armAt = 5
	n.onBlock(func(info sequencer.BlockInfo) {
		if info.Number == armAt {
			disk.armed.Store(true)
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- n.run(ctx) }()

	require.Eventually(t, func() bool { return n.ready() != nil && strings.Contains(n.ready().Error(), "disk fault") },
		time.Minute, 20*time.Millisecond, "readiness names the disk fault")
	require.ErrorContains(t, n.ready(), "no space left on device")
	select {
	case err := <-runErr:
		t.Fatalf("run returned while the node should keep serving: %v", err)
	default:
	}

	cl, err := ethclient.Dial("http://" + n.api.HTTPAddr())
	require.NoError(t, err)
	defer cl.Close()
	head, err := cl.BlockNumber(context.Background())
	require.NoError(t, err)
	require.GreaterOrEqual(t, head, uint64(armAt), "the blocks held before the fault are still served")
	blk, err := cl.BlockByNumber(context.Background(), nil)
	require.NoError(t, err)
	require.Equal(t, head, blk.NumberU64())

	cancel()
	err = <-runErr
	require.Error(t, err)
	require.True(t, errors.Is(err, syscall.ENOSPC), "run returns the fault: %v", err)
	require.Contains(t, err.Error(), "ingest stopped on a disk fault")
}
