// Package archive is store v2 (docs/store-v2.md): the chain's head state as
// a live, path-keyed trie with in-memory diff layers (package live), and
// history as an append-only log of per-block reverse node diffs (packages
// segment and nodediff), instead of every trie-node version as its own
// Pebble key.
//
// Files, one concept each:
//   - archive.go: the Store, Open and Close; config.go: Config;
//     keys.go: the Pebble key layout and the meta names;
//   - ingest.go: Ingest; apply.go: a block's update applied to the tries of
//     the head view; record.go: a block's history record (its reverse node
//     diffs and their index keys);
//   - blocks.go: headers, bodies, receipts, transaction lookups and code;
//     forward.go: a block's forward update, kept until the disk layer
//     covers it (what a restart replays); restart.go: that replay;
//   - nodes.go: a trie node at a past block, resolved from the head view and
//     the history log; state.go: a block's history.State;
//   - flush.go: the disk layer's aggregated flush; unwind.go: Unwind;
//     prune.go: the recent tier's end; genesis.go: the bulk genesis load;
//     usage.go: bytes per block, by line.
//
// Invariants:
//   - Per block, the history record is appended and synced before the
//     Pebble batch that moves the head commits, and the block's layer is
//     pushed only after that: a node version that leaves the head view is
//     in the log first, so a reader always finds it in one or the other.
//   - A crash reopens at the Pebble head h: the log is cut back to h (what
//     lies past it was never reported) and the forward updates from the
//     disk layer's block to h are replayed into layers.
//   - Every node a past state returns hashes to what the trie asked for.
//   - The disk layer is never more than the layers held in memory behind the
//     head; a reorg deeper than those layers is refused, never half done.
package archive
