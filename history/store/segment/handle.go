package segment

import (
	"bytes"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// handle is an open file shared by the log's view and the readers that took
// it from the view: the log holds one reference while the file is in its
// view, a reader one for each read under way, and the last release closes
// the file. So PruneBefore or TruncateAfter may remove a file from the view
// (and from the disk) while a reader still reads it: the reader finishes on
// the open descriptor.
type handle struct {
	f    vfs.File
	name string // base name, for errors
	refs atomic.Int32
}

func newHandle(f vfs.File, name string) *handle {
	h := &handle{f: f, name: name}
	h.refs.Store(1)
	return h
}

// acquire takes a reference. The caller holds one already, or holds the
// log's mu (read) while h is in the view, so the count is above zero.
func (h *handle) acquire() { h.refs.Add(1) }

// release drops a reference; the last one closes the file.
func (h *handle) release() {
	if h.refs.Add(-1) == 0 {
		_ = h.f.Close()
	}
}

// readAt fills p from off, or fails: a short read is io.ErrUnexpectedEOF.
func (h *handle) readAt(p []byte, off int64) error {
	n, err := h.f.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("read %s at %d: %w", h.name, off, err)
}

// writeAt writes all of p at off.
func (h *handle) writeAt(p []byte, off int64) error {
	n, err := h.f.WriteAt(p, off)
	if err == nil && n != len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return fmt.Errorf("write %s at %d: %w", h.name, off, err)
	}
	return nil
}

// sync fsyncs the file.
func (h *handle) sync() error {
	if err := h.f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", h.name, err)
	}
	return nil
}

// truncater is a file that can be cut to a length: *os.File, and so the
// files of vfs.Default. vfs.File has no Truncate; files without one (vfs.MemFS,
// wrappers) are cut by writing zeros instead (see cut).
type truncater interface {
	Truncate(size int64) error
}

// zeros is what cut writes over the bytes it removes from a file that cannot
// be truncated.
var zeros = make([]byte, 64<<10)

// cut removes the bytes [off, end) of the file: it truncates the file to off
// when it can, and otherwise overwrites them with zeros, which no record
// scan takes for a record (a record header starts with a checksum and
// carries a magic number). Bytes past end are already zeros or absent. The
// caller syncs.
func (h *handle) cut(off, end int64) error {
	if t, ok := h.f.(truncater); ok {
		if err := t.Truncate(off); err != nil {
			return fmt.Errorf("truncate %s to %d: %w", h.name, off, err)
		}
		return nil
	}
	for off < end {
		n := min(int64(len(zeros)), end-off)
		if err := h.writeAt(zeros[:n], off); err != nil {
			return err
		}
		off += n
	}
	return nil
}

// allZero reports whether the bytes [off, end) of the file are all zeros.
func (h *handle) allZero(off, end int64) (bool, error) {
	buf := make([]byte, min(int64(len(zeros)), max(end-off, 0)))
	for off < end {
		n := min(int64(len(buf)), end-off)
		if err := h.readAt(buf[:n], off); err != nil {
			return false, err
		}
		if !bytes.Equal(buf[:n], zeros[:n]) {
			return false, nil
		}
		off += n
	}
	return true, nil
}

// size is the file's length.
func (h *handle) size() (int64, error) {
	st, err := h.f.Stat()
	if err != nil {
		return 0, fmt.Errorf("stat %s: %w", h.name, err)
	}
	return st.Size(), nil
}
