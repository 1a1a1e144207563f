// Package store is the Pebble engine behind the history contract: versioned
// trie nodes, flat accounts and slots, code, blocks, receipts and changesets
// in one Pebble database.
//
// Layout: schema.go holds SchemaVersion (and what each version changed),
// the data prefixes (m n a s c b H t r x d) and the meta names schema, head
// and oldest. The rest are declared beside the code that writes them:
//   - tier_bytes.go: the prefix z (z + block -> logical bytes the block
//     holds) and the meta names tier-bytes and ingested-bytes;
//   - tiers.go: the meta name recent; migrate.go: migrate-task;
//   - bulk.go: the meta name bulkload (set while a bulk genesis load runs;
//     a store with it and no head was interrupted, and Open discards it).
//
// A changeset's value layout is in changeset.go.
//
// Files, one concept each:
//   - store.go: the Store, Open and Close; reads.go: the history.Reader
//     methods; state.go: a block's state over a snapshot; nodes.go: the
//     empty trie the genesis builds on;
//   - ingest.go: Ingest and the steps both ingest paths share; batch.go:
//     IngestBatch; block_writer.go: one block's writes and changeset;
//     precomputed.go: writing the producer's trie nodes as they are;
//   - update.go: a block's update read back from its changeset; unwind.go:
//     Unwind; bulk.go and genesis_export.go: a genesis loaded in bulk and
//     exported; digest.go: the whole-store digest;
//   - tiers.go: the tier boundaries and status, and the check of each task
//     the tier policy names; tier_bytes.go: the byte accounting per tier;
//     migrate.go: migration tasks (start, work, finish); migrate_plan.go:
//     what a task deletes; prune.go: a pruning's first phase; pinned.go:
//     the pinned tier;
//     window.go and viewcache.go: window states rebuilt from a checkpoint
//     and kept for a while;
//   - disk.go: disk usage and compaction; metrics.go: Prometheus series;
//     config.go: Config; fault.go: a disk fault latched (Health), Pebble's
//     fatal and background errors, rate-limited logs.
//
// Tiers: the store does not schedule them. Config.Policy, a
// history.TierPolicy (the retention package's Policy), says which interval
// moves next and which accounts are pinned; the store checks each task
// against its boundaries and carries it out. What a task deletes (the
// migration plan) stays here, as the primitive "delete the versions the
// interval [from, to] supersedes", because it cannot be said without the
// key layout: the plan reads a block's changeset as this store encodes it,
// tells trie nodes from flat values and pinned items from the rest by
// their key prefixes, owner hashes and nibble paths, marks changeset
// entries by their index for a cursor that meta persists (so a crash
// resumes mid-block and the thinned changeset is rewritten from the same
// marks), counts bytes from the value lengths the changeset records, and
// in a pruning seeks every item's versions (item|^block) below the
// interval in key order. Lifting it into retention would mean exporting
// that layout through history, which is the coupling the policy interface
// removes.
//
// Invariants:
//   - Every block is written by Ingest in one atomic, synced batch that also
//     moves the head marker, so a crash at any moment reopens at some head h
//     with every block 0..h complete and nothing above h.
//   - A block's batch is built only after the state root computed from its
//     update, with go-ethereum's trie over the nodes as of the parent block,
//     equals the header's root.
//   - Versions are keyed by ^block, so the state as of block n is the first
//     version at or after item|^n: one seek per account, slot or trie node.
//   - A disk fault (a commit Pebble could not write or sync, a failed flush
//     or compaction) is latched: the commit under way is not reported,
//     every later write is refused with the fault (history.ClassCritical),
//     reads go on, and the process is never exited or panicked; Open
//     returns such a fault instead of waiting on Pebble's recovery, and
//     OpenReadOnly writes nothing.
//   - Trie nodes read from disk are checked against the hash the trie asked
//     for before they are returned or cached; the node cache is keyed by hash,
//     so it can never serve a node of another version.
package store
