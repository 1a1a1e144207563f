package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/cockroachdb/pebble/v2"
	"github.com/strata-chain/strata/history"
)

// A changeset (key d + block) lists the versioned items a block wrote, in
// the order it wrote them; an item the block wrote twice is listed twice
// (the later write is the version stored). Each entry records the length of
// the value written, so migration knows the bytes a version frees without
// reading it, and an account's or slot's entry also carries the value
// itself, so a block's update (what a window rebuild replays and what one
// Strata streams to another) reads back with one Get instead of one per
// item. Trie nodes, the bulk of a block, are not repeated.
//
// Encoding: a format byte, then per entry uvarint(len(item)), item,
// uvarint(len(value)+1) and, for accounts and slots, the value. Format 0x01
// is this; 0x00 had no values; stores written before value lengths were
// recorded hold the entries without a format byte and without lengths (an
// item is never empty, so such a changeset never starts with 0x00 or 0x01)
// and decode with lengths and values unknown.
type changeEntry struct {
	item    []byte
	value   int    // length of the value written; -1 if unknown (older changesets)
	carried bool   // flat holds the value (accounts and slots in changesets that record values)
	flat    []byte // the value of an account or slot; empty for a deletion
}

// size is the logical bytes (versioned key + value) of the entry's version,
// or -1 if the value length is unknown.
func (e changeEntry) size() int {
	if e.value < 0 {
		return -1
	}
	return len(e.item) + 8 + e.value
}

func isFlat(item []byte) bool {
	return bytes.HasPrefix(item, accountPrefix) || bytes.HasPrefix(item, slotPrefix)
}

const (
	changesetLengths = 0x00 // value lengths only
	changesetValues  = 0x01 // value lengths, and the values of accounts and slots
)

func encodeChangeset(entries []changeEntry) []byte {
	// Values are written only if every account and slot has its value
	// (a rewrite of an older changeset keeps that changeset's format).
	n, format := 1, byte(changesetValues)
	for _, e := range entries {
		n += len(e.item) + len(e.flat) + 2*binary.MaxVarintLen32
		if isFlat(e.item) && (!e.carried || len(e.flat) != e.value) {
			format = changesetLengths
		}
	}
	out := make([]byte, 1, n)
	out[0] = format
	for _, e := range entries {
		out = binary.AppendUvarint(out, uint64(len(e.item)))
		out = append(out, e.item...)
		out = binary.AppendUvarint(out, uint64(e.value+1))
		if format == changesetValues && isFlat(e.item) {
			out = append(out, e.flat...)
		}
	}
	return out
}

// decodeChangesetEntries decodes a changeset; items and values alias b.
func decodeChangesetEntries(b []byte) ([]changeEntry, error) {
	format := -1
	if len(b) > 0 && (b[0] == changesetLengths || b[0] == changesetValues) {
		format, b = int(b[0]), b[1:]
	}
	var out []changeEntry
	for len(b) > 0 {
		l, n := binary.Uvarint(b)
		if n <= 0 || l == 0 || uint64(len(b)-n) < l {
			return nil, fmt.Errorf("corrupt changeset: entry %d", len(out))
		}
		e := changeEntry{item: b[n : n+int(l)], value: -1}
		b = b[n+int(l):]
		if format >= 0 {
			v, n := binary.Uvarint(b)
			if n <= 0 || v > 1<<32 {
				return nil, fmt.Errorf("corrupt changeset: entry %d: value length", len(out))
			}
			e.value = int(v) - 1
			b = b[n:]
		}
		if format == changesetValues && isFlat(e.item) {
			if e.value < 0 || len(b) < e.value {
				return nil, fmt.Errorf("corrupt changeset: entry %d: value", len(out))
			}
			e.flat, b, e.carried = b[:e.value:e.value], b[e.value:], true
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
	return changeItems(entries), nil
}

// changeItems is the items of entries, in order.
func changeItems(entries []changeEntry) [][]byte {
	items := make([][]byte, len(entries))
	for i, e := range entries {
		items[i] = e.item
	}
	return items
}

// changeEntriesAt reads and decodes block blk's changeset from r; the
// entries alias a copy of the stored value.
func changeEntriesAt(r pebble.Reader, blk uint64) ([]changeEntry, error) {
	raw, err := getFrom(r, blockKey(changePrefix, blk))
	if errors.Is(err, history.ErrNotFound) {
		return nil, nil // the bulk-loaded genesis has none
	}
	if err != nil {
		return nil, fmt.Errorf("changeset of block %d: %w", blk, err)
	}
	entries, err := decodeChangesetEntries(raw)
	if err != nil {
		return nil, fmt.Errorf("changeset of block %d: %w", blk, err)
	}
	return entries, nil
}

// changesetAt is changeEntriesAt's items alone.
func changesetAt(r pebble.Reader, blk uint64) ([][]byte, error) {
	entries, err := changeEntriesAt(r, blk)
	if err != nil {
		return nil, err
	}
	return changeItems(entries), nil
}
