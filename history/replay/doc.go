// Package replay replays a run of consecutive BlockUpdates over a base state
// in memory, without executing anything: it applies the state changes each
// update already carries and hashes the tries. Hashing dominates, and over
// a run it splits into independent work: every account's storage trie is
// replayed across the whole run on its own (accounts do not depend on each
// other, so they run in parallel), then the account trie block by block
// with the storage roots already known.
//
// Its entry points:
//   - Prepare computes every block's changed trie nodes and storage roots
//     and marks the updates NodesComplete, so a run can be committed in one
//     batch (catch-up).
//   - View is the state after a prepared run over its base, so the next run
//     can be replayed on top of one still being written (catch-up).
//   - Rebuild is Prepare then View: the state of a block rebuilt from an
//     older one (the store's window tier).
//   - Merge folds consecutive updates into one, so a rebuild walks and
//     hashes each touched trie path once instead of once per block.
//
// Invariants:
//   - Nothing is trusted: every block's computed state root is checked
//     against its header's, and the first that differs is returned as
//     *history.RootMismatchError. A Merge that missed a case therefore fails
//     as a root mismatch, never as a wrong state.
//   - The nodes Prepare computes are exactly those per-block ingest would
//     write: within a block, storage updates come before deletions and
//     account updates before account deletions, as go-ethereum's StateDB
//     orders them, so the stored versions are identical.
//   - Prepare changes the updates in place (implied account values filled
//     in, deletions of accounts that did not exist dropped, the slots of
//     wiped storage listed as cleared); Merge does not modify its input.
//   - The base state is only read, by several goroutines at once, so it
//     must be safe for concurrent reads. Each account's storage replay owns
//     its overlay of the nodes it committed; workers bounds the goroutines
//     (0 means GOMAXPROCS), and ctx cancels them all.
//   - Rebuild and View own base once they return a state, and close it
//     with that state; when Rebuild fails the caller still owns base.
//
// Why it lives in history and not under catchup: the store needs it. The
// window tier keeps trie nodes only at checkpoints, so history/store
// answers a read of a block between two checkpoints by reading the
// checkpoint below and calling Rebuild over Merge of the blocks up to the
// one asked (history/store/window.go). A store on floor 9 cannot import
// catchup on floor 6, so the replay engine sits on history's floor, where
// both the store and catch-up (which drives it over a fetched backlog with
// Prepare and View) can use it.
package replay
