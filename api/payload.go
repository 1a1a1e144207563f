package api

import (
	"context"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/beacon/engine"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/consensus/misc/eip1559"
	"github.com/ethereum/go-ethereum/consensus/misc/eip4844"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/proofs"
	"github.com/strata-chain/strata/sequencer"
)

// Bounds of one debug_executePayload: op-node's attributes for a block
// carry its deposits and the batcher's transactions, which the block's gas
// limit bounds long before these.
const (
	maxPayloadTransactions = 20_000
	maxPayloadBytes        = 32 << 20
)

// PayloadWitness is op-reth's debug_executePayload answer (alloy's
// ExecutionWitness): the trie nodes and codes the block's execution read,
// the hashed keys' preimages (empty here, as op-geth's witness leaves them)
// and the RLP of the ancestors' headers from the parent down to the oldest
// BLOCKHASH reached.
type PayloadWitness struct {
	State   []hexutil.Bytes `json:"state"`
	Codes   []hexutil.Bytes `json:"codes"`
	Keys    []hexutil.Bytes `json:"keys"`
	Headers []hexutil.Bytes `json:"headers"`
}

// ExecutePayload is debug_executePayload as op-reth serves it: build a block
// on the parent with that hash from op-node's payload attributes (its
// transactions only, as with noTxPool: this node has no pool to add from),
// and return the witness of executing it. Every attribute transaction must
// apply, as op-geth's builder forces them in. Parents with timestamps equal
// to the attributes' are accepted: Strata's 200 ms chains share seconds.
// The call is limited like debug_executionWitness.
func (api *DebugAPI) ExecutePayload(ctx context.Context, parentHash common.Hash, attrs engine.PayloadAttributes) (*PayloadWitness, error) {
	if len(attrs.Transactions) > maxPayloadTransactions {
		return nil, &invalidParamsError{fmt.Sprintf("too many transactions: %d, at most %d", len(attrs.Transactions), maxPayloadTransactions)}
	}
	size := 0
	for _, tx := range attrs.Transactions {
		size += len(tx)
	}
	if size > maxPayloadBytes {
		return nil, &invalidParamsError{fmt.Sprintf("transactions too large: %d bytes, at most %d", size, maxPayloadBytes)}
	}
	ctx, done, err := api.b.heavy.enter(ctx, "debug_executePayload")
	if err != nil {
		return nil, err
	}
	w, err := api.b.executePayload(ctx, parentHash, &attrs)
	return w, done(err)
}

func (b *backend) executePayload(ctx context.Context, parentHash common.Hash, attrs *engine.PayloadAttributes) (*PayloadWitness, error) {
	config := b.cfg.ChainConfig
	n, err := b.cfg.Reader.NumberByHash(parentHash)
	if errors.Is(err, history.ErrNotFound) {
		return nil, fmt.Errorf("parent block %s not found", parentHash)
	}
	if err != nil {
		return nil, err
	}
	parent, err := b.cfg.Reader.HeaderByNumber(n)
	if err != nil {
		return nil, err
	}
	if parent.Hash() != parentHash {
		return nil, fmt.Errorf("parent block %s not found", parentHash)
	}
	h, txs, err := payloadHeader(config, parent, attrs)
	if err != nil {
		return nil, &invalidParamsError{err.Error()}
	}
	st, err := b.cfg.Reader.StateAt(n)
	if err != nil {
		var pruned *history.PrunedError
		if errors.As(err, &pruned) {
			return nil, fmt.Errorf("parent block %d found, but its state is not held: %w", n, err)
		}
		return nil, err
	}
	defer st.Close()
	built, err := sequencer.NewExecutor(config, b.cfg.Reader).Build(ctx, st, parent, h, txs)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("build block %d on %s: %w", n+1, parentHash, err)
	}
	if len(built.Dropped) > 0 {
		d := built.Dropped[0]
		return nil, fmt.Errorf("build block %d on %s: transaction %s cannot be applied: %v", n+1, parentHash, d.Tx.Hash(), d.Err)
	}
	if got, want := len(built.Block.Transactions()), len(txs); got != want {
		return nil, fmt.Errorf("build block %d on %s: only %d of the %d transactions fit the gas limit %d", n+1, parentHash, got, want, h.GasLimit)
	}
	w, err := proofs.Witness(ctx, config, b.cfg.Reader, st, parent, built.Block)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	ext := w.ToExtWitness()
	out := &PayloadWitness{State: ext.State, Codes: ext.Codes, Keys: []hexutil.Bytes{}, Headers: make([]hexutil.Bytes, len(ext.Headers))}
	for i, hdr := range ext.Headers {
		if out.Headers[i], err = rlp.EncodeToBytes(hdr); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// payloadHeader is the header template and transactions of the block
// op-geth's builder makes on parent from attrs (miner.prepareWork with
// op-node's forced fields), with op-geth's checks of the attributes.
func payloadHeader(cfg *params.ChainConfig, parent *types.Header, attrs *engine.PayloadAttributes) (*types.Header, types.Transactions, error) {
	t := attrs.Timestamp
	if t < parent.Time {
		return nil, nil, fmt.Errorf("invalid timestamp: parent has %d, attributes %d", parent.Time, t)
	}
	if attrs.GasLimit == nil || *attrs.GasLimit == 0 {
		return nil, nil, errors.New("gasLimit is required (op-node always sets it)")
	}
	if len(attrs.Withdrawals) > 0 {
		return nil, nil, fmt.Errorf("an OP Stack block has no withdrawals, got %d", len(attrs.Withdrawals))
	}
	number := new(big.Int).Add(parent.Number, common.Big1)
	h := &types.Header{
		ParentHash: parent.Hash(),
		Number:     number,
		Time:       t,
		GasLimit:   *attrs.GasLimit,
		Coinbase:   attrs.SuggestedFeeRecipient,
		Difficulty: new(big.Int),
		MixDigest:  attrs.Random,
		BaseFee:    eip1559.CalcBaseFee(cfg, parent, t),
	}
	if cfg.IsJovian(t) && attrs.MinBaseFee == nil {
		return nil, nil, errors.New("missing minBaseFee (required from Jovian)")
	}
	if cfg.IsHolocene(t) {
		if err := eip1559.ValidateHolocene1559Params(attrs.EIP1559Params); err != nil {
			return nil, nil, err
		}
		d, e := eip1559.DecodeHolocene1559Params(attrs.EIP1559Params)
		if d == 0 {
			d, e = cfg.BaseFeeChangeDenominator(t), cfg.ElasticityMultiplier()
		}
		h.Extra = eip1559.EncodeOptimismExtraData(cfg, t, d, e, attrs.MinBaseFee)
	} else if attrs.EIP1559Params != nil {
		return nil, nil, errors.New("got eip1559Params before Holocene, expected none")
	}
	if cfg.IsCancun(number, t) {
		if attrs.BeaconRoot == nil {
			return nil, nil, errors.New("parentBeaconBlockRoot is required from Ecotone")
		}
		excess := eip4844.CalcExcessBlobGas(cfg, parent, t)
		h.ExcessBlobGas = &excess
		h.ParentBeaconRoot = attrs.BeaconRoot
	}
	txs := make(types.Transactions, len(attrs.Transactions))
	for i, raw := range attrs.Transactions {
		tx := new(types.Transaction)
		if err := tx.UnmarshalBinary(raw); err != nil {
			return nil, nil, fmt.Errorf("transaction %d: %v", i, err)
		}
		txs[i] = tx
	}
	return h, txs, nil
}
