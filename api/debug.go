package api

import (
	"context"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/strata-chain/strata/history"
)

// DebugAPI serves raw encodings, as geth's debug namespace does.
type DebugAPI struct{ b *backend }

// ChainConfig is debug_chainConfig: the chain config, the struct op-geth's
// debug API returns (its own JSON).
func (api *DebugAPI) ChainConfig() *params.ChainConfig { return api.b.cfg.ChainConfig }

// GetRawHeader is debug_getRawHeader: the RLP of a header.
func (api *DebugAPI) GetRawHeader(ctx context.Context, bnh rpc.BlockNumberOrHash) (hexutil.Bytes, error) {
	h, err := api.b.header(bnh)
	if err != nil {
		return nil, err
	}
	return rlp.EncodeToBytes(h)
}

// GetRawBlock is debug_getRawBlock: the RLP of a block.
func (api *DebugAPI) GetRawBlock(ctx context.Context, bnh rpc.BlockNumberOrHash) (hexutil.Bytes, error) {
	h, err := api.b.header(bnh)
	if err != nil {
		return nil, err
	}
	block, err := (&EthAPI{b: api.b}).block(h.Number.Uint64())
	if err != nil {
		return nil, err
	}
	return rlp.EncodeToBytes(block)
}

// GetRawReceipts is debug_getRawReceipts: each receipt's consensus
// encoding, typed as its transaction (the stored receipts carry no type),
// so that the list hashes to the header's receiptsRoot.
func (api *DebugAPI) GetRawReceipts(ctx context.Context, bnh rpc.BlockNumberOrHash) ([]hexutil.Bytes, error) {
	h, err := api.b.header(bnh)
	if err != nil {
		return nil, err
	}
	n := h.Number.Uint64()
	receipts, err := api.b.cfg.Reader.Receipts(n)
	if err != nil {
		return nil, errors.Join(errors.New("receipts not found"), err)
	}
	txs, err := api.b.cfg.Reader.Body(n)
	if err != nil && !errors.Is(err, history.ErrNotFound) {
		return nil, err
	}
	if len(txs) != len(receipts) {
		return nil, fmt.Errorf("block %d: %d receipts for %d transactions", n, len(receipts), len(txs))
	}
	out := make([]hexutil.Bytes, len(receipts))
	for i, r := range receipts {
		r.Type = txs[i].Type()
		if out[i], err = r.MarshalBinary(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// GetRawTransaction is debug_getRawTransaction: the binary encoding of an
// included transaction; empty ("0x") for one the store does not hold, as
// geth answers for a hash it knows neither in its chain nor in its pool.
func (api *DebugAPI) GetRawTransaction(ctx context.Context, hash common.Hash) (hexutil.Bytes, error) {
	block, idx, found, err := (&EthAPI{b: api.b}).included(hash)
	if !found || err != nil {
		return nil, err
	}
	return block.Transactions()[idx].MarshalBinary()
}
