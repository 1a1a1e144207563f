// Package history is the contract between everything that produces blocks
// (sequencer, follower, catch-up) and everything that reads historical state
// (proofs, api). It holds the shared types — BlockUpdate, Head — the small
// reader and writer interfaces, and the sentinel errors. The Pebble engine that
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
package history
