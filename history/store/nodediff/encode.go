package nodediff

import (
	"bytes"
	"encoding/binary"
)

// Encode appends to dst the encoding of pre against post: a branch diff when
// both are full nodes (17 items), a short diff when both are short nodes
// (2 items) with the same key item, and a full copy of pre otherwise (a
// change of type or key, an empty pre or post, input that is not a node) or
// when a branch diff would be no smaller than the full copy. It never fails,
// and Apply of its output with the same post gives back exactly pre.
func Encode(dst, pre, post []byte) []byte {
	if len(pre) == 0 || len(post) == 0 {
		return Full(dst, pre)
	}
	var preItems, postItems [branchItems][]byte
	preN, err := splitItems(pre, preItems[:])
	if err != nil {
		return Full(dst, pre)
	}
	postN, err := splitItems(post, postItems[:])
	if err != nil {
		return Full(dst, pre)
	}
	switch {
	case preN == branchItems && postN == branchItems:
		return encodeBranch(dst, pre, &preItems, &postItems)
	case preN == shortItems && postN == shortItems && bytes.Equal(preItems[0], postItems[0]):
		dst = append(dst, kindShort)
		return append(dst, preItems[1]...)
	}
	return Full(dst, pre)
}

// Full appends to dst a full copy of pre, whatever pre is: what a caller
// writes when it forces one (every k-th change of a node, a deletion).
func Full(dst, pre []byte) []byte {
	dst = append(dst, kindFull)
	return append(dst, pre...)
}

// encodeBranch appends the branch diff of pre against post, both split into
// their 17 items, or a full copy of pre if the diff is not the smaller.
func encodeBranch(dst, pre []byte, preItems, postItems *[branchItems][]byte) []byte {
	var (
		bitmap uint16
		kind   = kindBranch
		size   = 1 + bitmapLen
	)
	for i := range branchItems {
		if bytes.Equal(preItems[i], postItems[i]) {
			continue
		}
		if i == valueItem {
			kind |= flagValue
		} else {
			bitmap |= 1 << i
		}
		size += len(preItems[i])
	}
	if size >= 1+len(pre) {
		return Full(dst, pre)
	}
	dst = append(dst, kind)
	dst = binary.BigEndian.AppendUint16(dst, bitmap)
	for i := range branchItems {
		if !bytes.Equal(preItems[i], postItems[i]) {
			dst = append(dst, preItems[i]...)
		}
	}
	return dst
}
