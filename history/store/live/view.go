package live

import "github.com/ethereum/go-ethereum/common"

// view is one state of the layer list: the disk layer's block and root and
// the diff layers above it, oldest first, blocks consecutive from disk+1.
// A view is never modified; every change publishes a new one.
type view struct {
	diskBlock uint64
	diskRoot  common.Hash
	diskOK    bool // false: nothing flushed (an empty disk layer)
	layers    []*diff
	epoch     uint64 // the index epoch the view belongs to
	bytes     int    // memory the layers hold
}

// head is the newest layer's block and root, else the disk layer's.
func (v *view) head() (uint64, common.Hash, bool) {
	if n := len(v.layers); n > 0 {
		return v.layers[n-1].block, v.layers[n-1].root, true
	}
	return v.diskBlock, v.diskRoot, v.diskOK
}

// walk returns the value of key in the newest of layers[:n] writing it.
func (v *view) walk(key []byte, n int) (value, bool) {
	for i := n - 1; i >= 0; i-- {
		if val, ok := v.layers[i].get(key); ok {
			return val, true
		}
	}
	return value{}, false
}

// with returns a copy of v with layers replaced.
func (v *view) with(layers []*diff) *view {
	n := *v
	n.layers = layers
	n.bytes = 0
	for _, l := range layers {
		n.bytes += l.bytes
	}
	return &n
}
