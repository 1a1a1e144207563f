// Package live is the head state of the v2 store (docs/store-v2.md): trie
// nodes keyed by (owner, path) and flat accounts and slots, as a disk layer
// in Pebble under in-memory diff layers for the newest blocks, flushed in
// aggregate. It is go-ethereum's pathdb idea (layertree, difflayer,
// disklayer, buffer) cut down to one linear chain and a Pebble database
// shared with other data.
//
// Layout (keys.go): the caller names one prefix per table and the marker
// key (Options). Trie nodes are NodePrefix ‖ 0 ‖ path for the account trie
// and NodePrefix ‖ 1 ‖ owner ‖ path for a storage trie, the path in nibbles
// one byte each; accounts AccountPrefix ‖ addrHash -> slim RLP; slots
// SlotPrefix ‖ addrHash ‖ slotHash -> the value as go-ethereum's snapshot
// stores it. The marker MetaKey holds the disk layer's block (8 bytes,
// big-endian) and root. Values are stored as they are; a node's hash is
// computed when it is read from Pebble and kept in the clean cache beside
// it.
//
// Files, one concept each:
//   - db.go: DB, Options, Open, Push, Unwind and the accessors; view.go:
//     one immutable state of the layer list; layer.go: Layer and the diff a
//     pushed layer becomes;
//   - index.go: the lookup index (key -> the layers writing it); read.go:
//     the read path (layers, clean cache, Pebble); reader.go: Reader, reads
//     at one head; cache.go: the clean cache;
//   - flush.go: Flush, Flushed, FlushAbort, ErrFlushInFlight; bulk.go: a large state written
//     straight into the disk layer; nodereader.go: go-ethereum's
//     database.NodeDatabase over the head.
//
// Concurrency:
//   - Reads (Node, Account, Storage, Reader and its methods, Head, Disk,
//     Layers, MemBytes, CacheStats) run concurrently with everything.
//   - There are two writer roles, each one goroutine at a time: the head
//     writer (Push, Unwind, Open, the Bulk methods) and the flusher (Flush,
//     then, after the caller commits the batch, Flushed, or FlushAbort if
//     the batch is discarded; all three from one goroutine, in that
//     order). The two roles may run concurrently.
//   - A flush is in flight from Flush until Flushed or FlushAbort returns.
//     Meanwhile Push goes on (its layers are above upTo, which Flush never
//     reads), a second Flush and any Unwind that would drop a layer fail at
//     once with ErrFlushInFlight (they do not wait: the caller serialises
//     Unwind with its flusher), Open fails, and the Bulk methods refuse.
//     Flushed called while Flush is still writing (from another goroutine)
//     panics.
//   - DB.mu guards the replacement of the view and is held only briefly:
//     Flush builds its batch, and Flushed updates the clean cache and
//     trims the index, outside it; Flushed publishes its view, built from
//     the current one, under it, so a Push racing it keeps its layer. Push
//     holds it while it indexes its layer, Flush's index pass and
//     Flushed's trim give way to it every few thousand keys.
//
// Invariants:
//   - The layers are consecutive blocks disk+1..head (the first layer may be
//     any block while nothing is flushed). Readers see them through an
//     immutable view behind an atomic pointer, replaced whole by every
//     Push, Flushed, Unwind and Open under DB.mu, so a read never takes a
//     lock a writer holds for long. The layers a flush in flight covers
//     stay in every view until Flushed publishes the one without them:
//     nothing else removes layers meanwhile.
//   - A read answers with the newest layer of its view writing the key,
//     else with the disk layer: Pebble holds, for every key, the newest
//     value among the layers up to the marker's block and nothing newer,
//     because Flush writes exactly that and the marker in one batch.
//   - The lookup index lists, per key, the held layers writing it, so a read
//     costs one map access however many layers there are (BenchmarkNode:
//     ~100 ns under 64 layers against ~900 ns walking them), and Flush
//     finds every key's newest value in one pass over it (then sorted, so
//     the batch commits in key order). A view the index
//     cannot vouch for (taken before an Unwind, or holding layers Flushed
//     removed) walks its own layers instead.
//   - The clean cache holds only values equal to Pebble's at the disk layer:
//     a value read from Pebble enters it only if no flush window (Flush to
//     Flushed, in which the caller commits) opened or closed during the
//     read, and Flushed gives each cached key it wrote its new value before
//     the view that no longer shadows it is published (no read can see the
//     entry before: every view still holds the layer shadowing it).
//   - A Reader's view and Pebble snapshot describe one disk layer, so all
//     its reads are of one head however the DB moves on.
//   - Unwind never goes below the disk layer (ErrUnwindTooDeep): flushed
//     blocks are final for this package; the history log is what goes back.
package live
