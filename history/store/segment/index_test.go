package segment

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSortEntries: the bucketed sort orders by key and keeps equal keys in
// append order, for uniform keys, keys sharing their top bits (one bucket)
// and many duplicates.
func TestSortEntries(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
		key  func(r *rand.Rand) uint64
	}{
		{"small", 100, func(r *rand.Rand) uint64 { return r.Uint64() }},
		{"uniform", 50000, func(r *rand.Rand) uint64 { return r.Uint64() }},
		{"one bucket", 20000, func(r *rand.Rand) uint64 { return r.Uint64() >> 20 }},
		{"duplicates", 30000, func(r *rand.Rand) uint64 { return r.Uint64N(50) << 50 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(tc.n), 7))
			entries := make([]memEntry, tc.n)
			for i := range entries {
				entries[i] = memEntry{key: tc.key(r), delta: uint32(i / 100), off: uint32(i), len: 1}
			}
			want := make([]sortRec, len(entries))
			for i, e := range entries {
				want[i] = sortRec{e.key, uint32(i)}
			}
			slices.SortStableFunc(want, func(a, b sortRec) int { return cmp.Compare(a.key, b.key) })
			require.Equal(t, want, sortEntries(entries))
		})
	}
}

// TestBloom: no false negatives; false positives near what bits per key
// promise.
func TestBloom(t *testing.T) {
	for _, tc := range []struct {
		bits   int
		maxFPR float64
	}{{4, 0.25}, {10, 0.02}, {16, 0.003}} {
		r := rand.New(rand.NewPCG(uint64(tc.bits), 1))
		const n = 20000
		b := newBloom(n, tc.bits)
		keys := make([]uint64, n)
		for i := range keys {
			keys[i] = r.Uint64()
			b.add(keys[i])
		}
		for _, k := range keys {
			require.True(t, b.mayContain(k))
		}
		fp := 0
		for range n {
			if b.mayContain(r.Uint64()) {
				fp++
			}
		}
		fpr := float64(fp) / n
		require.Less(t, fpr, tc.maxFPR, "bits %d", tc.bits)
		t.Logf("%d bits per key, k %d: %.3f%% false positives", tc.bits, b.k, 100*fpr)
	}
}
