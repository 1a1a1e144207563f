// Package store is the Pebble engine behind the history contract: versioned
// trie nodes, flat accounts and slots, code, blocks, receipts and changesets
// in one Pebble database.
//
// Layout: schema.go holds SchemaVersion, the data prefixes (m n a s c b H t
// r x d) and the meta names schema, head and oldest. The rest are declared
// beside the code that writes them:
//   - retention.go: the prefix z (z + block -> logical bytes the block holds)
//     and the meta names recent, tier-bytes, ingested-bytes and migrate-task;
//   - bulk.go: the meta name bulkload (set while a bulk genesis load runs;
//     a store with it and no head was interrupted and is refused).
//
// A changeset's value layout is in changeset.go.
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
//   - Trie nodes read from disk are checked against the hash the trie asked
//     for before they are returned or cached; the node cache is keyed by hash,
//     so it can never serve a node of another version.
package store
