package segment

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/bits"
	"slices"
	"sort"
	"sync"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// The bytes of a .idx file, the sidecar index of a sealed .seg, format
// version 2, little-endian:
//
//	header (idxHeaderSize):
//	  [0:8]   idxMagic: "strIDX\x00" and the format version (2)
//	  [8:16]  first block      [16:20] blocks    [20:24] capacity
//	  [24:32] key count        [32:40] bytes of the .seg it indexes
//	  [40:48] bloom words      [48:52] bloom k   [52:56] keys per chunk
//	  [56]    ordinal width, bytes (0-4)          [57:60] zero
//	  [60:64] group count
//	block table: per block, its record's offset u64, payload length u32,
//	  key count u32, entry table length u32, flags u32 (as in its header)
//	groups: per block whose entries are contiguous (flags 0), per group g
//	  of groupEntries of its entries but the first (g = 1..(keys-1)/
//	  groupEntries): its first entry's payload offset u32 and where that
//	  entry's length is in the record's lengths (bytes past the keys) u32
//	chunks: per chunk of keys, its first key u64 and that key's ordinal u32,
//	  the width in bytes (0-8) of its keys' differences u8, and the CRC-32C
//	  of its keys' bytes u32
//	bloom: the filter's words, u64 each
//	CRC-32C of everything above (the meta section), u32
//	keys: sorted by key, then ordinal; chunk after chunk, each key as its
//	  difference from its chunk's first key (the chunk's width) and its
//	  ordinal (the ordinal width)
//
// A key's ordinal is its place in the file's entries in append order (block
// order, then the order Append was given them): its block is found in the
// block table's key counts, its offset and length in the block's record,
// read from the .seg: fixed-size for an explicit table, else from the
// group's offset summing the lengths before it (fewer than groupEntries
// uvarints, one small read). For a full file of full blocks (1.9 M uniform
// keys) a key takes 7 bytes of difference and 3 of ordinal, and the bloom
// filter 1.25: about 11.3 bytes per key in all, where version 1 took 21.4
// (each key u64, block u32, offset u32, length u32). A version 1 index (it
// never shipped) is not read: Open rebuilds it from the .seg.
//
// Open reads the meta section (a few MB for a full file of full blocks:
// mostly the bloom) and checks its checksum; a lookup reads one chunk of
// keys (about a KB) and checks that chunk's, then a few hundred bytes of
// the record's lengths. The keys themselves are never read whole.
const (
	idxVersion    = 2
	idxMagic      = "strIDX\x00\x02"
	idxPrefix     = "strIDX\x00"
	idxHeaderSize = 64
	idxBlockSize  = 24
	idxGroupSize  = 8
	idxChunkSize  = 17
	chunkEntries  = 128
	maxChunk      = 1 << 16
	groupEntries  = 64
)

// fence is the first key of a chunk of a sealed file's sorted keys.
type fence struct {
	key uint64
	ord uint32
	w   uint8 // the chunk's difference width
}

// group is where the group-th groupEntries of a block's contiguous entries
// start.
type group struct {
	off uint32 // payload offset of its first entry
	pos uint32 // that entry's length's place in the record's lengths
}

// sealedFile is a sealed file: its blocks and index, read-only. Everything
// but the keys is in memory; the keys are read a chunk at a time from idx.
type sealedFile struct {
	name, idxName string // base names
	first         uint64
	capacity      uint32
	seg, idx      *handle
	segBytes      int64 // the records' end in the .seg
	idxBytes      int64

	blocks     []blockLoc // len == capacity
	ords       []uint32   // the first ordinal of each block, and the key count: len(blocks)+1
	gstart     []uint32   // each block's first group in groups: len(blocks)+1
	groups     []group
	nentries   uint64
	chunk      uint32
	ordWidth   int
	fences     []fence
	crcs       []uint32
	chunkOff   []int64 // each chunk's first byte in the .idx, and the keys' end
	bloom      bloom
	entriesOff int64
}

func (f *sealedFile) last() uint64 { return f.first + uint64(len(f.blocks)) - 1 }

// release drops the log's references on the file's handles.
func (f *sealedFile) release() {
	f.seg.release()
	if f.idx != nil {
		f.idx.release()
	}
}

// sortRec is a key of a file being sealed and its ordinal.
type sortRec struct {
	key uint64
	ord uint32
}

// sortEntries is the file's keys sorted by key, keys equal kept in append
// order (ordinal order). The keys are uniform (hash prefixes), so
// one pass scatters them into buckets by their top bits, each small enough
// to sort in cache: a seal of 1.9 M keys takes tens of milliseconds where a
// comparison sort over the whole takes hundreds. Skewed keys only make the
// buckets larger, never the order wrong.
func sortEntries(entries []memEntry) []sortRec {
	out := make([]sortRec, len(entries))
	if len(entries) < 4096 {
		for i, e := range entries {
			out[i] = sortRec{e.key, uint32(i)}
		}
		slices.SortStableFunc(out, func(a, b sortRec) int { return cmp.Compare(a.key, b.key) })
		return out
	}
	const bucketBits = 16
	start := make([]int, 1<<bucketBits+1)
	for _, e := range entries {
		start[e.key>>(64-bucketBits)+1]++
	}
	for i := 1; i < len(start); i++ {
		start[i] += start[i-1]
	}
	next := slices.Clone(start[:1<<bucketBits])
	for i, e := range entries {
		d := e.key >> (64 - bucketBits)
		out[next[d]] = sortRec{e.key, uint32(i)}
		next[d]++
	}
	for d := range 1 << bucketBits {
		b := out[start[d]:start[d+1]]
		if len(b) > 64 {
			slices.SortStableFunc(b, func(a, b sortRec) int { return cmp.Compare(a.key, b.key) })
			continue
		}
		for i := 1; i < len(b); i++ { // insertion sort: stable
			for j := i; j > 0 && b[j].key < b[j-1].key; j-- {
				b[j], b[j-1] = b[j-1], b[j]
			}
		}
	}
	return out
}

// byteWidth is the bytes x takes, little-endian, without its zero top
// bytes.
func byteWidth(x uint64) int { return (bits.Len64(x) + 7) / 8 }

// putUint writes the w low bytes of x to b, little-endian.
func putUint(b []byte, x uint64, w int) {
	for i := range w {
		b[i] = byte(x >> (8 * i))
	}
}

// getUint reads w bytes of b, little-endian.
func getUint(b []byte, w int) uint64 {
	if w == 8 {
		return binary.LittleEndian.Uint64(b)
	}
	var x uint64
	for i := w - 1; i >= 0; i-- {
		x = x<<8 | uint64(b[i])
	}
	return x
}

// blockGroups appends the groups of a block's contiguous entries (as the
// open file holds them) to groups.
func blockGroups(groups []group, ents []memEntry) []group {
	pos := 0
	for i, e := range ents {
		if i > 0 && i%groupEntries == 0 {
			groups = append(groups, group{off: e.off, pos: uint32(pos)})
		}
		pos += uvarintLen(uint64(e.len))
	}
	return groups
}

func uvarintLen(x uint64) int { return (bits.Len64(x|1) + 6) / 7 }

// indexTables fills the tables of sf derived from its blocks: ords, gstart.
// It reports the group count the blocks call for.
func (sf *sealedFile) indexTables() uint64 {
	sf.ords = make([]uint32, len(sf.blocks)+1)
	sf.gstart = make([]uint32, len(sf.blocks)+1)
	var ord, g uint64
	for i, b := range sf.blocks {
		sf.ords[i], sf.gstart[i] = uint32(ord), uint32(g)
		ord += uint64(b.nkeys)
		if !b.explicit && b.nkeys > 0 {
			g += uint64(b.nkeys-1) / groupEntries
		}
	}
	sf.ords[len(sf.blocks)], sf.gstart[len(sf.blocks)] = uint32(ord), uint32(g)
	return g
}

// buildIndex is the .idx of a full file (blocks, entries as the open file
// holds them) and the sealedFile it describes (without handles).
func buildIndex(name string, first uint64, capacity uint32, blocks []blockLoc, entries []memEntry,
	segBytes int64, bitsPerKey int) ([]byte, *sealedFile) {
	n := uint64(len(entries))
	nchunks := int((n + chunkEntries - 1) / chunkEntries)
	bl := newBloom(len(entries), bitsPerKey)
	sf := &sealedFile{
		name: name, idxName: idxName(first), first: first, capacity: capacity,
		segBytes: segBytes, blocks: slices.Clone(blocks), nentries: n, chunk: chunkEntries,
		fences: make([]fence, nchunks), crcs: make([]uint32, nchunks), chunkOff: make([]int64, nchunks+1),
		bloom: bl,
	}
	ngroups := sf.indexTables()
	sf.groups = make([]group, 0, ngroups)
	for i, b := range blocks {
		if !b.explicit {
			sf.groups = blockGroups(sf.groups, entries[sf.ords[i]:sf.ords[i+1]])
		}
	}
	if n > 0 {
		sf.ordWidth = byteWidth(n - 1)
	}

	sorted := sortEntries(entries)
	metaSize := idxHeaderSize + len(blocks)*idxBlockSize + len(sf.groups)*idxGroupSize +
		nchunks*idxChunkSize + len(bl.words)*8 + 4
	sf.entriesOff = int64(metaSize)
	keysSize := 0
	for c := range nchunks {
		lo, hi := c*chunkEntries, min((c+1)*chunkEntries, len(sorted))
		w := byteWidth(sorted[hi-1].key - sorted[lo].key)
		sf.fences[c] = fence{key: sorted[lo].key, ord: sorted[lo].ord, w: uint8(w)}
		sf.chunkOff[c] = int64(metaSize + keysSize)
		keysSize += (hi - lo) * (w + sf.ordWidth)
	}
	sf.chunkOff[nchunks] = int64(metaSize + keysSize)
	data := make([]byte, metaSize+keysSize)

	for c := range nchunks {
		lo, hi := c*chunkEntries, min((c+1)*chunkEntries, len(sorted))
		fc := sf.fences[c]
		es := int(fc.w) + sf.ordWidth
		b := data[sf.chunkOff[c]:sf.chunkOff[c+1]]
		for j, e := range sorted[lo:hi] {
			putUint(b[j*es:], e.key-fc.key, int(fc.w))
			putUint(b[j*es+int(fc.w):], uint64(e.ord), sf.ordWidth)
			bl.add(e.key)
		}
		sf.crcs[c] = crc32.Checksum(b, castagnoli)
	}

	h := data[:idxHeaderSize]
	copy(h, idxMagic)
	binary.LittleEndian.PutUint64(h[8:], first)
	binary.LittleEndian.PutUint32(h[16:], uint32(len(blocks)))
	binary.LittleEndian.PutUint32(h[20:], capacity)
	binary.LittleEndian.PutUint64(h[24:], n)
	binary.LittleEndian.PutUint64(h[32:], uint64(segBytes))
	binary.LittleEndian.PutUint64(h[40:], uint64(len(bl.words)))
	binary.LittleEndian.PutUint32(h[48:], bl.k)
	binary.LittleEndian.PutUint32(h[52:], chunkEntries)
	h[56] = byte(sf.ordWidth)
	binary.LittleEndian.PutUint32(h[60:], uint32(len(sf.groups)))
	b := data[idxHeaderSize:]
	for _, l := range blocks {
		binary.LittleEndian.PutUint64(b, uint64(l.off))
		binary.LittleEndian.PutUint32(b[8:], l.plen)
		binary.LittleEndian.PutUint32(b[12:], l.nkeys)
		binary.LittleEndian.PutUint32(b[16:], l.tlen)
		if l.explicit {
			binary.LittleEndian.PutUint32(b[20:], recExplicit)
		}
		b = b[idxBlockSize:]
	}
	for _, g := range sf.groups {
		binary.LittleEndian.PutUint32(b, g.off)
		binary.LittleEndian.PutUint32(b[4:], g.pos)
		b = b[idxGroupSize:]
	}
	for c, f := range sf.fences {
		binary.LittleEndian.PutUint64(b, f.key)
		binary.LittleEndian.PutUint32(b[8:], f.ord)
		b[12] = f.w
		binary.LittleEndian.PutUint32(b[13:], sf.crcs[c])
		b = b[idxChunkSize:]
	}
	for _, w := range bl.words {
		binary.LittleEndian.PutUint64(b, w)
		b = b[8:]
	}
	binary.LittleEndian.PutUint32(b, crc32.Checksum(data[:metaSize-4], castagnoli))
	sf.idxBytes = int64(len(data))
	return data, sf
}

// writeIndex writes data as the .idx of the file starting at first: to a
// temporary name, synced, renamed, the directory synced. The handle it
// returns reads the index.
func (l *Log) writeIndex(first uint64, data []byte) (*handle, error) {
	tmp, final := l.path(idxTmpName(first)), l.path(idxName(first))
	f, err := l.fs.Create(tmp, vfs.WriteCategoryUnspecified)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", idxTmpName(first), err)
	}
	h := newHandle(f, idxName(first))
	err = h.writeAt(data, 0)
	if err == nil && !l.opts.NoSync {
		err = h.sync()
	}
	if err == nil {
		if err = l.fs.Rename(tmp, final); err != nil {
			err = fmt.Errorf("rename %s: %w", idxTmpName(first), err)
		}
	}
	if err == nil {
		err = l.syncDir()
	}
	if err != nil {
		h.release()
		return nil, err
	}
	return h, nil
}

// loadIndex reads the meta section of the .idx of sf (sf.name, first and
// capacity set from the .seg's header, segSize its length) and fills sf. A
// file that is not a valid index of that .seg (an index of another format
// version included) is a *CorruptError (Open then rebuilds it); any other
// error is of the read itself.
func loadIndex(sf *sealedFile, idx *handle, segSize int64) error {
	name := idx.name
	size, err := idx.size()
	if err != nil {
		return err
	}
	bad := func(off int64, format string, args ...any) error { return corrupt(name, off, format, args...) }
	if size < idxHeaderSize+4 {
		return bad(0, "%d bytes is too short for an index", size)
	}
	var h [idxHeaderSize]byte
	if err := idx.readAt(h[:], 0); err != nil {
		return err
	}
	if string(h[:7]) == idxPrefix && h[7] != idxVersion {
		return bad(7, "index format version %d, this build reads version %d", h[7], idxVersion)
	}
	if string(h[:8]) != idxMagic {
		return bad(0, "not an index (magic)")
	}
	first := binary.LittleEndian.Uint64(h[8:])
	count := uint64(binary.LittleEndian.Uint32(h[16:]))
	capacity := binary.LittleEndian.Uint32(h[20:])
	n := binary.LittleEndian.Uint64(h[24:])
	segBytes := binary.LittleEndian.Uint64(h[32:])
	words := binary.LittleEndian.Uint64(h[40:])
	k := binary.LittleEndian.Uint32(h[48:])
	chunk := uint64(binary.LittleEndian.Uint32(h[52:]))
	ordWidth := int(h[56])
	ngroups := uint64(binary.LittleEndian.Uint32(h[60:]))
	switch {
	case first != sf.first || capacity != sf.capacity:
		return bad(8, "index of blocks %d+%d, the file holds %d+%d", first, capacity, sf.first, sf.capacity)
	case count != uint64(capacity):
		return bad(16, "index of %d blocks, a sealed file holds %d", count, capacity)
	case chunk == 0 || chunk > maxChunk:
		return bad(52, "chunk of %d keys", chunk)
	case k == 0 || k > maxBloomK || words == 0 || words%bloomBlockWords != 0:
		return bad(40, "bloom of %d words, k %d", words, k)
	case n > maxFileKeys || n > uint64(size) || words > uint64(size)/8 || ngroups > uint64(size)/idxGroupSize:
		return bad(24, "%d keys, %d groups and %d bloom words do not fit %d bytes", n, ngroups, words, size)
	case n > 0 && ordWidth != byteWidth(n-1) || n == 0 && ordWidth != 0:
		return bad(56, "ordinals of %d bytes for %d keys", ordWidth, n)
	case h[57] != 0 || h[58] != 0 || h[59] != 0:
		return bad(57, "bad header")
	}
	nchunks := (n + chunk - 1) / chunk
	metaSize := idxHeaderSize + count*idxBlockSize + ngroups*idxGroupSize + nchunks*idxChunkSize + words*8 + 4
	if metaSize > uint64(size) {
		return bad(0, "index of %d bytes, its meta section alone %d", size, metaSize)
	}
	meta := make([]byte, metaSize)
	if err := idx.readAt(meta, 0); err != nil {
		return err
	}
	if crc32.Checksum(meta[:metaSize-4], castagnoli) != binary.LittleEndian.Uint32(meta[metaSize-4:]) {
		return bad(0, "index checksum mismatch")
	}

	b := meta[idxHeaderSize:]
	sf.blocks = make([]blockLoc, count)
	end, keys := int64(fileHeaderSize), uint64(0)
	for i := range sf.blocks {
		flags := binary.LittleEndian.Uint32(b[20:])
		l := blockLoc{
			off:      int64(binary.LittleEndian.Uint64(b)),
			plen:     binary.LittleEndian.Uint32(b[8:]),
			nkeys:    binary.LittleEndian.Uint32(b[12:]),
			tlen:     binary.LittleEndian.Uint32(b[16:]),
			explicit: flags&recExplicit != 0,
		}
		// The header checks of the record's own fields.
		var rh [recHeaderSize]byte
		binary.LittleEndian.PutUint32(rh[4:], l.plen)
		binary.LittleEndian.PutUint32(rh[8:], l.nkeys)
		binary.LittleEndian.PutUint32(rh[12:], l.tlen)
		binary.LittleEndian.PutUint32(rh[24:], flags)
		binary.LittleEndian.PutUint32(rh[28:], recMagic)
		if _, ok := decodeRecHeader(rh[:]); !ok || l.off != end {
			return bad(int64(idxHeaderSize+i*idxBlockSize), "block table entry %d is not the next record", i)
		}
		sf.blocks[i], end, keys = l, l.end(), keys+uint64(l.nkeys)
		b = b[idxBlockSize:]
	}
	if uint64(end) != segBytes || end > segSize {
		return bad(32, "records end at %d, the index says %d, the file has %d bytes", end, segBytes, segSize)
	}
	if keys != n {
		return bad(24, "%d keys, the block table has %d", n, keys)
	}
	if g := sf.indexTables(); g != ngroups {
		return bad(60, "%d groups, the block table calls for %d", ngroups, g)
	}
	sf.groups = make([]group, ngroups)
	for i := range sf.groups {
		sf.groups[i] = group{off: binary.LittleEndian.Uint32(b), pos: binary.LittleEndian.Uint32(b[4:])}
		b = b[idxGroupSize:]
	}
	for i, l := range sf.blocks {
		for _, g := range sf.groups[sf.gstart[i]:sf.gstart[i+1]] {
			if g.off > l.plen || g.pos > l.tlen-8*l.nkeys {
				return bad(int64(idxHeaderSize)+int64(count)*idxBlockSize, "group of block %d out of its record", i)
			}
		}
	}
	sf.fences = make([]fence, nchunks)
	sf.crcs = make([]uint32, nchunks)
	sf.chunkOff = make([]int64, nchunks+1)
	off := int64(metaSize)
	for i := range sf.fences {
		w := b[12]
		if w > 8 {
			return bad(int64(metaSize), "chunk %d of %d-byte keys", i, w)
		}
		sf.fences[i] = fence{key: binary.LittleEndian.Uint64(b), ord: binary.LittleEndian.Uint32(b[8:]), w: w}
		sf.crcs[i] = binary.LittleEndian.Uint32(b[13:])
		sf.chunkOff[i] = off
		off += int64(min(chunk, n-uint64(i)*chunk)) * int64(int(w)+ordWidth)
		b = b[idxChunkSize:]
	}
	sf.chunkOff[nchunks] = off
	if off != size {
		return bad(0, "index of %d bytes, its header says %d", size, off)
	}
	bl := bloom{words: make([]uint64, words), k: k}
	for i := range bl.words {
		bl.words[i] = binary.LittleEndian.Uint64(b)
		b = b[8:]
	}
	sf.idx, sf.idxBytes, sf.segBytes = idx, size, end
	sf.nentries, sf.chunk, sf.ordWidth = n, uint32(chunk), ordWidth
	sf.bloom, sf.entriesOff = bl, int64(metaSize)
	return nil
}

// chunkBufs holds the buffers lookups read chunks of keys into.
var chunkBufs = sync.Pool{New: func() any { b := make([]byte, chunkEntries*(8+4)); return &b }}

// readChunk reads chunk c of the sorted keys into buf and checks it.
func (f *sealedFile) readChunk(c int, buf []byte) ([]byte, error) {
	off := f.chunkOff[c]
	buf = grow(buf, int(f.chunkOff[c+1]-off))
	if err := f.idx.readAt(buf, off); err != nil {
		return nil, err
	}
	if crc32.Checksum(buf, castagnoli) != f.crcs[c] {
		return nil, corrupt(f.idxName, off, "key chunk %d checksum mismatch", c)
	}
	return buf, nil
}

// chunkKey is the j-th key of chunk c (read into b) and its ordinal.
func (f *sealedFile) chunkKey(c int, b []byte, j int) (uint64, uint32) {
	fc := f.fences[c]
	e := b[j*(int(fc.w)+f.ordWidth):]
	return fc.key + getUint(e, int(fc.w)), uint32(getUint(e[fc.w:], f.ordWidth))
}

// lookup is the first entry with key in the lowest block of the file >
// after (after < f.last()). The caller holds a reference on f.idx and
// f.seg.
func (f *sealedFile) lookup(key, after uint64) (Loc, bool, error) {
	if f.nentries == 0 || !f.bloom.mayContain(key) {
		return Loc{}, false, nil
	}
	var d uint64
	if after >= f.first {
		d = after - f.first + 1
	}
	t := f.ords[d] // the first ordinal of a block > after
	// less reports whether (k, ko) sorts before the target (key, t).
	less := func(k uint64, ko uint32) bool { return k < key || k == key && ko < t }
	// The first chunk whose first key is not before the target: the
	// target's lower bound is in the chunk before it, or is its first key.
	i := sort.Search(len(f.fences), func(i int) bool { return !less(f.fences[i].key, f.fences[i].ord) })
	c := max(i-1, 0)
	bp := chunkBufs.Get().(*[]byte)
	defer chunkBufs.Put(bp)
	buf, err := f.readChunk(c, *bp)
	if err != nil {
		return Loc{}, false, err
	}
	*bp = buf
	n := int(min(uint64(f.chunk), f.nentries-uint64(c)*uint64(f.chunk)))
	j := sort.Search(n, func(j int) bool { return !less(f.chunkKey(c, buf, j)) })
	if j == n {
		// The lower bound is the next chunk's first key.
		if c+1 >= len(f.fences) || f.fences[c+1].key != key {
			return Loc{}, false, nil
		}
		c++
		if buf, err = f.readChunk(c, buf); err != nil {
			return Loc{}, false, err
		}
		*bp = buf
		j = 0
	}
	k, ord := f.chunkKey(c, buf, j)
	if k != key {
		return Loc{}, false, nil
	}
	if uint64(ord) >= f.nentries || ord < t {
		return Loc{}, false, corrupt(f.idxName, f.chunkOff[c], "key of ordinal %d in a file of %d keys, the lookup wants one from %d", ord, f.nentries, t)
	}
	// Its block: the last whose first ordinal is <= ord.
	blk := sort.Search(len(f.blocks), func(b int) bool { return f.ords[b+1] > ord })
	off, ln, err := f.entryLoc(blk, int(ord-f.ords[blk]), buf)
	if err != nil {
		return Loc{}, false, err
	}
	return Loc{Block: f.first + uint64(blk), Off: off, Len: ln}, true, nil
}

// entryLoc is the offset and length of entry i of block delta blk, read from
// the block's record in the .seg (buf is scratch space).
func (f *sealedFile) entryLoc(blk, i int, buf []byte) (off, ln uint32, err error) {
	l := f.blocks[blk]
	if l.explicit {
		at := l.tableOff() + 8*int64(i)
		buf = grow(buf, 8)
		if err := f.seg.readAt(buf, at); err != nil {
			return 0, 0, err
		}
		off, ln = binary.LittleEndian.Uint32(buf), binary.LittleEndian.Uint32(buf[4:])
	} else {
		var pos uint32
		if g := i / groupEntries; g > 0 {
			gr := f.groups[int(f.gstart[blk])+g-1]
			off, pos = gr.off, gr.pos
		}
		lens := l.tlen - 8*l.nkeys
		at := l.tableOff() + int64(pos)
		cnt := i%groupEntries + 1
		buf = grow(buf, int(min(uint32(cnt*binary.MaxVarintLen32), lens-pos)))
		if err := f.seg.readAt(buf, at); err != nil {
			return 0, 0, err
		}
		sum := uint64(off)
		for range cnt {
			v, w := binary.Uvarint(buf)
			if w <= 0 || v > maxPayload {
				return 0, 0, corrupt(f.name, at, "block %d: bad entry length", f.first+uint64(blk))
			}
			buf = buf[w:]
			sum, ln = sum+v, uint32(v)
		}
		off = uint32(sum - uint64(ln))
		if sum > uint64(l.plen) || sum-uint64(ln) > uint64(l.plen) {
			return 0, 0, corrupt(f.name, at, "block %d: entry %d out of its payload", f.first+uint64(blk), i)
		}
	}
	if uint64(off)+uint64(ln) > uint64(l.plen) {
		return 0, 0, corrupt(f.name, l.tableOff(), "block %d: entry %d out of its payload", f.first+uint64(blk), i)
	}
	return off, ln, nil
}
