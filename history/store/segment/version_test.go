package segment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/stretchr/testify/require"
)

// withVersion is a copy of a .seg's bytes with the header's format version
// set to v, its checksum valid.
func withVersion(b []byte, v byte) []byte {
	b = bytes.Clone(b)
	b[7] = v
	binary.LittleEndian.PutUint32(b[28:], crc32.Checksum(b[:28], castagnoli))
	return b
}

// TestFormatVersion: a .seg of another format version is refused with a
// *CorruptError naming its version, never cut as a torn header, whether it
// is the last file or a sealed one; an .idx of another version is rebuilt.
func TestFormatVersion(t *testing.T) {
	for _, name := range []string{fuzzSeg0, fuzzSeg4} {
		t.Run(name, func(t *testing.T) {
			fs, _ := fuzzBase(t)
			writeFile(t, fs, name, withVersion(readFile(t, fs, name), 1))
			_, err := Open(Options{FS: fs, Dir: "log", BlocksPerFile: 4})
			var ce *CorruptError
			require.True(t, errors.As(err, &ce), "%v", err)
			require.Equal(t, name[len("log/"):], ce.File)
			require.Contains(t, ce.Reason, "format version 1")
		})
	}
	t.Run("index", func(t *testing.T) {
		fs, m := fuzzBase(t)
		b := readFile(t, fs, fuzzIdx0)
		b[7] = 1
		writeFile(t, fs, fuzzIdx0, b)
		l := mustOpen(t, Options{FS: fs, Dir: "log", BlocksPerFile: 4})
		defer l.Close()
		rep := l.Recovered()
		require.Len(t, rep.Rebuilt, 1, "%v", rep)
		require.Contains(t, rep.Rebuilt[0], "index format version 1")
		check(t, l, m)
	})
}
