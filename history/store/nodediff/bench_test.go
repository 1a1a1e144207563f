package nodediff

import (
	"testing"
)

// benchPairs are the changed nodes of the two account tries and the storage
// trie that
// existed before the change (a created node writes nothing to history).
func benchPairs(b *testing.B) []nodePair {
	var pairs []nodePair
	for _, s := range trieShapes[:3] {
		for _, p := range changedNodes(b, s) {
			if len(p.pre) > 0 {
				pairs = append(pairs, p)
			}
		}
	}
	return pairs
}

// reportSizes reports the average pre and encoded sizes over pairs, and
// over the branch diffs among them.
func reportSizes(b *testing.B, pairs []nodePair) {
	var all, branches sizeStats
	for _, p := range pairs {
		enc := Encode(nil, p.pre, p.post)
		all.add(len(p.pre), len(enc))
		if enc[0]&^flagValue == kindBranch {
			branches.add(len(p.pre), len(enc))
		}
	}
	b.ReportMetric(float64(all.pre)/float64(all.n), "pre-B/node")
	b.ReportMetric(float64(all.enc)/float64(all.n), "enc-B/node")
	b.ReportMetric(float64(branches.pre)/float64(branches.n), "branch-pre-B/node")
	b.ReportMetric(float64(branches.enc)/float64(branches.n), "branch-enc-B/node")
}

// BenchmarkEncode encodes every changed node of the accounts and storage
// tries against its post-value; ns/node is per node.
func BenchmarkEncode(b *testing.B) {
	pairs := benchPairs(b)
	var dst []byte
	b.ReportAllocs()
	rounds := 0
	for b.Loop() {
		for _, p := range pairs {
			dst = Encode(dst[:0], p.pre, p.post)
		}
		rounds++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rounds*len(pairs)), "ns/node")
	reportSizes(b, pairs)
}

// BenchmarkApply reconstructs every changed node of the accounts and
// storage tries from its encoding and post-value; ns/node is per node.
func BenchmarkApply(b *testing.B) {
	pairs := benchPairs(b)
	encs := make([][]byte, len(pairs))
	for i, p := range pairs {
		encs[i] = Encode(nil, p.pre, p.post)
	}
	b.ReportAllocs()
	rounds := 0
	for b.Loop() {
		for i, p := range pairs {
			if _, err := Apply(encs[i], p.post); err != nil {
				b.Fatal(err)
			}
		}
		rounds++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rounds*len(pairs)), "ns/node")
	reportSizes(b, pairs)
}
