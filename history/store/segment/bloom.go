package segment

import "math/bits"

// bloom is a blocked Bloom filter over uint64 keys: a key sets k bits in one
// 512-bit block (one cache line), so a query touches one line whatever k is.
// At 10 bits per key it answers "maybe" for about 1% of absent keys.
//
// The keys are prefixes of keccak hashes, uniform, so a key's block is
// chosen by the key itself (its place in [0, 2^64) scaled to the blocks):
// keys added in sorted order (a seal) fill the blocks in order, one cache
// line after the other, instead of one cache miss per key. Its bits within
// the block come from a mix of the key. Keys that are not uniform still get
// correct answers, only more false positives.
type bloom struct {
	words []uint64 // a multiple of bloomBlockWords
	k     uint32
}

const (
	bloomBlockWords = 8 // 512 bits
	maxBloomK       = 16
)

// newBloom is an empty filter for n keys at bitsPerKey.
func newBloom(n, bitsPerKey int) bloom {
	blocks := (n*bitsPerKey + 511) / 512
	if blocks < 1 {
		blocks = 1
	}
	// k = bitsPerKey * ln 2, rounded; a blocked filter loses a little to
	// uneven blocks, which this does not try to win back.
	k := uint32((bitsPerKey*69 + 50) / 100)
	k = max(1, min(k, maxBloomK))
	return bloom{words: make([]uint64, blocks*bloomBlockWords), k: k}
}

// mix64 is splitmix64's finalizer: a bijection that spreads every input bit
// over the output.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// probes is where key's bits are: the first word of its block, and a
// generator of its bit numbers within the block.
func (b bloom) probes(key uint64) (base int, g uint64) {
	blk, _ := bits.Mul64(key, uint64(len(b.words)/bloomBlockWords))
	return int(blk) * bloomBlockWords, mix64(key ^ 0x9e3779b97f4a7c15)
}

// nextBit takes the next 9-bit bit number from the generator g, which has
// avail bits left, refilling it when they run out.
func nextBit(g *uint64, avail *int, i uint32) uint64 {
	if *avail < 9 {
		*g = mix64(*g + uint64(i))
		*avail = 64
	}
	bit := *g & 511
	*g >>= 9
	*avail -= 9
	return bit
}

// add sets key's bits.
func (b bloom) add(key uint64) {
	base, g := b.probes(key)
	avail := 64
	for i := range b.k {
		bit := nextBit(&g, &avail, i)
		b.words[base+int(bit>>6)] |= 1 << (bit & 63)
	}
}

// mayContain is false only for a key never added.
func (b bloom) mayContain(key uint64) bool {
	base, g := b.probes(key)
	avail := 64
	for i := range b.k {
		bit := nextBit(&g, &avail, i)
		if b.words[base+int(bit>>6)]&(1<<(bit&63)) == 0 {
			return false
		}
	}
	return true
}
