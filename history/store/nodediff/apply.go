package nodediff

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/ethereum/go-ethereum/rlp"
)

// IsFull reports whether enc is a full copy: its pre-value is the rest of
// enc, and Apply needs no post for it.
func IsFull(enc []byte) bool {
	return len(enc) > 0 && enc[0] == kindFull
}

// Apply reconstructs pre from enc, as Encode or Full wrote it, and post, the
// value the diff was written against (ignored for a full copy). An empty
// pre (a full copy of nothing: the node did not exist) comes back as an
// empty slice. The result never aliases enc or post. An encoding that cannot
// be read to its last byte is an error wrapping ErrMalformed, a post that
// is not the node shape the diff needs one wrapping ErrPostMismatch; Apply
// never panics.
func Apply(enc, post []byte) ([]byte, error) {
	if len(enc) == 0 {
		return nil, fmt.Errorf("%w: empty encoding", ErrMalformed)
	}
	switch kind := enc[0]; kind {
	case kindFull:
		return bytes.Clone(enc[1:]), nil
	case kindBranch, kindBranch | flagValue:
		return applyBranch(enc, post)
	case kindShort:
		return applyShort(enc, post)
	default:
		return nil, fmt.Errorf("%w: unknown kind 0x%02x", ErrMalformed, kind)
	}
}

// applyBranch puts a branch diff's items in place of post's.
func applyBranch(enc, post []byte) ([]byte, error) {
	if len(enc) < 1+bitmapLen {
		return nil, fmt.Errorf("%w: branch diff of %d bytes has no bitmap", ErrMalformed, len(enc))
	}
	var items [branchItems][]byte
	if n, err := splitItems(post, items[:]); err != nil {
		return nil, fmt.Errorf("%w: branch diff against a post of %d bytes: %w", ErrPostMismatch, len(post), err)
	} else if n != branchItems {
		return nil, fmt.Errorf("%w: branch diff against a post of %d items, not %d", ErrPostMismatch, n, branchItems)
	}
	bitmap := binary.BigEndian.Uint16(enc[1:])
	value := enc[0]&flagValue != 0
	rest := enc[1+bitmapLen:]
	for i := range branchItems {
		if i == valueItem && !value || i < valueItem && bitmap&(1<<i) == 0 {
			continue
		}
		_, _, after, err := rlp.Split(rest)
		if err != nil {
			return nil, fmt.Errorf("%w: branch diff: %s: %w", ErrMalformed, itemName(i), err)
		}
		items[i] = rest[:len(rest)-len(after)]
		rest = after
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: branch diff: %d bytes after the items its bitmap names", ErrMalformed, len(rest))
	}
	return joinItems(items[:]), nil
}

// applyShort puts a short diff's value item in place of post's.
func applyShort(enc, post []byte) ([]byte, error) {
	value := enc[1:]
	if _, _, after, err := rlp.Split(value); err != nil {
		return nil, fmt.Errorf("%w: short diff: value item: %w", ErrMalformed, err)
	} else if len(after) != 0 {
		return nil, fmt.Errorf("%w: short diff: %d bytes after the value item", ErrMalformed, len(after))
	}
	var items [shortItems][]byte
	if n, err := splitItems(post, items[:]); err != nil {
		return nil, fmt.Errorf("%w: short diff against a post of %d bytes: %w", ErrPostMismatch, len(post), err)
	} else if n != shortItems {
		return nil, fmt.Errorf("%w: short diff against a post of %d items, not %d", ErrPostMismatch, n, shortItems)
	}
	items[1] = value
	return joinItems(items[:]), nil
}

// itemName names a branch's item i in an error.
func itemName(i int) string {
	if i == valueItem {
		return "value item"
	}
	return fmt.Sprintf("child %d", i)
}
