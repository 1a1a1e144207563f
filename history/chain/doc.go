// Package chain holds what defines the chain Strata keeps, beside its
// blocks: its configuration (an op-geth genesis and, for OP Stack chains, an
// op-node rollup config) and the block-level rules op-geth applies around a
// block's transactions (system calls, requests, withdrawals, the Isthmus
// withdrawals root), and Apply, the one routine that applies a block's
// transactions on a StateDB between them. The sequencer's executor (which
// builds blocks and replays them) and the execution-witness re-execution in
// proofs apply blocks through Apply; the follower, which applies an
// upstream block's state diffs instead of executing it, calls PreExecution
// and PostExecution itself. So a block is treated the same way whoever
// makes, follows or re-executes it.
//
// Invariants:
//   - Execution is op-geth's: every function here calls op-geth's own core
//     functions; nothing re-implements the EVM, the trie or a system call.
//   - On an OP Stack chain only the calls op-geth's StateProcessor makes are
//     made: the Canyon create2 deployer, EIP-4788 beacon roots (Ecotone),
//     EIP-2935 parent hashes (Isthmus); never the EIP-7002/7251 queues.
//   - From Isthmus on a header's withdrawalsRoot is the L2ToL1MessagePasser's
//     storage root after the block.
package chain
