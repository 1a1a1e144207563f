package store

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestChangesetEncoding(t *testing.T) {
	acct, slot := []byte("a0123"), []byte("s0123456789")
	entries := []changeEntry{
		{item: acct, value: 3, carried: true, flat: []byte{1, 2, 3}},
		{item: []byte("n\x00\x01\x02"), value: 70},            // a trie node: length only
		{item: []byte("n\x00\x01"), value: 0},                 // a deleted node
		{item: slot, value: 0, carried: true, flat: []byte{}}, // a deleted slot
		{item: slot, value: 1, carried: true, flat: []byte{9}},
	}
	raw := encodeChangeset(entries)
	require.Equal(t, byte(changesetValues), raw[0])
	got, err := decodeChangesetEntries(raw)
	require.NoError(t, err)
	require.Equal(t, entries, got)
	require.Equal(t, len("n\x00\x01\x02")+8+70, got[1].size())

	// An account or slot without its value (rewritten from an older
	// changeset) makes the whole changeset lengths-only.
	old := append(slices.Clone(entries), changeEntry{item: acct, value: -1})
	raw = encodeChangeset(old)
	require.Equal(t, byte(changesetLengths), raw[0])
	got, err = decodeChangesetEntries(raw)
	require.NoError(t, err)
	require.Len(t, got, len(old))
	for i, e := range got {
		require.Equal(t, old[i].item, e.item)
		require.Equal(t, old[i].value, e.value)
		require.False(t, e.carried)
	}
	require.Equal(t, -1, got[5].size())

	empty, err := decodeChangesetEntries(encodeChangeset(nil))
	require.NoError(t, err)
	require.Empty(t, empty)

	// The layout before value lengths: uvarint(len(item)) item, repeated.
	legacy := []byte{5, 'a', '0', '1', '2', '3', 2, 'n', 'x'}
	got, err = decodeChangesetEntries(legacy)
	require.NoError(t, err)
	require.Equal(t, []changeEntry{{item: []byte("a0123"), value: -1}, {item: []byte("nx"), value: -1}}, got)
	items, err := decodeChangeset(legacy)
	require.NoError(t, err)
	require.Equal(t, [][]byte{[]byte("a0123"), []byte("nx")}, items)

	for name, raw := range map[string][]byte{
		"item longer than the rest": {changesetValues, 9, 'a'},
		"missing value length":      {changesetValues, 1, 'n'},
		"missing value":             {changesetValues, 1, 'a', 3, 7},
		"empty item":                {changesetValues, 0, 1},
		"legacy truncated":          {3, 'a'},
	} {
		_, err := decodeChangesetEntries(raw)
		require.Error(t, err, name)
	}
}
