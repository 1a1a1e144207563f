package segment

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
	"sort"
	"sync"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// The bytes of a .idx file, the sidecar index of a sealed .seg, little-endian:
//
//	header (idxHeaderSize):
//	  [0:8]   idxMagic
//	  [8:16]  first block      [16:20] blocks    [20:24] capacity
//	  [24:32] key count        [32:40] bytes of the .seg it indexes
//	  [40:48] bloom words      [48:52] bloom k   [52:56] keys per chunk
//	  [56:64] zero
//	block table: per block, its record's offset u64, payload length u32,
//	  key count u32
//	fences: per chunk of keys, its first key u64 and block delta u32
//	chunk checksums: per chunk, the CRC-32C of its keys' bytes
//	bloom: the filter's words, u64 each
//	CRC-32C of everything above (the meta section), u32
//	keys: sorted by key, then block, then the order they were appended in;
//	  each key u64, block - first u32, offset u32, length u32
//
// Open reads the meta section (a few MB for a full file of full blocks:
// mostly the bloom) and checks its checksum; a lookup reads one chunk of
// keys (a few KB) and checks that chunk's. The keys themselves (tens of MB)
// are never read whole.
const (
	idxMagic      = "strIDX\x00\x01"
	idxHeaderSize = 64
	idxBlockSize  = 16
	idxFenceSize  = 12
	idxEntrySize  = 20
	chunkEntries  = 128
	maxChunk      = 1 << 16
)

// fence is the first key of a chunk of a sealed file's sorted keys.
type fence struct {
	key   uint64
	delta uint32
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
	nentries   uint64
	chunk      uint32
	fences     []fence
	crcs       []uint32
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

// sortRec is a key of a file being sealed, as the index holds it.
type sortRec struct {
	key             uint64
	delta, off, len uint32
}

// sortEntries is the file's keys sorted by key, keys equal kept in append
// order (which is block order). The keys are uniform (hash prefixes), so
// one pass scatters them into buckets by their top bits, each small enough
// to sort in cache: a seal of 1.9 M keys takes tens of milliseconds where a
// comparison sort over the whole takes hundreds. Skewed keys only make the
// buckets larger, never the order wrong.
func sortEntries(entries []memEntry) []sortRec {
	out := make([]sortRec, len(entries))
	if len(entries) < 4096 {
		for i, e := range entries {
			out[i] = sortRec{e.key, e.delta, e.off, e.len}
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
	for _, e := range entries {
		d := e.key >> (64 - bucketBits)
		out[next[d]] = sortRec{e.key, e.delta, e.off, e.len}
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
		fences: make([]fence, nchunks), crcs: make([]uint32, nchunks), bloom: bl,
	}
	metaSize := idxHeaderSize + len(blocks)*idxBlockSize + nchunks*(idxFenceSize+4) + len(bl.words)*8 + 4
	sf.entriesOff = int64(metaSize)
	data := make([]byte, metaSize+int(n)*idxEntrySize)

	ents := data[metaSize:]
	for i, e := range sortEntries(entries) {
		b := ents[i*idxEntrySize:]
		binary.LittleEndian.PutUint64(b, e.key)
		binary.LittleEndian.PutUint32(b[8:], e.delta)
		binary.LittleEndian.PutUint32(b[12:], e.off)
		binary.LittleEndian.PutUint32(b[16:], e.len)
		bl.add(e.key)
		if i%chunkEntries == 0 {
			sf.fences[i/chunkEntries] = fence{key: e.key, delta: e.delta}
		}
	}
	for c := range nchunks {
		lo := c * chunkEntries * idxEntrySize
		hi := min(lo+chunkEntries*idxEntrySize, len(ents))
		sf.crcs[c] = crc32.Checksum(ents[lo:hi], castagnoli)
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
	b := data[idxHeaderSize:]
	for _, l := range blocks {
		binary.LittleEndian.PutUint64(b, uint64(l.off))
		binary.LittleEndian.PutUint32(b[8:], l.plen)
		binary.LittleEndian.PutUint32(b[12:], l.nkeys)
		b = b[idxBlockSize:]
	}
	for _, f := range sf.fences {
		binary.LittleEndian.PutUint64(b, f.key)
		binary.LittleEndian.PutUint32(b[8:], f.delta)
		b = b[idxFenceSize:]
	}
	for _, c := range sf.crcs {
		binary.LittleEndian.PutUint32(b, c)
		b = b[4:]
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
// file that is not a valid index of that .seg is a *CorruptError (Open then
// rebuilds it); any other error is of the read itself.
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
	switch {
	case first != sf.first || capacity != sf.capacity:
		return bad(8, "index of blocks %d+%d, the file holds %d+%d", first, capacity, sf.first, sf.capacity)
	case count != uint64(capacity):
		return bad(16, "index of %d blocks, a sealed file holds %d", count, capacity)
	case chunk == 0 || chunk > maxChunk:
		return bad(52, "chunk of %d keys", chunk)
	case k == 0 || k > maxBloomK || words == 0 || words%bloomBlockWords != 0:
		return bad(40, "bloom of %d words, k %d", words, k)
	case n > uint64(size)/idxEntrySize || words > uint64(size)/8:
		return bad(24, "%d keys and %d bloom words do not fit %d bytes", n, words, size)
	}
	nchunks := (n + chunk - 1) / chunk
	metaSize := idxHeaderSize + count*idxBlockSize + nchunks*(idxFenceSize+4) + words*8 + 4
	if metaSize+n*idxEntrySize != uint64(size) {
		return bad(0, "index of %d bytes, its header says %d", size, metaSize+n*idxEntrySize)
	}
	meta := make([]byte, metaSize)
	if err := idx.readAt(meta, 0); err != nil {
		return err
	}
	if crc32.Checksum(meta[:metaSize-4], castagnoli) != binary.LittleEndian.Uint32(meta[metaSize-4:]) {
		return bad(0, "index checksum mismatch")
	}

	b := meta[idxHeaderSize:]
	blocks := make([]blockLoc, count)
	end, keys := int64(fileHeaderSize), uint64(0)
	for i := range blocks {
		l := blockLoc{
			off:   int64(binary.LittleEndian.Uint64(b)),
			plen:  binary.LittleEndian.Uint32(b[8:]),
			nkeys: binary.LittleEndian.Uint32(b[12:]),
		}
		if l.off != end || l.plen > maxPayload || l.nkeys > maxKeys {
			return bad(int64(idxHeaderSize+i*idxBlockSize), "block table entry %d is not the next record", i)
		}
		blocks[i], end, keys = l, l.end(), keys+uint64(l.nkeys)
		b = b[idxBlockSize:]
	}
	if uint64(end) != segBytes || end > segSize {
		return bad(32, "records end at %d, the index says %d, the file has %d bytes", end, segBytes, segSize)
	}
	if keys != n {
		return bad(24, "%d keys, the block table has %d", n, keys)
	}
	fences := make([]fence, nchunks)
	for i := range fences {
		fences[i] = fence{key: binary.LittleEndian.Uint64(b), delta: binary.LittleEndian.Uint32(b[8:])}
		b = b[idxFenceSize:]
	}
	crcs := make([]uint32, nchunks)
	for i := range crcs {
		crcs[i] = binary.LittleEndian.Uint32(b)
		b = b[4:]
	}
	bl := bloom{words: make([]uint64, words), k: k}
	for i := range bl.words {
		bl.words[i] = binary.LittleEndian.Uint64(b)
		b = b[8:]
	}
	sf.idx, sf.idxBytes, sf.segBytes = idx, size, end
	sf.blocks, sf.nentries, sf.chunk = blocks, n, uint32(chunk)
	sf.fences, sf.crcs, sf.bloom, sf.entriesOff = fences, crcs, bl, int64(metaSize)
	return nil
}

// chunkBufs holds the buffers lookups read chunks of keys into.
var chunkBufs = sync.Pool{New: func() any { b := make([]byte, chunkEntries*idxEntrySize); return &b }}

// readChunk reads chunk c of the sorted keys into buf and checks it.
func (f *sealedFile) readChunk(c int, buf []byte) ([]byte, error) {
	lo := uint64(c) * uint64(f.chunk)
	n := min(uint64(f.chunk), f.nentries-lo)
	buf = grow(buf, int(n)*idxEntrySize)
	off := f.entriesOff + int64(lo)*idxEntrySize
	if err := f.idx.readAt(buf, off); err != nil {
		return nil, err
	}
	if crc32.Checksum(buf, castagnoli) != f.crcs[c] {
		return nil, corrupt(f.idxName, off, "key chunk %d checksum mismatch", c)
	}
	return buf, nil
}

func chunkKey(b []byte, j int) (uint64, uint32) {
	e := b[j*idxEntrySize:]
	return binary.LittleEndian.Uint64(e), binary.LittleEndian.Uint32(e[8:])
}

// lookup is the first entry with key in the lowest block of the file >
// after (after < f.last()). The caller holds a reference on f.idx.
func (f *sealedFile) lookup(key, after uint64) (Loc, bool, error) {
	if f.nentries == 0 || !f.bloom.mayContain(key) {
		return Loc{}, false, nil
	}
	var d uint32
	if after >= f.first {
		d = uint32(after - f.first + 1)
	}
	// less reports whether (k, kd) sorts before the target (key, d).
	less := func(k uint64, kd uint32) bool { return k < key || k == key && kd < d }
	// The first chunk whose first key is not before the target: the
	// target's lower bound is in the chunk before it, or is its first key.
	i := sort.Search(len(f.fences), func(i int) bool { return !less(f.fences[i].key, f.fences[i].delta) })
	c := max(i-1, 0)
	bp := chunkBufs.Get().(*[]byte)
	defer chunkBufs.Put(bp)
	buf, err := f.readChunk(c, *bp)
	if err != nil {
		return Loc{}, false, err
	}
	n := len(buf) / idxEntrySize
	j := sort.Search(n, func(j int) bool { return !less(chunkKey(buf, j)) })
	if j == n {
		// The lower bound is the next chunk's first key.
		if c+1 >= len(f.fences) || f.fences[c+1].key != key {
			return Loc{}, false, nil
		}
		if buf, err = f.readChunk(c+1, buf); err != nil {
			return Loc{}, false, err
		}
		j = 0
	}
	k, delta := chunkKey(buf, j)
	if k != key {
		return Loc{}, false, nil
	}
	if uint64(delta) >= uint64(len(f.blocks)) {
		return Loc{}, false, corrupt(f.idxName, f.entriesOff, "key of block delta %d in a file of %d blocks", delta, len(f.blocks))
	}
	e := buf[j*idxEntrySize:]
	return Loc{Block: f.first + uint64(delta), Off: binary.LittleEndian.Uint32(e[12:]), Len: binary.LittleEndian.Uint32(e[16:])}, true, nil
}
