package api

import (
	"context"
	"errors"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/rpc"
)

// DebugAPI serves raw encodings, as geth's debug namespace does.
type DebugAPI struct{ b *backend }

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
// encoding.
func (api *DebugAPI) GetRawReceipts(ctx context.Context, bnh rpc.BlockNumberOrHash) ([]hexutil.Bytes, error) {
	h, err := api.b.header(bnh)
	if err != nil {
		return nil, err
	}
	receipts, err := api.b.cfg.Reader.Receipts(h.Number.Uint64())
	if err != nil {
		return nil, errors.Join(errors.New("receipts not found"), err)
	}
	out := make([]hexutil.Bytes, len(receipts))
	for i, r := range receipts {
		if out[i], err = r.MarshalBinary(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
