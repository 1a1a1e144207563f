// Package segment is an append-only, crash-safe log of per-block records in
// files of a fixed number of blocks. Each record carries index keys, each
// naming a range of its payload; a lookup finds the first record after a
// given block that has a key. It is store v2's history log
// (docs/store-v2.md): per block, the pre-values of the trie nodes the
// block changed, each found by the first 8 bytes of its hash.
//
// Layout of Dir, files named by their first block (%020d):
//   - NNN.seg: a file header, then one record per block, consecutive: a
//     header (CRC-32C, lengths, block number, flags, magic), the payload,
//     the record's entry table: its keys and, for entries contiguous in
//     the payload (a history record's), just their lengths as uvarints
//     (about 9 bytes per entry), else offsets and lengths (16). The format
//     is in record.go.
//   - NNN.idx: the index of a sealed .seg: its block table, its keys
//     sorted (each a difference from its chunk's first key and its ordinal
//     in the file, about 10 bytes; the entry's offset and length are read
//     from its record's entry table), a bloom filter, checksums: about 11.3
//     bytes per key for full blocks. The format is in index.go.
//
// Both files carry their format version in their magic (version 2; version
// 1 stored 16 bytes per entry in the .seg and 20 more in the .idx). Nothing
// of version 1 ever shipped, so there is no migration: Open refuses a .seg
// of another version (a *CorruptError naming it), and rebuilds an .idx of
// another version from its .seg.
//   - NNN.idx.tmp: an index being written (removed by Open); LOCK: held by
//     the open Log.
//
// A file holds blocks First..First+capacity-1 (Options.BlocksPerFile when
// it was created). The last file is the open one: its keys are indexed in
// memory. The Append of the first block past it fsyncs it (unless a Sync
// covered it already), creates the next file and hands the full one to a
// background seal: its index is built, written, synced and renamed into
// place, the directory synced, while the file is still served from its keys
// in memory; one seal at a time (seal.go).
//
// Files, one concept each:
//   - log.go: Options, the types, the Log and its view, Append (and roll),
//     Bounds, Files, Close;
//   - record.go: the .seg framing and the scan of a file's records;
//     active.go: the open file's tables and in-memory key index;
//   - index.go: the .idx (built, written, loaded, searched); bloom.go: its
//     bloom filter;
//   - seal.go: the background seal of a full file;
//   - read.go: Read, ReadLoc, Lookup and how reads live with the writer;
//   - sync.go: Sync's group commit; recover.go: Open and its recovery;
//   - truncate.go: TruncateAfter; prune.go: PruneBefore;
//   - handle.go: a reference-counted open file and the I/O helpers; fault.go:
//     the latched fault; errors.go: ErrNotFound, ErrClosed, CorruptError.
//
// Concurrency: Read, ReadLoc, Lookup, Bounds and Files may run from any
// number of goroutines, concurrently with one writer. Append, TruncateAfter,
// PruneBefore and Close are called by one goroutine at a time; Sync may be
// called from any number of goroutines, concurrently with them (but not with
// Close). The background seal runs concurrently with all of them; the
// writer waits for it only where it must (seal.go).
//
// Every file but the last is whole on disk before the next file is created,
// and sealed or being sealed.
//
// Invariants:
//   - The log holds consecutive blocks first..last, in files whose blocks
//     follow one another; every file but the last is sealed (or being
//     sealed, see seal.go) and holds
//     exactly its capacity. Open refuses (a *CorruptError naming the file
//     and offset) a gap, a short or corrupt sealed file, never dropping it.
//   - A block Sync reported durable is found by Open after a crash, with
//     its bytes, unless TruncateAfter or PruneBefore dropped it. A crash
//     at any moment, also midway through a seal, a TruncateAfter or a
//     PruneBefore, reopens to consecutive blocks that are a prefix of what
//     was appended (or, mid-TruncateAfter, of the log before it): a torn
//     tail of the last file is cut, never a block in the middle.
//   - Nothing past the last valid record of the open file is ever a valid
//     record: Open and TruncateAfter cut a tail (truncate, or zeros where
//     the file system cannot truncate) and fsync the cut before anything is
//     appended over it.
//   - A block is visible to readers only once its record is written whole;
//     a failed Append leaves nothing visible. The first failed write, sync,
//     rename or removal is latched: later writes are refused, reads go on.
//   - Read checks a record against its checksum; an index chunk is checked
//     against its checksum when a lookup reads it, and the entry length a
//     lookup then reads from a record is checked against its payload.
//     Nothing here panics on bytes read from disk.
//   - A reader never sees a closed file (files are reference-counted) nor
//     bytes changed under it (TruncateAfter bumps an epoch first; the read,
//     or the lookup, starts over).
package segment
