// Package follower follows a chain it does not produce, from one of two
// kinds of upstream:
//
//   - an execution client over JSON-RPC (http(s):// or ws(s)://: geth, reth
//     and their OP variants such as op-geth). Each upstream block becomes a
//     history.BlockUpdate: the block's per-transaction state diffs from
//     prestateTracer merged in order, plus the block's own system calls and
//     withdrawals applied with go-ethereum's functions on a StateDB over the
//     parent state. Blocks, receipts and diffs are checked against the
//     header (hash, transactions root, receipts root) before use. While the
//     follower is more than Config.CatchupThreshold blocks behind, the next
//     blocks are requested concurrently and still built and ingested in turn.
//   - another Strata's block stream (strata://host:port), which sends
//     finished BlockUpdates. On an empty store the genesis state comes from
//     the stream too; far behind, the follower replays the backlog in
//     batches with package catchup (Mode reports ModeCatchup), then follows
//     block by block.
//
// Either way each block goes through the one ingest path, where the store
// checks the state root.
//
// # OP Stack
//
// An OP chain's blocks open with deposit transactions (the L1-attributes
// deposit first), which the follower decodes with op-geth's types and
// whose receipts carry the OP fields; receipts are checked against the
// header's receipts root like any other. prestateTracer leaves the L1-fee
// and operator-fee vaults out of its diffs (op-geth credits them after
// execution), so for every non-deposit transaction whose diff does not set
// a vault's balance the fee is credited beside the diff with op-geth's own
// cost functions. From Isthmus the header's withdrawalsRoot must equal the
// L2ToL1MessagePasser's storage root after the block; from a genesis file
// the follower derives block 0's withdrawalsRoot the same way.
//
// # Lifecycle
//
// New checks the Config and does no I/O. Start dials the upstream and
// checks the genesis: on an empty store it loads it (from Config.GenesisFile
// for a JSON-RPC upstream, whose chain config it also reads, or from the
// stream, with Config.ChainConfig), and the resulting block 0 must be the
// upstream's; on a store that has one, the stored block 0 must be the
// upstream's. Run follows until its context ends (it returns nil) or a
// critical error (history.ClassCritical). Stop releases the connection once Run has returned.
//
// # Errors
//
// The follower acts on the class package history gives each error
// (history.ClassOf), the same for both kinds of upstream:
//
//   - history.ClassTemporary, retried. Every upstream request that fails
//     (connection refused or dropped, timeout, HTTP or JSON-RPC error, a
//     block the upstream does not have yet, an answer that decodes but
//     contradicts itself or its header) is retried with exponential backoff
//     from Config.RetryInitial to Config.RetryMax, and logged with its class
//     and kind (failureKind). A strata:// subscription, stream or catch-up
//     range that fails is resubscribed with the same backoff.
//   - history.ClassReorg, unwound. A block that does not extend the store's
//     head, or an upstream head below ours with another hash, makes the
//     follower walk back to the newest block both agree on, at most
//     Config.MaxReorgDepth below the head, and unwind the store to it; a
//     head that moved under an ingest (history.NotNextError) is re-read; a
//     catch-up batch that diverges (catchup.ErrDiverged, classed Reorg) is
//     handed to live ingest, which unwinds it the same way.
//   - history.ClassCritical, halting: Run returns the error and the store
//     stays at the last good block. A state root that is not the header's
//     (history.RootMismatchError); a reorg deeper than MaxReorgDepth; an
//     Isthmus withdrawalsRoot that is not the message passer's storage
//     root; an upstream that gives an inconsistent answer 5 times in a row
//     (maxInconsistent: one is a flaky proxy, a run of them is the
//     upstream's chain); and every ingest the store refuses for a reason of
//     its own, above all a write its disk refused (no space, a failed
//     fsync): the store latches that fault and refuses every later write
//     with it (store.Store.Health reports it), so retrying cannot help.
//
// Errors of the store's reads (the head, a header or a state) and of an
// unwind also end Run: they are not the upstream's transport, and
// retrying would repeat them. Start's errors (a dial that fails, an
// unreadable genesis file, a genesis that is not the upstream's) are
// returned to the caller, and the follower then holds no connection.
//
// The fault matrix (docs/faults.md) lists every upstream and storage fault
// with its class, what the follower does and the test that checks it.
//
// Starting mid-chain needs a state snapshot, a later feature.
package follower
