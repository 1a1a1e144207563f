package nodediff

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/stretchr/testify/require"
)

// empty is the RLP of an empty child or value.
var empty = []byte{0x80}

// hashItem is the RLP of a 32-byte hash child made of seed.
func hashItem(seed byte) []byte {
	return mustRLP(common.Hash{0: seed, 31: seed ^ 0xff})
}

// stringItem is the RLP of s as a string item.
func stringItem(s string) []byte { return mustRLP([]byte(s)) }

func mustRLP(v any) []byte {
	b, err := rlp.EncodeToBytes(v)
	if err != nil {
		panic(err)
	}
	return b
}

// list is the RLP list of items, each already encoded.
func list(items ...[]byte) []byte {
	b, err := rlp.MergeListValues(items)
	if err != nil {
		panic(err)
	}
	return b
}

// leaf is a short node of a compact-encoded leaf key (nibbles, odd count
// or even) and value.
func leaf(key []byte, value string) []byte {
	return list(mustRLP(key), stringItem(value))
}

// embedded is an embedded leaf: a short node of under 32 bytes.
func embedded(nibble byte, value byte) []byte {
	return list(mustRLP([]byte{0x30 | nibble&0x0f}), mustRLP([]byte{value}))
}

// branch is a full node of 16 children and a value, changed at the
// children set.
func branch(base func(i int) []byte, value []byte, set map[int][]byte) []byte {
	items := make([][]byte, branchItems)
	for i := range valueItem {
		items[i] = base(i)
		if c, ok := set[i]; ok {
			items[i] = c
		}
	}
	items[valueItem] = value
	return list(items...)
}

// repeat is n times item.
func repeat(item []byte, n int) [][]byte {
	items := make([][]byte, n)
	for i := range items {
		items[i] = item
	}
	return items
}

func hashes(seed byte) func(int) []byte {
	return func(i int) []byte { return hashItem(seed + byte(i)) }
}

func embeddeds(value byte) func(int) []byte {
	return func(i int) []byte { return embedded(byte(i), value) }
}

// A kindCase is one pre and post and the encoding Encode must write.
type kindCase struct {
	name      string
	pre, post []byte
	kind      byte   // the encoding's first byte
	size      int    // the encoding's length; 0: not checked
	bitmap    uint16 // checked for branch diffs
}

func kindCases() []kindCase {
	full := branch(hashes(0), empty, nil)
	small := branch(embeddeds(1), empty, nil)
	ext := list(mustRLP([]byte{0x00, 0x12, 0x34}), hashItem(7))
	return []kindCase{
		{name: "one hash child of 16 differs", pre: full, post: branch(hashes(0), empty, map[int][]byte{5: hashItem(99)}),
			kind: kindBranch, size: 36, bitmap: 1 << 5},
		{name: "identical branches", pre: full, post: full, kind: kindBranch, size: 3},
		{name: "value item differs", pre: branch(hashes(0), stringItem("abc"), nil), post: full,
			kind: kindBranch | flagValue, size: 3 + 4},
		{name: "child and value differ", pre: branch(hashes(0), stringItem("abc"), map[int][]byte{15: hashItem(200)}), post: full,
			kind: kindBranch | flagValue, size: 3 + 33 + 4, bitmap: 1 << 15},
		{name: "empty child filled", pre: branch(hashes(0), empty, map[int][]byte{0: empty, 9: empty}), post: full,
			kind: kindBranch, size: 3 + 2, bitmap: 1<<0 | 1<<9},
		{name: "embedded child differs", pre: small, post: branch(embeddeds(1), empty, map[int][]byte{3: embedded(3, 2)}),
			kind: kindBranch, size: 3 + 3, bitmap: 1 << 3},
		{name: "hash child becomes embedded", pre: full, post: branch(hashes(0), empty, map[int][]byte{12: embedded(12, 5)}),
			kind: kindBranch, size: 36, bitmap: 1 << 12},
		{name: "all 17 differ, hash children", pre: full, post: branch(hashes(100), stringItem("v"), nil),
			kind: kindBranch | flagValue, size: 3 + 16*33 + 1, bitmap: 0xffff},
		{name: "all 17 differ, small branch is a full copy", pre: small, post: branch(embeddeds(2), stringItem("v"), nil),
			kind: kindFull, size: 1 + len(small)},
		{name: "identical short nodes", pre: leaf([]byte{0x20, 0xab}, "value"), post: leaf([]byte{0x20, 0xab}, "value"),
			kind: kindShort, size: 1 + 6},
		{name: "short value differs", pre: leaf([]byte{0x20, 0xab}, "old value"), post: leaf([]byte{0x20, 0xab}, "new"),
			kind: kindShort, size: 1 + 10},
		{name: "extension child differs", pre: ext, post: list(mustRLP([]byte{0x00, 0x12, 0x34}), hashItem(8)),
			kind: kindShort, size: 34},
		{name: "extension child becomes embedded", pre: ext, post: list(mustRLP([]byte{0x00, 0x12, 0x34}), small),
			kind: kindShort, size: 34},
		{name: "short key differs", pre: leaf([]byte{0x20, 0xab}, "value"), post: leaf([]byte{0x20, 0xac}, "value"), kind: kindFull},
		{name: "branch to short", pre: full, post: ext, kind: kindFull, size: 1 + len(full)},
		{name: "short to branch", pre: ext, post: full, kind: kindFull},
		{name: "created: pre empty", pre: nil, post: full, kind: kindFull, size: 1},
		{name: "deleted: post empty", pre: full, post: nil, kind: kindFull},
		{name: "both empty", pre: []byte{}, post: nil, kind: kindFull, size: 1},
		{name: "pre undecodable", pre: []byte{0xff, 0x01}, post: full, kind: kindFull, size: 3},
		{name: "post undecodable", pre: full, post: full[:100], kind: kindFull},
		{name: "pre has bytes after the list", pre: append(bytes.Clone(full), 0x00), post: full, kind: kindFull},
		{name: "post has bytes after the list", pre: full, post: append(bytes.Clone(full), 0x80), kind: kindFull},
		{name: "pre is a string", pre: stringItem("not a node at all, just a string"), post: full, kind: kindFull},
		{name: "three-item lists", pre: list(empty, empty, hashItem(1)), post: list(empty, empty, empty), kind: kindFull},
		{name: "empty lists", pre: list(), post: list(), kind: kindFull, size: 2},
		{name: "eighteen-item lists", pre: list(append(repeat(empty, 17), hashItem(1))...), post: list(repeat(empty, 18)...), kind: kindFull},
	}
}

// TestEncodeKinds checks which kind each pair is written as, its size and
// bitmap, and the round trip.
func TestEncodeKinds(t *testing.T) {
	require.Len(t, branch(hashes(0), empty, nil), 532, "a full node of 16 hash children")
	for _, c := range kindCases() {
		t.Run(c.name, func(t *testing.T) {
			enc := Encode(nil, c.pre, c.post)
			require.NotEmpty(t, enc)
			require.Equal(t, c.kind, enc[0], "kind")
			if c.size != 0 {
				require.Len(t, enc, c.size, "encoding %x", enc)
			}
			if c.kind&^flagValue == kindBranch {
				require.Equal(t, c.bitmap, binary.BigEndian.Uint16(enc[1:]), "bitmap")
			}
			require.Equal(t, c.kind == kindFull, IsFull(enc))
			got, err := Apply(enc, c.post)
			require.NoError(t, err)
			require.True(t, bytes.Equal(c.pre, got), "Apply gave %x, want %x", got, c.pre)
			t.Logf("pre %d B, post %d B -> %d B", len(c.pre), len(c.post), len(enc))
		})
	}
}

// TestCreatedNode pins what a node with no previous value is written as: a
// full copy of nothing, one byte, that Apply turns back into an empty value
// whatever post it is given.
func TestCreatedNode(t *testing.T) {
	enc := Encode([]byte{0xee}, nil, branch(hashes(0), empty, nil))
	require.Equal(t, []byte{0xee, kindFull}, enc)
	for _, post := range [][]byte{nil, {0xff}, branch(hashes(0), empty, nil)} {
		got, err := Apply(enc[1:], post)
		require.NoError(t, err)
		require.Empty(t, got)
	}
}

// TestFull checks a forced full copy of node and non-node values alike.
func TestFull(t *testing.T) {
	require.False(t, IsFull(nil))
	require.False(t, IsFull([]byte{kindBranch, 0, 0}))
	require.False(t, IsFull([]byte{kindShort, 0x80}))
	for _, pre := range [][]byte{nil, {0x80}, {0xff, 0xff}, branch(hashes(0), empty, nil), leaf([]byte{0x20}, "v")} {
		enc := Full([]byte("dst"), pre)
		require.Equal(t, []byte("dst"), enc[:3])
		require.True(t, IsFull(enc[3:]))
		require.Len(t, enc, 3+1+len(pre))
		got, err := Apply(enc[3:], []byte{0x01, 0x02})
		require.NoError(t, err)
		require.True(t, bytes.Equal(pre, got))
	}
}

// TestApplyDoesNotAlias checks that changing Apply's result leaves enc and
// post alone.
func TestApplyDoesNotAlias(t *testing.T) {
	for _, c := range kindCases() {
		enc := Encode(nil, c.pre, c.post)
		encCopy, postCopy := bytes.Clone(enc), bytes.Clone(c.post)
		got, err := Apply(enc, c.post)
		require.NoError(t, err, c.name)
		for i := range got {
			got[i] ^= 0xff
		}
		require.Equal(t, encCopy, enc, c.name)
		require.Equal(t, postCopy, c.post, c.name)
	}
}

// An applyCase is an encoding Apply must refuse, and why.
type applyCase struct {
	name      string
	enc, post []byte
	err       error  // ErrMalformed or ErrPostMismatch
	msg       string // a part of the error's text
}

func applyCases() []applyCase {
	full := branch(hashes(0), empty, nil)
	short := leaf([]byte{0x20, 0xab}, "value")
	return []applyCase{
		{"empty encoding", nil, full, ErrMalformed, "empty encoding"},
		{"unknown kind", []byte{0x03, 0x80}, full, ErrMalformed, "unknown kind 0x03"},
		{"value flag on a short diff", []byte{kindShort | flagValue, 0x80}, short, ErrMalformed, "unknown kind 0x82"},
		{"value flag on a full copy", []byte{kindFull | flagValue, 0x80}, nil, ErrMalformed, "unknown kind 0x80"},
		{"branch diff without a bitmap", []byte{kindBranch}, full, ErrMalformed, "no bitmap"},
		{"branch diff with half a bitmap", []byte{kindBranch, 0x00}, full, ErrMalformed, "no bitmap"},
		{"bitmap names an item, none follows", []byte{kindBranch, 0x00, 0x01}, full, ErrMalformed, "child 0"},
		{"bitmap names more items than follow", append([]byte{kindBranch, 0x80, 0x01}, hashItem(1)...), full, ErrMalformed, "child 15"},
		{"value flag without the item", []byte{kindBranch | flagValue, 0x00, 0x00}, full, ErrMalformed, "branch diff: value item"},
		{"truncated item", []byte{kindBranch, 0x00, 0x01, 0xa0, 0x01, 0x02}, full, ErrMalformed, "child 0"},
		{"item with a non-canonical size", []byte{kindBranch, 0x00, 0x01, 0xb8, 0x01, 0x00}, full, ErrMalformed, "child 0"},
		{"bytes after the items", []byte{kindBranch, 0x00, 0x00, 0x80}, full, ErrMalformed, "1 bytes after the items"},
		{"branch diff against a short node", []byte{kindBranch, 0x00, 0x00}, short, ErrPostMismatch, "post of 2 items, not 17"},
		{"branch diff against an empty post", []byte{kindBranch, 0x00, 0x00}, nil, ErrPostMismatch, "post of 0 bytes"},
		{"branch diff against an undecodable post", []byte{kindBranch, 0x00, 0x00}, full[:531], ErrPostMismatch, "post of 531 bytes"},
		{"branch diff against a post with bytes after it", []byte{kindBranch, 0x00, 0x00}, append(bytes.Clone(full), 0x80), ErrPostMismatch, "bytes after the list"},
		{"short diff without a value item", []byte{kindShort}, short, ErrMalformed, "value item"},
		{"short diff with two items", []byte{kindShort, 0x80, 0x80}, short, ErrMalformed, "1 bytes after the value item"},
		{"short diff with a truncated item", []byte{kindShort, 0xa0, 0x01}, short, ErrMalformed, "value item"},
		{"short diff against a branch", []byte{kindShort, 0x80}, full, ErrPostMismatch, "more than 2 items"},
		{"short diff against an empty post", []byte{kindShort, 0x80}, nil, ErrPostMismatch, "post of 0 bytes"},
		{"short diff against a string", []byte{kindShort, 0x80}, stringItem("leaf"), ErrPostMismatch, "expected List"},
	}
}

// TestApplyMalformed checks that Apply refuses what it cannot read, with
// an error that wraps the right sentinel and says what is wrong.
func TestApplyMalformed(t *testing.T) {
	for _, c := range applyCases() {
		t.Run(c.name, func(t *testing.T) {
			got, err := Apply(c.enc, c.post)
			require.Error(t, err)
			require.Nil(t, got)
			require.ErrorIs(t, err, c.err)
			require.Contains(t, err.Error(), c.msg)
		})
	}
}
