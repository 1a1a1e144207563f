// Package follower follows a chain it does not produce: an upstream
// execution client over JSON-RPC (geth, reth and their OP variants). Each
// upstream block becomes a history.BlockUpdate — the block's per-transaction
// state diffs from prestateTracer merged in order, plus the block's own
// system calls and withdrawals applied with go-ethereum's functions on a
// StateDB over the parent state — and goes through the one ingest path,
// where the store checks the state root. Reorgs are unwound, upstream
// failures retried; a root mismatch halts the follower.
//
// Starting needs the chain's genesis (a geth genesis file); starting mid-chain
// needs a state snapshot, a later feature.
package follower
