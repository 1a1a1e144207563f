package store

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestChangesetEncoding(t *testing.T) {
	entries := []changeEntry{
		{item: []byte("a0123"), value: 70},
		{item: []byte("n\x00\x01\x02"), value: 0}, // a deletion marker
		{item: []byte("s0123456789"), value: 32},
		{item: []byte("a0123"), value: -1}, // length unknown (rewritten from an older changeset)
	}
	got, err := decodeChangesetEntries(encodeChangeset(entries))
	require.NoError(t, err)
	require.Equal(t, entries, got)
	require.Equal(t, len("a0123")+8+70, got[0].size())
	require.Equal(t, -1, got[3].size())

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
		"item longer than the rest": {changesetFormat, 9, 'a'},
		"missing value length":      {changesetFormat, 1, 'a'},
		"empty item":                {changesetFormat, 0, 1},
		"legacy truncated":          {3, 'a'},
	} {
		_, err := decodeChangesetEntries(raw)
		require.Error(t, err, name)
	}
}
