// Package history is the contract between everything that produces blocks
// (sequencer, follower, catch-up) and everything that reads historical state
// (proofs, api). It holds the shared types — BlockUpdate, Head — the small
// reader and writer interfaces, the sentinel errors and the error classes. The Pebble engine that
// implements them lives in history/store; only cmd/strata wires it.
//
// Data flow:
//
//	producer ──BlockUpdate──▶ Ingester.Ingest ──(one atomic batch)──▶ store
//	store ──Reader.StateAt(n)──▶ State ──▶ proofs / api
//
// Invariants every implementation keeps:
//   - Blocks are ingested strictly in order; block n is written only if its
//     parent hash equals the stored head's hash.
//   - The state root computed from a BlockUpdate equals Header.Root before
//     anything of that block is written; a mismatch is ErrRootMismatch and
//     nothing is written.
//   - A block, its trie nodes, flat state, body, receipts and the head marker
//     are written in one atomic batch: a crash leaves the store at some
//     consistent head.
//
// # Error classes
//
// Every error a producer meets is of one Class, which ClassOf reads and
// every producer acts on the same way:
//   - ClassTemporary (unmarked errors, or history.Temporary): retried with
//     backoff.
//   - ClassReorg (a NotNextError, or history.Reorg): unwound to a common ancestor within the
//     producer's allowed depth.
//   - ClassCritical (a RootMismatchError, or history.Critical): the producer
//     halts and the store stays at its last good block. The store marks a
//     write its disk refused (no space, a failed fsync) Critical, and keeps
//     refusing writes with that error until it is reopened.
package history
