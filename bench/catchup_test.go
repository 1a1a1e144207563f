package bench

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRecoveryDir(t *testing.T) {
	// No --datadir: a temporary directory that the cleanup removes.
	dir, cleanup, err := recoveryDir("")
	require.NoError(t, err)
	require.DirExists(t, dir)
	cleanup()
	require.NoDirExists(t, dir)

	// An empty --datadir is used and kept.
	keep := t.TempDir()
	dir, cleanup, err = recoveryDir(keep)
	require.NoError(t, err)
	require.Equal(t, keep, dir)
	cleanup()
	require.DirExists(t, keep)

	// A --datadir holding anything is refused.
	require.NoError(t, os.WriteFile(filepath.Join(keep, "x"), nil, 0o644))
	_, _, err = recoveryDir(keep)
	require.ErrorContains(t, err, "is not empty")
}
