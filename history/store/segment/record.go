package segment

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// The bytes of a .seg file, little-endian:
//
//	file header (fileHeaderSize):
//	  [0:8]   fileMagic
//	  [8:16]  first block
//	  [16:20] capacity: the file holds blocks first..first+capacity-1
//	  [20:28] zero
//	  [28:32] CRC-32C (Castagnoli) of [0:28]
//	then one record per block, in block order:
//	  [0:4]   CRC-32C of the rest of the record: [4:recHeaderSize], the
//	          payload and the keys
//	  [4:8]   payload length
//	  [8:12]  key count
//	  [12:20] block number
//	  [20:24] recMagic
//	  payload
//	  keys: key count times (key u64, offset u32, length u32), offset and
//	  length into the payload, in the order Append was given them
//
// The keys travel with the record so that the open file's index is rebuilt
// by a scan; a sealed file's keys are also in its .idx, sorted. Zeros are
// never a record (the magic), so a file cut by overwriting with zeros (see
// handle.cut) ends where the zeros start.
const (
	fileHeaderSize = 32
	recHeaderSize  = 24
	recEntrySize   = 16

	fileMagic = "strSEG\x00\x01"
	recMagic  = 0x31524753 // "SGR1"

	// maxPayload and maxKeys bound one record, so that its size fits the
	// uint32 fields and a scan never allocates more than the file holds.
	maxPayload = 1<<31 - 1
	maxKeys    = 1<<27 - 1

	// maxBlocksPerFile bounds a file's capacity: a block's place in its
	// file is a uint32 in the index, and the in-memory tables are per block.
	maxBlocksPerFile = 1 << 24
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// recSize is the size of a record of plen payload bytes and nkeys keys.
func recSize(plen, nkeys uint32) int64 {
	return recHeaderSize + int64(plen) + int64(nkeys)*recEntrySize
}

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

// recHeader is a record's header, decoded.
type recHeader struct {
	crc   uint32
	plen  uint32
	nkeys uint32
	block uint64
}

func decodeRecHeader(b []byte) (h recHeader, ok bool) {
	if binary.LittleEndian.Uint32(b[20:]) != recMagic {
		return h, false
	}
	h = recHeader{
		crc:   binary.LittleEndian.Uint32(b[0:]),
		plen:  binary.LittleEndian.Uint32(b[4:]),
		nkeys: binary.LittleEndian.Uint32(b[8:]),
		block: binary.LittleEndian.Uint64(b[12:]),
	}
	return h, h.plen <= maxPayload && h.nkeys <= maxKeys
}

// appendRecord appends the record of block to buf.
func appendRecord(buf []byte, block uint64, payload []byte, keys []Entry) []byte {
	start := len(buf)
	var h [recHeaderSize]byte
	binary.LittleEndian.PutUint32(h[4:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(h[8:], uint32(len(keys)))
	binary.LittleEndian.PutUint64(h[12:], block)
	binary.LittleEndian.PutUint32(h[20:], recMagic)
	buf = append(buf, h[:]...)
	buf = append(buf, payload...)
	for _, k := range keys {
		buf = binary.LittleEndian.AppendUint64(buf, k.Key)
		buf = binary.LittleEndian.AppendUint32(buf, k.Off)
		buf = binary.LittleEndian.AppendUint32(buf, k.Len)
	}
	binary.LittleEndian.PutUint32(buf[start:], crc32.Checksum(buf[start+4:], castagnoli))
	return buf
}

// checkRecord verifies a whole record read back (header, payload, keys)
// against its checksum and the block it was read for.
func checkRecord(rec []byte, block uint64) error {
	h, ok := decodeRecHeader(rec)
	switch {
	case !ok:
		return errors.New("bad record header")
	case h.block != block:
		return fmt.Errorf("record of block %d where block %d was expected", h.block, block)
	case recSize(h.plen, h.nkeys) != int64(len(rec)):
		return errors.New("record length does not match the index")
	case crc32.Checksum(rec[4:], castagnoli) != h.crc:
		return errors.New("record checksum mismatch")
	}
	return nil
}

// decodeEntry is the i-th key of a record's keys.
func decodeEntry(keys []byte, i int) Entry {
	b := keys[i*recEntrySize:]
	return Entry{
		Key: binary.LittleEndian.Uint64(b),
		Off: binary.LittleEndian.Uint32(b[8:]),
		Len: binary.LittleEndian.Uint32(b[12:]),
	}
}

// scanStop says why a scan of a file's records ended before the file did.
type scanStop struct {
	off    int64 // where the first record not taken starts
	reason string
}

// scanRecords reads the records of a file of size bytes whose header says
// it starts at first and holds capacity blocks, from fileHeaderSize on, and
// calls fn for each valid one, in order (keys is the record's keys, valid
// during the call), until fn returns false (then end is that record's
// offset and stop nil). It stops at the end of the file
// (stop == nil) or at the first record that is not the next valid one: a
// short header or record, a bad magic or checksum, a block that does not
// follow, a key out of its payload, a block past the file's capacity.
// err is an I/O error of the read itself, not a bad record.
func scanRecords(h *handle, size int64, first uint64, capacity uint32,
	fn func(block uint64, off int64, plen uint32, keys []byte) bool) (end int64, stop *scanStop, err error) {
	off := int64(fileHeaderSize)
	if size <= off {
		return off, nil, nil
	}
	r := bufio.NewReaderSize(io.NewSectionReader(h.f, off, size-off), 1<<20)
	var hdr [recHeaderSize]byte
	var body []byte
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
		rs := recSize(rh.plen, rh.nkeys)
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
		keys := body[rh.plen:]
		for i := range int(rh.nkeys) {
			e := decodeEntry(keys, i)
			if uint64(e.Off)+uint64(e.Len) > uint64(rh.plen) {
				return off, &scanStop{off, fmt.Sprintf("block %d: key %d out of its payload", rh.block, i)}, nil
			}
		}
		if !fn(rh.block, off, rh.plen, keys) {
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
