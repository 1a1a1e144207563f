// Package sequencer produces a chain: it executes transactions with
// go-ethereum's EVM on top of the history store's state, seals a block every
// block time and hands each block's BlockUpdate to the one ingest path.
//
// Execution runs go-ethereum's core/state.StateDB over the
// core/state.Database that package history/statedb implements on a
// history.State (the follower uses the same one), so there is no second trie
// database: the StateDB reads the store's versioned nodes and flat state, and
// CommitWithUpdate hands the changed accounts, slots and code back as a
// history.BlockUpdate, which the store verifies against the sealed root.
//
// Making a block (Sequencer.step, every block time) only takes transactions
// from the pool. The built-in load generator runs beside it as a component
// with its own goroutine (loadFeeder, started and stopped within the
// sequencer's lifecycle): it generates and signs block-sized batches ahead
// and queues each in the pool for its block, paced by the block clock, as
// transactions from the network arrive. Applying a block's transactions is
// history/chain.Apply, shared with the witness re-execution in proofs.
//
// Lifecycle: New builds a Sequencer without I/O; Start reads the chain and
// gives it its genesis or resumes from its head (checking the genesis hash);
// Run makes blocks until its context ends; Stop stops the load generator if
// Run never ran. Open is New followed by Start.
package sequencer
