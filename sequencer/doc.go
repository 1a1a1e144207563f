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
package sequencer
