// Package chain holds what defines the chain Strata keeps, beside its
// blocks: its configuration (an op-geth genesis and, for OP Stack chains, an
// op-node rollup config) and the block-level rules op-geth applies around a
// block's transactions (system calls, requests, withdrawals, the Isthmus
// withdrawals root). The sequencer, the follower and catch-up all apply a
// block through these functions, so a block is executed the same way
// whoever makes or follows it.
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
