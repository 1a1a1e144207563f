package main

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/history/historytest"
	"github.com/strata-chain/strata/history/store"
)

// TestDBStatsReadOnly: `strata db stats` prints the head of a datadir and
// writes nothing to it (no WAL recovery, no schema marker), so it also works
// on a datadir whose disk is full.
func TestDBStatsReadOnly(t *testing.T) {
	dir := t.TempDir()
	s, err := store.Open(dir, store.DefaultConfig(), nil)
	require.NoError(t, err)
	g := historytest.NewChain(1)
	for range 6 {
		require.NoError(t, s.Ingest(context.Background(), g.Next()))
	}
	require.NoError(t, s.Close()) // the blocks are in the WAL, not flushed

	before := listing(t, dir)
	cmd := newDBCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"stats", "--datadir", dir})
	require.NoError(t, cmd.Execute())
	require.Contains(t, out.String(), "head    5 "+g.Headers[5].Hash().Hex())
	require.Equal(t, before, listing(t, dir), "the datadir is unchanged")
}

// listing is every file of dir but the lock, with its size and
// modification time.
func listing(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Name() == "LOCK" {
			return nil // taking the lock touches it
		}
		info, err := os.Stat(p)
		if err != nil {
			return err
		}
		b.WriteString(p + " " + info.ModTime().Format(time.RFC3339Nano) + " " + strconv.FormatInt(info.Size(), 10) + "\n")
		return nil
	}))
	return b.String()
}
