package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/history/historytest"
)

// TestSchemaVersions opens a store whose schema marker (and changesets)
// are those of each version, as SchemaVersion documents them: the current
// version opens as it is; an older one this build reads opens with its
// changesets in their old layout, reads the same updates and states,
// migrates its tiers without leaks, takes new blocks and has its marker
// raised, so that the older build would refuse it; a version this build
// does not know is refused with an error naming both versions.
func TestSchemaVersions(t *testing.T) {
	// Each layout rewrites a current changeset's entries as a store of
	// that version holds them.
	legacy := func(entries []changeEntry) []byte { // version 1: items only
		var out []byte
		for _, e := range entries {
			out = binary.AppendUvarint(out, uint64(len(e.item)))
			out = append(out, e.item...)
		}
		return out
	}
	lengths := func(entries []changeEntry) []byte { // version 2: format 0x00, value lengths
		for i := range entries {
			entries[i].carried, entries[i].flat = false, nil
		}
		out := encodeChangeset(entries)
		require.Equal(t, byte(changesetLengths), out[0])
		return out
	}
	cases := []struct {
		name    string
		version uint64
		layout  func([]changeEntry) []byte // nil keeps the changesets as written
		refused string                     // the error when refused; empty when the store opens
	}{
		{name: "current", version: SchemaVersion},
		{name: "version 2", version: 2, layout: lengths},
		{name: "version 1", version: 1, layout: legacy},
		{name: "newer", version: SchemaVersion + 1,
			refused: fmt.Sprintf("store has schema version %d, this build reads version %d", SchemaVersion+1, SchemaVersion)},
		{name: "zero", version: 0,
			refused: fmt.Sprintf("store has schema version 0, this build reads versions 1 to %d", SchemaVersion)},
	}
	require.Equal(t, uint64(3), SchemaVersion, "a new version needs its case here, with its changeset layout")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			cfg := DefaultConfig()
			cfg.FS, cfg.NodeCacheEntries = vfs.NewMem(), 1
			migrateTo(&cfg, 8, 57, 24) // thinning and pruning both run
			s, err := Open("db", cfg, nil)
			require.NoError(t, err)
			g := historytest.NewChain(61)
			for range 80 {
				require.NoError(t, s.Ingest(ctx, g.Next()))
			}
			head, err := s.Head()
			require.NoError(t, err)
			want := map[uint64]*history.BlockUpdate{}
			b := s.db.NewBatch()
			for blk := uint64(1); blk <= head.Number; blk++ {
				want[blk], err = s.UpdateAt(blk)
				require.NoError(t, err)
				if tc.layout == nil {
					continue
				}
				raw, err := s.get(blockKey(changePrefix, blk))
				require.NoError(t, err)
				entries, err := decodeChangesetEntries(raw)
				require.NoError(t, err)
				require.NoError(t, b.Set(blockKey(changePrefix, blk), tc.layout(entries), nil))
			}
			require.NoError(t, b.Set(metaKey(metaSchema), encodeBlock(tc.version), nil))
			require.NoError(t, b.Commit(nil))
			require.NoError(t, b.Close())
			require.NoError(t, s.Close())

			s, err = Open("db", cfg, nil)
			if tc.refused != "" {
				require.ErrorContains(t, err, tc.refused)
				require.Nil(t, s)
				return
			}
			require.NoError(t, err)
			defer s.Close()
			marker, err := s.get(metaKey(metaSchema))
			require.NoError(t, err)
			require.Equal(t, SchemaVersion, binary.BigEndian.Uint64(marker), "opening migrated the marker")
			for blk := uint64(1); blk <= head.Number; blk++ {
				u, err := s.UpdateAt(blk)
				require.NoError(t, err)
				require.Equal(t, want[blk].Accounts, u.Accounts, "block %d reads the same update", blk)
			}
			for {
				res, err := s.Migrate(ctx, 200)
				require.NoError(t, err)
				if !res.More {
					break
				}
			}
			oldest, err := s.Oldest()
			require.NoError(t, err)
			for n := oldest; n <= head.Number; n++ {
				historytest.CheckState(t, s, g, n)
			}
			checkPruned(t, s)
			checkChangesets(t, s)
			for range 8 {
				require.NoError(t, s.Ingest(ctx, g.Next()), "ingest resumes")
			}
			historytest.CheckState(t, s, g, head.Number+8)
		})
	}
}
