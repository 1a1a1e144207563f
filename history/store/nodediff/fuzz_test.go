package nodediff

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/stretchr/testify/require"
)

// fuzzPairs are changed nodes of small versions of the test tries (200
// keys each, to keep seed runs fast), to seed the round-trip fuzzer.
func fuzzPairs(tb testing.TB) []nodePair {
	var pairs []nodePair
	for _, s := range trieShapes {
		s.keys, s.update, s.remove, s.insert = 200, 20, 5, 5
		got := changedNodes(tb, s)
		pairs = append(pairs, got[:min(len(got), 12)]...)
	}
	return pairs
}

// FuzzApply feeds Apply arbitrary encodings and post-values. It must never
// panic, must fail only with one of its two sentinels, and what it accepts
// must be stable: a full copy gives back the rest of enc, and a value it
// reconstructs round-trips through Encode against the same post.
func FuzzApply(f *testing.F) {
	for _, c := range kindCases() {
		f.Add(Encode(nil, c.pre, c.post), c.post)
	}
	for _, c := range applyCases() {
		f.Add(c.enc, c.post)
	}
	f.Fuzz(func(t *testing.T, enc, post []byte) {
		got, err := Apply(enc, post)
		if err != nil {
			require.True(t, errors.Is(err, ErrMalformed) || errors.Is(err, ErrPostMismatch), "error %v wraps no sentinel", err)
			require.Nil(t, got)
			return
		}
		if IsFull(enc) {
			require.True(t, bytes.Equal(enc[1:], got))
			return
		}
		again, err := Apply(Encode(nil, got, post), post)
		require.NoError(t, err)
		require.True(t, bytes.Equal(got, again))
	})
}

// FuzzRoundTrip checks the invariant over arbitrary pre and post values,
// seeded with real trie nodes and the kind table: Apply of Encode's output
// against the same post never fails and gives back exactly pre.
func FuzzRoundTrip(f *testing.F) {
	for _, p := range fuzzPairs(f) {
		f.Add(p.pre, p.post)
	}
	for _, c := range kindCases() {
		f.Add(c.pre, c.post)
	}
	f.Fuzz(func(t *testing.T, pre, post []byte) {
		enc := Encode(nil, pre, post)
		got, err := Apply(enc, post)
		require.NoError(t, err)
		require.True(t, bytes.Equal(pre, got), "Apply gave %x, want %x", got, pre)
		require.LessOrEqual(t, len(enc), 1+len(pre), "an encoding larger than the full copy")
	})
}

// FuzzBranchRoundTrip builds two full nodes from the fuzz input, post from
// data and pre from post with the items mask names replaced, so the
// fuzzer spends its time on branch diffs: hash, embedded, string and empty
// items in every combination. The round trip must hold, and a branch diff
// must name exactly the items that differ.
func FuzzBranchRoundTrip(f *testing.F) {
	f.Add([]byte{}, uint32(0))
	f.Add(bytes.Repeat([]byte{3, 1, 2}, 17), uint32(1<<5))
	f.Add(bytes.Repeat([]byte{6, 1, 2, 3, 4, 5}, 17), uint32(0x1ffff))
	f.Add(bytes.Repeat([]byte{4, 0xff, 0x80, 0x00}, 17), uint32(1<<16|1<<3))
	f.Add([]byte("abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz"), uint32(0xaaaa))
	f.Fuzz(func(t *testing.T, data []byte, mask uint32) {
		var pieces [branchItems][]byte
		for i := range pieces {
			if len(data) == 0 {
				break
			}
			n := min(len(data), 1+int(data[0]%40))
			pieces[i], data = data[:n], data[n:]
		}
		var preItems, postItems [branchItems][]byte
		var differ uint32
		for i, p := range pieces {
			postItems[i] = fuzzItem(p, 0)
			preItems[i] = postItems[i]
			if mask&(1<<i) != 0 {
				preItems[i] = fuzzItem(p, 1)
			}
			if !bytes.Equal(preItems[i], postItems[i]) {
				differ |= 1 << i
			}
		}
		pre, post := list(preItems[:]...), list(postItems[:]...)
		enc := Encode(nil, pre, post)
		got, err := Apply(enc, post)
		require.NoError(t, err)
		require.True(t, bytes.Equal(pre, got), "Apply gave %x, want %x", got, pre)
		if IsFull(enc) {
			return
		}
		require.Equal(t, kindBranch, enc[0]&^flagValue)
		require.Equal(t, differ&0xffff, uint32(binary.BigEndian.Uint16(enc[1:])), "bitmap")
		require.Equal(t, differ&(1<<valueItem) != 0, enc[0]&flagValue != 0, "value flag")
	})
}

// fuzzItem makes one branch item of p, varied by salt: empty, a hash, an
// embedded node or a string, as p's first byte says.
func fuzzItem(p []byte, salt byte) []byte {
	if len(p) == 0 {
		return empty
	}
	body := append(bytes.Clone(p[1:]), salt)
	switch p[0] % 4 {
	case 0:
		return empty
	case 1:
		return mustRLP(crypto.Keccak256(body))
	case 2:
		return list(mustRLP(body[:len(body)/2]), mustRLP(body[len(body)/2:]))
	default:
		return mustRLP(body)
	}
}

// TestFuzzItemShapes checks the fuzzers' and tables' builders: every item
// is one RLP value, and a built branch is a list of 17.
func TestFuzzItemShapes(t *testing.T) {
	for b := range 8 {
		item := fuzzItem([]byte{byte(b), 1, 2, 3}, 0)
		n, err := rlp.CountValues(item)
		require.NoError(t, err)
		require.Equal(t, 1, n)
	}
	n, err := rlp.CountValues(mustContent(t, branch(hashes(0), empty, nil)))
	require.NoError(t, err)
	require.Equal(t, branchItems, n)
}

func mustContent(t *testing.T, blob []byte) []byte {
	content, rest, err := rlp.SplitList(blob)
	require.NoError(t, err)
	require.Empty(t, rest)
	return content
}
