package proofs

import (
	"context"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/stateless"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/trie"

	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/history/chain"
	"github.com/strata-chain/strata/history/statedb"
)

// ErrWitnessMismatch means re-executing a held block did not reproduce its
// header (state root, receipts root, gas used, bloom or withdrawals root):
// the store or the execution disagrees with the chain, and no witness is
// served.
var ErrWitnessMismatch = errors.New("re-execution does not reproduce the block")

// Witness re-executes block on its parent's state st with op-geth's EVM and
// returns the execution witness op-geth's debug_executionWitness collects
// (core/stateless.Witness): every trie node the execution and the state
// root's hashing read, every code it ran or sized, and the ancestors'
// headers from the parent down to the oldest one BLOCKHASH reached.
//
// It follows op-geth's BlockChain.ProcessBlock with MakeWitness: a StateDB
// on the parent root with the witness handed to its trie prefetcher, the
// block's system calls and transactions as op-geth's StateProcessor applies
// them (chain.Apply, the routine the sequencer's executor builds and replays
// blocks with), then the block validator's checks; the witness is returned only if
// the execution reproduced the header's state root, receipts root, gas used,
// bloom and (from Isthmus) withdrawals root. ctx cancels the execution,
// between and inside transactions.
func Witness(ctx context.Context, config *params.ChainConfig, headers chain.HeaderReader, st history.State, parent *types.Header, block *types.Block) (*stateless.Witness, error) {
	header := block.Header()
	number := header.Number.Uint64()
	if number == 0 || header.ParentHash != parent.Hash() {
		return nil, fmt.Errorf("block %d: %s is not its parent", number, parent.Hash())
	}
	if st.Root() != parent.Root {
		return nil, fmt.Errorf("block %d: state %s is not the parent's root %s", number, st.Root(), parent.Root)
	}
	signer := types.MakeSigner(config, header.Number, header.Time)
	// Recover the senders on every core while the state opens, as
	// op-geth's block import does.
	core.SenderCacher().Recover(signer, block.Transactions())
	w, err := stateless.NewWitness(header, chain.NewContext(config, headers), false)
	if err != nil {
		return nil, fmt.Errorf("block %d: %w", number, err)
	}
	sdb, err := state.New(parent.Root, statedb.New(st))
	if err != nil {
		return nil, fmt.Errorf("block %d: open parent state: %w", number, err)
	}
	sdb.StartPrefetcher("witness", w)
	defer sdb.StopPrefetcher()

	applied, err := chain.Apply(ctx, chain.Block{Config: config, Headers: headers, Header: header, Hash: block.Hash(), Withdrawals: block.Withdrawals(), State: sdb}, block.Transactions(), chain.Replay)
	if err != nil {
		return nil, err
	}
	rs, hash := applied.Receipts, block.Hash()
	// The block validator's checks, in its order; the state root's hashing
	// is what pulls the written tries' nodes into the witness.
	if applied.GasUsed != header.GasUsed {
		return nil, fmt.Errorf("%w %d: gas used %d, header has %d", ErrWitnessMismatch, number, applied.GasUsed, header.GasUsed)
	}
	if bloom := types.MergeBloom(rs); bloom != header.Bloom {
		return nil, fmt.Errorf("%w %d: bloom differs from the header's", ErrWitnessMismatch, number)
	}
	if got := types.DeriveSha(rs, trie.NewStackTrie(nil)); got != header.ReceiptHash {
		return nil, fmt.Errorf("%w %d: receipts root %s, header has %s", ErrWitnessMismatch, number, got, header.ReceiptHash)
	}
	if header.RequestsHash != nil && types.CalcRequestsHash(applied.Requests) != *header.RequestsHash {
		return nil, fmt.Errorf("%w %d: requests hash differs from the header's", ErrWitnessMismatch, number)
	}
	if root := sdb.IntermediateRoot(config.IsEIP158(header.Number)); root != header.Root {
		return nil, &history.RootMismatchError{Number: number, Hash: hash, Want: header.Root, Computed: root}
	}
	if err := sdb.Error(); err != nil {
		return nil, fmt.Errorf("block %d: state: %w", number, err)
	}
	if config.IsOptimismIsthmus(header.Time) {
		want := header.WithdrawalsHash
		if got := sdb.GetStorageRoot(params.OptimismL2ToL1MessagePasser); want == nil || *want != got {
			return nil, fmt.Errorf("%w %d: withdrawals root %s, header has %v", ErrWitnessMismatch, number, got, want)
		}
	}
	return sdb.Witness(), nil
}

// WitnessNodeRefs lists, for each trie node of a witness reachable from the
// parent state root, the nodes it references with their owner and path
// (Node.Refs), so that a reader of the witness who asks for a node it left
// out can be answered by location. visit is called once per reachable node
// of the witness, root first.
func WitnessNodeRefs(root common.Hash, nodes map[common.Hash][]byte, visit func(at NodeRef, n *Node)) {
	seen := make(map[common.Hash]bool, len(nodes))
	queue := []NodeRef{{Hash: root}}
	for len(queue) > 0 {
		ref := queue[0]
		queue = queue[1:]
		if seen[ref.Hash] {
			continue
		}
		blob, ok := nodes[ref.Hash]
		if !ok {
			continue
		}
		seen[ref.Hash] = true
		n, err := DecodeNode(ref.Owner, ref.Path, blob)
		if err != nil {
			continue
		}
		visit(ref, n)
		queue = append(queue, n.Refs...)
	}
}
