package catchup

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/holiman/uint256"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/history/historytest"
	"github.com/strata-chain/strata/history/store"
)

// failingSource fails every range.
type failingSource struct{}

func (failingSource) Range(context.Context, uint64, uint64) (func() (*history.BlockUpdate, error), error) {
	return nil, errors.New("connection refused")
}

// wrongRoot serves a chain whose block bad changes a balance its header's
// root does not hold.
type wrongRoot struct {
	chainSource
	bad uint64
}

func (w *wrongRoot) Range(ctx context.Context, from, to uint64) (func() (*history.BlockUpdate, error), error) {
	recv, err := w.chainSource.Range(ctx, from, to)
	if err != nil {
		return nil, err
	}
	return func() (*history.BlockUpdate, error) {
		u, err := recv()
		if err == nil && u.Number() == w.bad {
			for _, ch := range u.Accounts {
				if ch.Account != nil {
					ch.Account.Balance = new(uint256.Int).AddUint64(ch.Account.Balance, 1)
					break
				}
			}
		}
		return u, err
	}, nil
}

// fullDisk fails every WAL write with ENOSPC once full is set.
func fullDisk(full *atomic.Bool) errorfs.Injector {
	return errorfs.InjectorFunc(func(op errorfs.Op) error {
		if full.Load() && op.Kind == errorfs.OpFileWrite && strings.HasSuffix(op.Path, ".log") {
			return &os.PathError{Op: "write", Path: op.Path, Err: syscall.ENOSPC}
		}
		return nil
	})
}

// TestRunErrorClasses: what stops a catch-up carries the class its caller
// acts on, and no batch of the failed run is half written.
func TestRunErrorClasses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		src    Source
		disk   bool
		want   history.Class
		is     error
		wantAt uint64 // the store's head afterwards
	}{
		{"source fails", failingSource{}, false, history.ClassTemporary, nil, 9},
		{"diverged", &chainSource{seed: 6}, false, history.ClassReorg, ErrDiverged, 9},
		{"wrong state root", &wrongRoot{chainSource: chainSource{seed: 5}, bad: 20}, false, history.ClassCritical, nil, 17},
		{"disk full", &chainSource{seed: 5}, true, history.ClassCritical, syscall.ENOSPC, 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			var full atomic.Bool
			cfg := store.DefaultConfig()
			cfg.FS = errorfs.Wrap(vfs.NewMem(), fullDisk(&full))
			s, err := store.Open("db", cfg, nil)
			require.NoError(t, err)
			defer s.Close()
			g := historytest.NewChain(5)
			for range 10 {
				require.NoError(t, s.Ingest(ctx, g.Next()))
			}
			full.Store(tc.disk)
			err = Run(ctx, Config{BatchBlocks: 8}, s, tc.src, 40, nil)
			require.Error(t, err)
			t.Logf("%v", err)
			require.Equal(t, tc.want, history.ClassOf(err), "class of %v", err)
			if tc.is != nil {
				require.ErrorIs(t, err, tc.is)
			}
			head, err := s.Head()
			require.NoError(t, err)
			require.Equal(t, tc.wantAt, head.Number, "the store stays at the last committed batch")
		})
	}
}
