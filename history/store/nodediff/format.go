package nodediff

import (
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/rlp"
)

// Kinds: the first byte of an encoding.
const (
	kindFull   byte = 0x00 // pre follows whole
	kindBranch byte = 0x01 // bitmap, then pre's items that differ
	kindShort  byte = 0x02 // pre's value item
	// flagValue is set on kindBranch when the value item (the 17th) differs.
	flagValue byte = 0x80
)

const (
	branchItems = 17 // 16 children and the value
	valueItem   = 16 // index of a branch's value item
	shortItems  = 2  // key and value (or child)
	bitmapLen   = 2  // bytes of a branch diff's bitmap
)

var (
	// ErrMalformed is wrapped by Apply's errors for an encoding it cannot
	// read.
	ErrMalformed = errors.New("malformed node diff")
	// ErrPostMismatch is wrapped by Apply's errors for a post-value of
	// another shape than the encoding's kind needs.
	ErrPostMismatch = errors.New("post-value does not fit the node diff")
)

// splitItems splits blob, one RLP list and nothing after it, into its raw
// items (each item's whole encoding, header included, aliasing blob), stored
// in out; it returns how many there are. A blob that is not such a list, has
// an item that does not split, or has more items than out holds is an error.
// The list header is checked to be the canonical one for its content, so
// re-assembling the items with rlp.EncoderBuffer gives blob back.
func splitItems(blob []byte, out [][]byte) (int, error) {
	content, rest, err := rlp.SplitList(blob)
	if err != nil {
		return 0, err
	}
	if len(rest) != 0 {
		return 0, fmt.Errorf("%d bytes after the list", len(rest))
	}
	if uint64(len(blob)) != rlp.ListSize(uint64(len(content))) {
		return 0, fmt.Errorf("list header of %d bytes is not canonical", len(blob)-len(content))
	}
	n := 0
	for len(content) > 0 {
		if n == len(out) {
			return 0, fmt.Errorf("more than %d items", len(out))
		}
		_, _, after, err := rlp.Split(content)
		if err != nil {
			return 0, fmt.Errorf("item %d: %w", n, err)
		}
		out[n] = content[:len(content)-len(after)]
		content = after
		n++
	}
	return n, nil
}

// joinItems returns the RLP list of items, each already encoded.
func joinItems(items [][]byte) []byte {
	w := rlp.NewEncoderBuffer(nil)
	defer w.Flush()
	list := w.List()
	for _, item := range items {
		w.Write(item)
	}
	w.ListEnd(list)
	return w.ToBytes()
}
