package store

import (
	"encoding/binary"
	"fmt"
)

// A changeset (key d + block) lists the versioned items a block wrote, in
// the order it wrote them; an item the block wrote twice is listed twice
// (the later write is the version stored). Each entry also records the
// length of the value written, so migration knows the bytes a version frees
// without reading it.
//
// Encoding: the format byte 0x00, then per entry uvarint(len(item)), item,
// uvarint(len(value)+1). Stores written before value lengths were recorded
// hold the entries without the format byte and without lengths (an item is
// never empty, so such a changeset never starts with 0x00); they decode with
// value lengths unknown.
type changeEntry struct {
	item  []byte
	value int // length of the value written; -1 if unknown (older changesets)
}

// size is the logical bytes (versioned key + value) of the entry's version,
// or -1 if the value length is unknown.
func (e changeEntry) size() int {
	if e.value < 0 {
		return -1
	}
	return len(e.item) + 8 + e.value
}

const changesetFormat = 0x00

func encodeChangeset(entries []changeEntry) []byte {
	n := 1
	for _, e := range entries {
		n += len(e.item) + 2*binary.MaxVarintLen32
	}
	out := make([]byte, 1, n)
	out[0] = changesetFormat
	for _, e := range entries {
		out = binary.AppendUvarint(out, uint64(len(e.item)))
		out = append(out, e.item...)
		out = binary.AppendUvarint(out, uint64(e.value+1))
	}
	return out
}

// decodeChangesetEntries decodes a changeset; items alias b.
func decodeChangesetEntries(b []byte) ([]changeEntry, error) {
	format := len(b) > 0 && b[0] == changesetFormat
	if format {
		b = b[1:]
	}
	var out []changeEntry
	for len(b) > 0 {
		l, n := binary.Uvarint(b)
		if n <= 0 || l == 0 || uint64(len(b)-n) < l {
			return nil, fmt.Errorf("corrupt changeset: entry %d", len(out))
		}
		e := changeEntry{item: b[n : n+int(l)], value: -1}
		b = b[n+int(l):]
		if format {
			v, n := binary.Uvarint(b)
			if n <= 0 || v > 1<<32 {
				return nil, fmt.Errorf("corrupt changeset: entry %d: value length", len(out))
			}
			e.value = int(v) - 1
			b = b[n:]
		}
		out = append(out, e)
	}
	return out, nil
}

// decodeChangeset decodes a changeset's items; they alias b.
func decodeChangeset(b []byte) ([][]byte, error) {
	entries, err := decodeChangesetEntries(b)
	if err != nil {
		return nil, err
	}
	items := make([][]byte, len(entries))
	for i, e := range entries {
		items[i] = e.item
	}
	return items, nil
}
