package segment

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// The bytes of a .seg file, format version 2, little-endian:
//
//	file header (fileHeaderSize):
//	  [0:8]   fileMagic: "strSEG\x00" and the format version (2)
//	  [8:16]  first block
//	  [16:20] capacity: the file holds blocks first..first+capacity-1
//	  [20:28] zero
//	  [28:32] CRC-32C (Castagnoli) of [0:28]
//	then one record per block, in block order:
//	  [0:4]   CRC-32C of the rest of the record: [4:recHeaderSize], the
//	          payload and the entry table
//	  [4:8]   payload length
//	  [8:12]  key count n
//	  [12:16] entry table length in bytes
//	  [16:24] block number
//	  [24:28] flags: recExplicit, or 0; no other bit is set
//	  [28:32] recMagic
//	  payload
//	  entry table, in the order Append was given the entries:
//	    n keys, u64 each, then
//	    - flags 0 (the entries are contiguous: the first at offset 0, each
//	      next one where the one before ends): n lengths, uvarint each;
//	      an entry's offset is the sum of the lengths before it;
//	    - recExplicit (any other entries): n times (offset u32, length u32).
//
// Append picks the contiguous form whenever the entries allow it (a history
// record's always do): 8 bytes and a 1-2 byte length per entry instead of
// 16. The entries travel with the record so that the open file's index is
// rebuilt by a scan; a sealed file's keys are also in its .idx, sorted, and
// a lookup there reads an entry's offset and length back from this table.
// Zeros are never a record (the magic), so a file cut by overwriting with
// zeros (see handle.cut) ends where the zeros start.
//
// Format version 1 (16 bytes per entry: key, offset, length, and a 24-byte
// record header without the table length and flags) never shipped: a
// version 1 file is refused (a *CorruptError naming its version), not
// migrated.
const (
	fileHeaderSize = 32
	recHeaderSize  = 32

	segVersion  = 2
	fileMagic   = "strSEG\x00\x02"
	magicPrefix = "strSEG\x00"
	recMagic    = 0x32524753 // "SGR2"

	// recExplicit flags a record whose entries are not contiguous: each
	// has its offset in the table.
	recExplicit = 1

	// maxPayload and maxKeys bound one record, so that its size fits the
	// uint32 fields and a scan never allocates more than the file holds.
	maxPayload = 1<<31 - 1
	maxKeys    = 1<<27 - 1

	// maxBlocksPerFile bounds a file's capacity: the in-memory tables are
	// per block.
	maxBlocksPerFile = 1 << 24
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// encodeFileHeader is the header of a file starting at first.
func encodeFileHeader(first uint64, capacity uint32) []byte {
	b := make([]byte, fileHeaderSize)
	copy(b, fileMagic)
	binary.LittleEndian.PutUint64(b[8:], first)
	binary.LittleEndian.PutUint32(b[16:], capacity)
	binary.LittleEndian.PutUint32(b[28:], crc32.Checksum(b[:28], castagnoli))
	return b
}

// decodeFileHeader reads a file header; ok is false for anything that is
// not one (short, wrong magic, bad checksum, capacity out of range).
func decodeFileHeader(b []byte) (first uint64, capacity uint32, ok bool) {
	if len(b) < fileHeaderSize || string(b[:8]) != fileMagic ||
		binary.LittleEndian.Uint32(b[28:]) != crc32.Checksum(b[:28], castagnoli) {
		return 0, 0, false
	}
	capacity = binary.LittleEndian.Uint32(b[16:])
	if capacity == 0 || capacity > maxBlocksPerFile {
		return 0, 0, false
	}
	return binary.LittleEndian.Uint64(b[8:]), capacity, true
}

// otherVersion reports the format version of a whole, valid file header
// of a version this build does not read (0 if b is not one): such a file
// is refused, never taken for a torn header and cut.
func otherVersion(b []byte) byte {
	if len(b) < fileHeaderSize || string(b[:7]) != magicPrefix || b[7] == segVersion ||
		binary.LittleEndian.Uint32(b[28:]) != crc32.Checksum(b[:28], castagnoli) {
		return 0
	}
	return b[7]
}

// versionError is the error for a file of format version v.
func versionError(name string, v byte) error {
	return corrupt(name, 7, "format version %d, this build reads version %d only (version %d never shipped: no migration)", v, segVersion, v)
}

// blockLoc is where a block's record is in its file.
type blockLoc struct {
	off      int64  // the record's first byte
	plen     uint32 // payload length
	nkeys    uint32 // key count
	tlen     uint32 // entry table length
	explicit bool   // the table's form (recExplicit)
}

// size is the record's length.
func (b blockLoc) size() int64 { return recHeaderSize + int64(b.plen) + int64(b.tlen) }

func (b blockLoc) end() int64 { return b.off + b.size() }

// tableOff is where the record's lengths (or offsets and lengths) start,
// past its keys.
func (b blockLoc) tableOff() int64 {
	return b.off + recHeaderSize + int64(b.plen) + int64(b.nkeys)*8
}

// recHeader is a record's header, decoded.
type recHeader struct {
	crc   uint32
	loc   blockLoc // but off
	block uint64
}

func decodeRecHeader(b []byte) (h recHeader, ok bool) {
	if binary.LittleEndian.Uint32(b[28:]) != recMagic {
		return h, false
	}
	flags := binary.LittleEndian.Uint32(b[24:])
	h = recHeader{
		crc: binary.LittleEndian.Uint32(b[0:]),
		loc: blockLoc{
			plen:     binary.LittleEndian.Uint32(b[4:]),
			nkeys:    binary.LittleEndian.Uint32(b[8:]),
			tlen:     binary.LittleEndian.Uint32(b[12:]),
			explicit: flags&recExplicit != 0,
		},
		block: binary.LittleEndian.Uint64(b[16:]),
	}
	l := h.loc
	n := uint64(l.nkeys)
	ok = flags&^recExplicit == 0 && l.plen <= maxPayload && n <= maxKeys
	if l.explicit {
		ok = ok && uint64(l.tlen) == 16*n
	} else {
		ok = ok && uint64(l.tlen) >= 9*n && uint64(l.tlen) <= (8+binary.MaxVarintLen32)*n
	}
	return h, ok
}

// contiguous reports whether keys are contiguous: the first at offset 0,
// each next one where the one before ends.
func contiguous(keys []Entry) bool {
	off := uint64(0)
	for _, k := range keys {
		if uint64(k.Off) != off {
			return false
		}
		off += uint64(k.Len)
	}
	return true
}

// appendRecord appends the record of block to buf, and returns where it is
// (off 0).
func appendRecord(buf []byte, block uint64, payload []byte, keys []Entry) ([]byte, blockLoc) {
	start := len(buf)
	explicit := !contiguous(keys)
	var h [recHeaderSize]byte
	binary.LittleEndian.PutUint32(h[4:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(h[8:], uint32(len(keys)))
	binary.LittleEndian.PutUint64(h[16:], block)
	if explicit {
		binary.LittleEndian.PutUint32(h[24:], recExplicit)
	}
	binary.LittleEndian.PutUint32(h[28:], recMagic)
	buf = append(buf, h[:]...)
	buf = append(buf, payload...)
	tstart := len(buf)
	for _, k := range keys {
		buf = binary.LittleEndian.AppendUint64(buf, k.Key)
	}
	for _, k := range keys {
		if explicit {
			buf = binary.LittleEndian.AppendUint32(buf, k.Off)
			buf = binary.LittleEndian.AppendUint32(buf, k.Len)
		} else {
			buf = binary.AppendUvarint(buf, uint64(k.Len))
		}
	}
	tlen := uint32(len(buf) - tstart)
	binary.LittleEndian.PutUint32(buf[start+12:], tlen)
	binary.LittleEndian.PutUint32(buf[start:], crc32.Checksum(buf[start+4:], castagnoli))
	return buf, blockLoc{plen: uint32(len(payload)), nkeys: uint32(len(keys)), tlen: tlen, explicit: explicit}
}

// checkRecord verifies a whole record read back (header, payload, table)
// against its checksum and the block it was read for.
func checkRecord(rec []byte, block uint64) error {
	h, ok := decodeRecHeader(rec)
	switch {
	case !ok:
		return errors.New("bad record header")
	case h.block != block:
		return fmt.Errorf("record of block %d where block %d was expected", h.block, block)
	case h.loc.size() != int64(len(rec)):
		return errors.New("record length does not match the index")
	case crc32.Checksum(rec[4:], castagnoli) != h.crc:
		return errors.New("record checksum mismatch")
	}
	return nil
}

// decodeTable decodes a record's entry table (loc says its form and
// length) into ents, reused; ok is false if the table is not well formed
// or an entry is out of the payload.
func decodeTable(loc blockLoc, table []byte, ents []Entry) ([]Entry, bool) {
	n := int(loc.nkeys)
	ents = ents[:0]
	if len(table) != int(loc.tlen) || len(table) < 8*n {
		return ents, false
	}
	keys, rest := table[:8*n], table[8*n:]
	off := uint64(0)
	for i := range n {
		e := Entry{Key: binary.LittleEndian.Uint64(keys[8*i:])}
		if loc.explicit {
			e.Off = binary.LittleEndian.Uint32(rest[8*i:])
			e.Len = binary.LittleEndian.Uint32(rest[8*i+4:])
		} else {
			v, w := binary.Uvarint(rest)
			if w <= 0 || v > maxPayload {
				return ents, false
			}
			rest = rest[w:]
			e.Off, e.Len = uint32(off), uint32(v)
			off += v
		}
		if uint64(e.Off)+uint64(e.Len) > uint64(loc.plen) {
			return ents, false
		}
		ents = append(ents, e)
	}
	if !loc.explicit && len(rest) != 0 {
		return ents, false
	}
	return ents, true
}

// scanStop says why a scan of a file's records ended before the file did.
type scanStop struct {
	off    int64 // where the first record not taken starts
	reason string
}

// scanRecords reads the records of a file of size bytes whose header says
// it starts at first and holds capacity blocks, from fileHeaderSize on, and
// calls fn for each valid one, in order (ents is the record's entries,
// valid during the call), until fn returns false (then end is that record's
// offset and stop nil). It stops at the end of the file
// (stop == nil) or at the first record that is not the next valid one: a
// short header or record, a bad magic or checksum, a block that does not
// follow, a malformed entry table or an entry out of its payload, a block
// past the file's capacity. err is an I/O error of the read itself, not a
// bad record.
func scanRecords(h *handle, size int64, first uint64, capacity uint32,
	fn func(block uint64, loc blockLoc, ents []Entry) bool) (end int64, stop *scanStop, err error) {
	off := int64(fileHeaderSize)
	if size <= off {
		return off, nil, nil
	}
	r := bufio.NewReaderSize(io.NewSectionReader(h.f, off, size-off), 1<<20)
	var hdr [recHeaderSize]byte
	var body []byte
	var ents []Entry
	next := first
	for n := uint32(0); ; n++ {
		if off == size {
			return off, nil, nil
		}
		if size-off < recHeaderSize {
			return off, &scanStop{off, "short record header"}, nil
		}
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return off, nil, fmt.Errorf("read %s at %d: %w", h.name, off, err)
		}
		rh, ok := decodeRecHeader(hdr[:])
		if !ok {
			return off, &scanStop{off, "bad record header"}, nil
		}
		loc := rh.loc
		loc.off = off
		rs := loc.size()
		if size-off < rs {
			return off, &scanStop{off, "short record"}, nil
		}
		body = grow(body, int(rs-recHeaderSize))
		if _, err := io.ReadFull(r, body); err != nil {
			return off, nil, fmt.Errorf("read %s at %d: %w", h.name, off, err)
		}
		crc := crc32.Update(crc32.Checksum(hdr[4:], castagnoli), castagnoli, body)
		if crc != rh.crc {
			return off, &scanStop{off, "record checksum mismatch"}, nil
		}
		if n >= capacity {
			return off, &scanStop{off, fmt.Sprintf("block %d past the file's %d blocks", rh.block, capacity)}, nil
		}
		if rh.block != next {
			return off, &scanStop{off, fmt.Sprintf("block %d where block %d should follow", rh.block, next)}, nil
		}
		if ents, ok = decodeTable(loc, body[loc.plen:], ents); !ok {
			return off, &scanStop{off, fmt.Sprintf("block %d: bad entry table, or an entry out of its payload", rh.block)}, nil
		}
		if !fn(rh.block, loc, ents) {
			return off, nil, nil
		}
		off += rs
		next++
	}
}

// grow returns b resized to n, reusing its array when it is large enough.
func grow(b []byte, n int) []byte {
	if cap(b) >= n {
		return b[:n]
	}
	return make([]byte, n)
}
