package segment

import (
	"errors"
	"fmt"
)

// ErrNotFound is returned for a block the log does not hold: below its first
// block (pruned), above its last, dropped by TruncateAfter, or the log is
// empty.
var ErrNotFound = errors.New("segment: block not held")

// ErrClosed is returned by every method of a closed Log.
var ErrClosed = errors.New("segment: log closed")

// CorruptError names bytes of a file that are not what the log wrote: a
// sealed file (or its index, when it cannot be rebuilt) whose record or
// header fails its checksum, a gap between files, a file short of its
// blocks. The torn tail of the last file is not corruption: Open cuts it
// and reports it in Recovered.
type CorruptError struct {
	File   string // base name, e.g. 00000000000000000512.seg
	Offset int64  // where the bad bytes start
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("segment: %s is corrupt at offset %d: %s", e.File, e.Offset, e.Reason)
}

func corrupt(file string, off int64, format string, args ...any) *CorruptError {
	return &CorruptError{File: file, Offset: off, Reason: fmt.Sprintf(format, args...)}
}
