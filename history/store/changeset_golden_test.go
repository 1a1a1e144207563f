package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/history/historytest"
)

// Golden changesets: testdata/changesets/NAME.bin is a changeset as a store
// holds it (the value under d + block), NAME.txt what it decodes to
// (dumpChangeset). Stores outlive builds, so every changeset an older build
// wrote must keep decoding the same. Never regenerate an existing file; a
// missing one is written by
//
//	STRATA_GOLDEN_WRITE=1 go test -run TestGoldenChangesets ./history/store/
var goldenChangesets = []struct {
	name string
	// current: today's encoder writes exactly these bytes for what they
	// decode to. When the format changes, bump SchemaVersion, set current
	// to false on the old cases (they must still decode) and add new ones.
	current bool
	make    func(t *testing.T) []byte
}{
	// Format 0x01: value lengths, and the values of accounts and slots.
	{"values", true, func(*testing.T) []byte { return encodeChangeset(syntheticEntries()) }},
	// Format 0x00: an account without its value (a changeset rewritten from
	// an older one) makes the whole changeset lengths only.
	{"lengths", true, func(*testing.T) []byte {
		return encodeChangeset(append(syntheticEntries(), changeEntry{item: accountItem(hashOf(0xee)), value: -1}))
	}},
	// The layout before value lengths (no format byte, items only), which
	// stores of that time still hold; no encoder writes it any more.
	{"legacy", false, func(*testing.T) []byte {
		var out []byte
		for _, e := range syntheticEntries() {
			out = append(out, byte(len(e.item)))
			out = append(out, e.item...)
		}
		return out
	}},
	// A real block's changeset, as ingest wrote it: block 2 of
	// historytest.NewChain(16).
	{"store-block-2", true, func(t *testing.T) []byte {
		s, err := OpenMem(DefaultConfig())
		require.NoError(t, err)
		defer s.Close()
		g := historytest.NewChain(16)
		for range 3 {
			require.NoError(t, s.Ingest(context.Background(), g.Next()))
		}
		raw, err := s.get(blockKey(changePrefix, 2))
		require.NoError(t, err)
		return raw
	}},
}

func hashOf(b byte) (h [32]byte) {
	for i := range h {
		h[i] = b
	}
	return h
}

// syntheticEntries covers every kind of entry: an account, a slot written
// twice, a cleared slot, a deleted account, a trie node and a deleted one.
func syntheticEntries() []changeEntry {
	acct, slot := accountItem(hashOf(0xa1)), slotItem(hashOf(0xa1), hashOf(0x51))
	gone := accountItem(hashOf(0xde))
	node, deadNode := nodeItem(hashOf(0xa1), []byte{1, 2, 3}), nodeItem([32]byte{}, []byte{0xf})
	acctValue := []byte{0xc8, 0x01, 0x84, 0x3b, 0x9a, 0xca, 0x00, 0x80, 0x80} // a slim account RLP
	return []changeEntry{
		{item: acct, value: len(acctValue), carried: true, flat: acctValue},
		{item: slot, value: 1, carried: true, flat: []byte{0x2a}},
		{item: slot, value: 2, carried: true, flat: []byte{0x01, 0x00}},
		{item: slotItem(hashOf(0xa1), hashOf(0x52)), value: 0, carried: true, flat: []byte{}},
		{item: gone, value: 0, carried: true, flat: []byte{}},
		{item: node, value: 83},
		{item: deadNode, value: 0},
	}
}

// dumpChangeset renders decoded entries one a line.
func dumpChangeset(entries []changeEntry) string {
	var sb strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&sb, "%s value %d", hexutil.Encode(e.item), e.value)
		if e.carried {
			fmt.Fprintf(&sb, " = %s", hexutil.Encode(e.flat))
		}
		sb.WriteByte('\n')
	}
	return sb.String()
}

// TestGoldenChangesets decodes every golden changeset to what its .txt
// records; for the current format, today's encoder must write the same
// bytes again.
func TestGoldenChangesets(t *testing.T) {
	dir := filepath.Join("testdata", "changesets")
	if os.Getenv("STRATA_GOLDEN_WRITE") != "" {
		require.NoError(t, os.MkdirAll(dir, 0o755))
		for _, tc := range goldenChangesets {
			bin := filepath.Join(dir, tc.name+".bin")
			if _, err := os.Stat(bin); err == nil {
				continue // never rewrite: older changesets must keep decoding
			}
			raw := tc.make(t)
			entries, err := decodeChangesetEntries(raw)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(bin, raw, 0o644))
			require.NoError(t, os.WriteFile(filepath.Join(dir, tc.name+".txt"), []byte(dumpChangeset(entries)), 0o644))
			t.Logf("wrote %s", bin)
		}
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.bin"))
	require.NoError(t, err)
	require.Len(t, files, len(goldenChangesets), "every file in %s is a case of goldenChangesets and the other way round", dir)
	for _, tc := range goldenChangesets {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, tc.name+".bin"))
			require.NoError(t, err)
			want, err := os.ReadFile(filepath.Join(dir, tc.name+".txt"))
			require.NoError(t, err)
			entries, err := decodeChangesetEntries(raw)
			require.NoError(t, err)
			require.Equal(t, string(want), dumpChangeset(entries), "changeset %s no longer decodes to what it did", tc.name)
			items, err := decodeChangeset(raw)
			require.NoError(t, err)
			require.Len(t, items, len(entries))
			for i, e := range entries {
				require.Equal(t, e.item, items[i])
			}
			if tc.current {
				require.Equal(t, raw, encodeChangeset(entries),
					"today's encoder writes %s differently: the changeset format changed, so bump SchemaVersion, mark this case not current and add one of the new format", tc.name)
				require.Equal(t, raw, tc.make(t), "the case's inputs no longer encode to its file")
			}
		})
	}
}

// FuzzDecodeChangeset feeds arbitrary bytes to the changeset decoder (a
// store's changesets are read back by unwind, migration, window rebuilds
// and the block stream). Nothing may panic; whatever decodes must encode
// and decode to the same entries, and encode to the same bytes again.
func FuzzDecodeChangeset(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "changesets", "*.bin"))
	for _, file := range files {
		raw, err := os.ReadFile(file)
		require.NoError(f, err)
		f.Add(raw)
	}
	f.Add([]byte{})
	f.Add([]byte{changesetValues})
	f.Add([]byte{changesetLengths, 1, 'n', 0})
	f.Add([]byte{changesetValues, 2, 'a', 'x', 4, 1, 2, 3})
	f.Add([]byte{changesetValues, 1, 's', 0xff, 0xff, 0xff, 0xff, 0x10}) // a value length over 1<<32
	f.Add([]byte{3, 'n', 'o', 'd'})
	f.Fuzz(func(t *testing.T, raw []byte) {
		entries, err := decodeChangesetEntries(raw)
		if err != nil {
			return
		}
		items, err := decodeChangeset(raw)
		require.NoError(t, err)
		require.Len(t, items, len(entries))
		for i, e := range entries {
			require.NotEmpty(t, e.item)
			require.Equal(t, e.item, items[i])
			require.GreaterOrEqual(t, e.value, -1)
			if e.carried {
				require.Len(t, e.flat, e.value)
			}
		}
		enc := encodeChangeset(entries)
		again, err := decodeChangesetEntries(enc)
		require.NoError(t, err, "an encoded changeset must decode")
		require.Equal(t, dumpChangeset(entries), dumpChangeset(again))
		require.True(t, slices.Equal(enc, encodeChangeset(again)), "encoding is not stable")
	})
}
