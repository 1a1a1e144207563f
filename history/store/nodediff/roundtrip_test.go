package nodediff

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/stretchr/testify/require"
)

// Features a trie shape's second commit is required to exercise.
const (
	featBranchDiff  = "branch diff"
	featShortDiff   = "short diff"
	featOneChild    = "one hash child" // a branch diff of one 33-byte child: 36 bytes
	featEmbedded    = "embedded child" // a branch diff carrying an embedded node
	featExtension   = "extension"      // a short diff of an extension node
	featValueSlot   = "value slot"     // a branch diff of the value item
	featCreated     = "created"        // pre empty
	featDeleted     = "deleted"        // post empty
	featTypeChanged = "type changed"   // branch to short or back
	featKeyChanged  = "key changed"    // short nodes of different keys
	featSized       = "branch as full" // a branch diff no smaller than the copy
)

// sizeStats sums pre and encoded sizes of one category of nodes.
type sizeStats struct {
	n, pre, enc int
}

func (s *sizeStats) add(pre, enc int) { s.n, s.pre, s.enc = s.n+1, s.pre+pre, s.enc+enc }

func (s sizeStats) String() string {
	if s.n == 0 {
		return "-"
	}
	return fmt.Sprintf("%5d nodes: pre %4d B avg -> %4d B avg (%.1f%%)", s.n, s.pre/s.n, s.enc/s.n, 100*float64(s.enc)/float64(s.pre))
}

// sizeCategories orders the size table's rows.
var sizeCategories = []string{"branch diff", "  of 16 children", "short diff", "full copy", "all (pre non-empty)"}

// maxBranchRatio bounds, for the shapes of few changes per branch, the
// bytes of their branch diffs against the bytes of the branches' pre.
var maxBranchRatio = map[string]float64{"accounts, few changes": 0.2, "accounts": 0.3, "storage": 0.3}

// TestRoundTripRealTries checks the invariant over every node go-ethereum's
// trie changes in a commit: Apply(Encode(pre, post), post) is pre, and hashes
// to what the previous commit wrote pre under. It checks which kind each
// pair is written as and its exact size, requires each shape to exercise
// the features it names, and logs the encoded sizes.
func TestRoundTripRealTries(t *testing.T) {
	wants := map[string][]string{
		"accounts":              {featBranchDiff, featShortDiff, featOneChild, featCreated, featDeleted},
		"accounts, few changes": {featBranchDiff, featShortDiff, featOneChild, featCreated, featDeleted},
		"storage":               {featBranchDiff, featShortDiff, featOneChild, featCreated, featDeleted, featTypeChanged, featKeyChanged},
		"embedded":              {featBranchDiff, featEmbedded, featCreated, featDeleted},
		"extensions":            {featBranchDiff, featShortDiff, featExtension, featOneChild, featCreated},
		"value slots":           {featBranchDiff, featValueSlot, featEmbedded},
		"shrink":                {featDeleted, featTypeChanged},
	}
	total := map[string]*sizeStats{}
	for _, c := range sizeCategories {
		total[c] = &sizeStats{}
	}
	var table strings.Builder
	for _, shape := range trieShapes {
		t.Run(shape.name, func(t *testing.T) {
			want, ok := wants[shape.name]
			require.True(t, ok, "no features named for shape %q", shape.name)
			seen := map[string]int{}
			sizes := map[string]*sizeStats{}
			for _, c := range sizeCategories {
				sizes[c] = &sizeStats{}
			}
			pairs := changedNodes(t, shape)
			for _, p := range pairs {
				checkPair(t, p, seen, sizes)
			}
			for _, f := range want {
				require.Positive(t, seen[f], "shape %q exercised no %s (saw %v)", shape.name, f, seen)
			}
			if limit, ok := maxBranchRatio[shape.name]; ok {
				b := sizes["branch diff"]
				require.LessOrEqual(t, float64(b.enc)/float64(b.pre), limit, "branch diffs of shape %q: %v", shape.name, *b)
			}
			fmt.Fprintf(&table, "%-21s %d changed nodes %v\n", shape.name, len(pairs), seen)
			for _, c := range sizeCategories {
				fmt.Fprintf(&table, "  %-20s %v\n", c, *sizes[c])
				total[c].n += sizes[c].n
				total[c].pre += sizes[c].pre
				total[c].enc += sizes[c].enc
			}
		})
	}
	fmt.Fprintf(&table, "all shapes\n")
	for _, c := range sizeCategories {
		fmt.Fprintf(&table, "  %-20s %v\n", c, *total[c])
	}
	t.Logf("encoded size against pre, per changed node:\n%s", table.String())
}

// checkPair checks one node's round trip and the kind and size it is
// written as, counting the features it shows in seen and its sizes.
func checkPair(t *testing.T, p nodePair, seen map[string]int, sizes map[string]*sizeStats) {
	t.Helper()
	dst := []byte("dst")
	out := Encode(dst, p.pre, p.post)
	require.Equal(t, []byte("dst"), out[:3], "node %x: Encode overwrote dst", p.path)
	enc := out[3:]
	got, err := Apply(enc, p.post)
	require.NoError(t, err, "node %x", p.path)
	require.True(t, bytes.Equal(p.pre, got), "node %x: Apply gave %x, want %x", p.path, got, p.pre)
	if len(p.pre) > 0 {
		require.Equal(t, p.preHash, crypto.Keccak256Hash(got), "node %x: Apply's result hashes otherwise", p.path)
	}
	full, err := Apply(Full(nil, p.pre), nil)
	require.NoError(t, err)
	require.True(t, bytes.Equal(p.pre, full), "node %x: full copy", p.path)

	pre, post := nodeItems(t, p.pre), nodeItems(t, p.post)
	category := "full copy"
	switch {
	case len(p.pre) == 0:
		seen[featCreated]++
		require.Equal(t, []byte{kindFull}, enc, "created node %x", p.path)
		require.Empty(t, got)
		category = ""
	case len(p.post) == 0:
		seen[featDeleted]++
		require.True(t, IsFull(enc), "deleted node %x", p.path)
	case len(pre) != len(post):
		seen[featTypeChanged]++
		require.True(t, IsFull(enc), "node %x changed type", p.path)
	case len(pre) == branchItems:
		size, oneHash := 1+bitmapLen, 0
		var bitmap uint16
		for i := range branchItems {
			if bytes.Equal(pre[i], post[i]) {
				continue
			}
			size += len(pre[i])
			if i == valueItem {
				seen[featValueSlot]++
				continue
			}
			bitmap |= 1 << i
			if len(pre[i]) == 33 {
				oneHash++
			}
			if isList(pre[i]) || isList(post[i]) {
				seen[featEmbedded]++
			}
		}
		if size >= 1+len(p.pre) {
			seen[featSized]++
			require.True(t, IsFull(enc), "node %x", p.path)
			break
		}
		seen[featBranchDiff]++
		category = "branch diff"
		require.Len(t, enc, size, "branch diff of node %x", p.path)
		if !slices.ContainsFunc(pre[:valueItem], func(item []byte) bool { return bytes.Equal(item, empty) }) {
			sizes["  of 16 children"].add(len(p.pre), len(enc))
		}
		require.Equal(t, bitmap, uint16(enc[1])<<8|uint16(enc[2]), "bitmap of node %x", p.path)
		if size == 36 && oneHash == 1 {
			seen[featOneChild]++
		}
	case bytes.Equal(pre[0], post[0]):
		seen[featShortDiff]++
		category = "short diff"
		require.Equal(t, append([]byte{kindShort}, pre[1]...), enc, "short diff of node %x", p.path)
		key, _, err := rlp.SplitString(pre[0])
		require.NoError(t, err)
		if len(key) > 0 && key[0]&0x20 == 0 {
			seen[featExtension]++
		}
	default:
		seen[featKeyChanged]++
		require.True(t, IsFull(enc), "node %x changed key", p.path)
	}
	if category != "" {
		sizes[category].add(len(p.pre), len(enc))
		sizes["all (pre non-empty)"].add(len(p.pre), len(enc))
	}
}

// isList reports whether an item is an RLP list (an embedded node).
func isList(item []byte) bool {
	k, _, _, err := rlp.Split(item)
	return err == nil && k == rlp.List
}
