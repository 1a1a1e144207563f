// Package nodediff writes a Merkle-Patricia trie node's previous value (pre)
// against its next value (post), so the history log keeps only what a change
// overwrote. Both values are trie node blobs as go-ethereum's trie package
// encodes them: a full (branch) node is an RLP list of 17 items (16 children,
// each the empty string 0x80, a hash 0xa0‖hash or an embedded node, then the
// value item); a short node is a 2-item list [compact key, value or child].
//
// Format (format.go). The first byte of an encoding is its kind:
//
//	full copy    0x00 ‖ pre
//	branch diff  0x01 or 0x81 ‖ bitmap (2 bytes, big-endian) ‖ items
//	short diff   0x02 ‖ pre's value item
//
// In a branch diff bit i of the bitmap (1<<i) is set when child i's raw RLP
// item in pre differs from post's, and the kind's high bit (0x81) when the
// value item (the 17th) does; items are pre's raw RLP items, header
// included, for the set bits in order, children 0..15 and then the value.
// A one-child diff of a 532-byte branch of 16 hash children is 36 bytes.
// A short diff is written only when pre and post carry the same key item.
//
// Encode writes a full copy whenever neither diff applies: a node that
// changes type or key, a pre that is empty (the node did not exist: the
// encoding is the single byte 0x00 and Apply gives back an empty value), a
// post that is empty (the node was deleted), input that does not split as
// one RLP list of 17 or 2 items, and a branch diff that would be no smaller
// than the full copy (all 17 items changed), which is never larger and ends
// a reader's chain of diffs. Full writes a full copy whatever pre and post
// are, for a caller that forces one (every k-th change of a node).
//
// Files, one concept each: format.go (kinds, errors, splitting a node into
// its items); encode.go (Encode, Full); apply.go (IsFull, Apply).
//
// Invariants:
//   - Apply(Encode(dst, pre, post)[len(dst):], post) is byte-identical to pre
//     for every pre and post, node blobs or not; Apply then never fails. Only
//     pre's raw items are copied, and the list header Apply writes around
//     them is the only canonical one, which is the one every list that
//     splits here carries.
//   - A full copy is the kind byte followed by pre, to the end of the
//     encoding: IsFull tells it, and Apply needs no post for it.
//   - Encode never fails and never reads beyond pre and post; Apply never
//     panics, and rejects with an error wrapping ErrMalformed an encoding it
//     cannot read to its last byte (unknown kind, truncated item, more bits
//     than items, bytes left over) and with ErrPostMismatch a post of
//     another shape than the diff's kind needs.
//   - Apply's result never aliases enc or post.
//   - No RLP is written here by hand: items are split with go-ethereum's rlp
//     package and lists re-assembled with its EncoderBuffer.
package nodediff
