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
//   - flush.go: Flush, Flushed, FlushAbort; bulk.go: a large state written
//     straight into the disk layer; nodereader.go: go-ethereum's
//     database.NodeDatabase over the head.
//
// Invariants:
//   - The layers are consecutive blocks disk+1..head (the first layer may be
//     any block while nothing is flushed). Readers see them through an
//     immutable view behind an atomic pointer, replaced whole by every
//     Push, Flushed, Unwind and Open, so a read never takes a lock the
//     writer holds for long, and one writer runs at a time.
//   - A read answers with the newest layer of its view writing the key,
//     else with the disk layer: Pebble holds, for every key, the newest
//     value among the layers up to the marker's block and nothing newer,
//     because Flush writes exactly that and the marker in one batch.
//   - The lookup index lists, per key, the held layers writing it, so a read
//     costs one map access however many layers there are (BenchmarkNode:
//     ~100 ns under 64 layers against ~900 ns walking them), and Flush
//     finds every key's newest value in one pass over it. A view the index
//     cannot vouch for (taken before an Unwind, or holding layers Flushed
//     removed) walks its own layers instead.
//   - The clean cache holds only values equal to Pebble's at the disk layer:
//     a value read from Pebble enters it only if no flush window (Flush to
//     Flushed, in which the caller commits) opened or closed during the
//     read, and Flushed gives each cached key it wrote its new value before
//     the view that no longer shadows it is published.
//   - A Reader's view and Pebble snapshot describe one disk layer, so all
//     its reads are of one head however the DB moves on.
//   - Unwind never goes below the disk layer (ErrUnwindTooDeep): flushed
//     blocks are final for this package; the history log is what goes back.
package live
