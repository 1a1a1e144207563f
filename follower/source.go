package follower

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"syscall"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/ethereum/go-ethereum/trie"
)

// upstream is an Ethereum execution client over JSON-RPC.
type upstream struct {
	c       *rpc.Client
	timeout time.Duration
}

// errNoBlock is returned for a block the upstream does not have (yet).
var errNoBlock = errors.New("upstream has no such block")

func (u *upstream) call(ctx context.Context, out any, method string, args ...any) error {
	ctx, cancel := context.WithTimeout(ctx, u.timeout)
	defer cancel()
	return u.c.CallContext(ctx, out, method, args...)
}

func (u *upstream) head(ctx context.Context) (uint64, error) {
	var n hexutil.Uint64
	err := u.call(ctx, &n, "eth_blockNumber")
	return uint64(n), err
}

// rpcBlock is the part of eth_getBlockBy* (with full transactions) a
// follower needs.
type rpcBlock struct {
	Hash         common.Hash          `json:"hash"`
	Transactions []*types.Transaction `json:"transactions"`
	Withdrawals  types.Withdrawals    `json:"withdrawals"`
}

// block fetches block n with its transactions and checks that the header
// hashes to the hash the upstream claims and commits to the transactions.
func (u *upstream) block(ctx context.Context, n uint64) (*types.Block, error) {
	var raw json.RawMessage
	if err := u.call(ctx, &raw, "eth_getBlockByNumber", hexutil.EncodeUint64(n), true); err != nil {
		return nil, err
	}
	if len(raw) == 0 || string(raw) == "null" {
		return nil, errNoBlock
	}
	var h types.Header
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("%w: decode header of block %d: %w", errMalformed, n, err)
	}
	var body rpcBlock
	if err := json.Unmarshal(raw, &body); err != nil {
		// An unknown transaction type or a deposit missing a field lands
		// here, named by op-geth's decoder.
		return nil, fmt.Errorf("%w: decode transactions of block %d: %w", errMalformed, n, err)
	}
	// JSON null decodes to a nil element, which hashing and execution
	// would dereference.
	if i := slices.Index(body.Transactions, nil); i >= 0 {
		return nil, fmt.Errorf("%w: block %d transaction %d is null", errMalformed, n, i)
	}
	if i := slices.Index(body.Withdrawals, nil); i >= 0 {
		return nil, fmt.Errorf("%w: block %d withdrawal %d is null", errMalformed, n, i)
	}
	if h.Number == nil || h.Number.Uint64() != n {
		return nil, fmt.Errorf("%w: asked for block %d, got %v", errMalformed, n, h.Number)
	}
	if h.Hash() != body.Hash {
		return nil, fmt.Errorf("%w: block %d header hashes to %s, upstream says %s", errMalformed, n, h.Hash(), body.Hash)
	}
	txs := types.Transactions(body.Transactions)
	if root := types.DeriveSha(txs, trie.NewStackTrie(nil)); root != h.TxHash {
		return nil, fmt.Errorf("%w: block %d transactions root %s, header has %s", errMalformed, n, root, h.TxHash)
	}
	return types.NewBlockWithHeader(&h).WithBody(types.Body{Transactions: txs, Withdrawals: body.Withdrawals}), nil
}

// receipts fetches a block's receipts and checks them against its header.
func (u *upstream) receipts(ctx context.Context, b *types.Block) (types.Receipts, error) {
	var raw json.RawMessage
	if err := u.call(ctx, &raw, "eth_getBlockReceipts", b.Hash()); err != nil {
		return nil, err
	}
	var rs types.Receipts
	if err := json.Unmarshal(raw, &rs); err != nil {
		return nil, fmt.Errorf("%w: decode receipts of block %d: %w", errMalformed, b.NumberU64(), err)
	}
	for i, r := range rs {
		if r == nil {
			return nil, fmt.Errorf("%w: block %d receipt %d is null", errMalformed, b.NumberU64(), i)
		}
		if j := slices.Index(r.Logs, nil); j >= 0 {
			return nil, fmt.Errorf("%w: block %d receipt %d log %d is null", errMalformed, b.NumberU64(), i, j)
		}
	}
	if len(rs) != len(b.Transactions()) {
		return nil, fmt.Errorf("%w: block %d has %d transactions, upstream gave %d receipts", errMalformed, b.NumberU64(), len(b.Transactions()), len(rs))
	}
	if root := types.DeriveSha(rs, trie.NewStackTrie(nil)); root != b.ReceiptHash() {
		return nil, fmt.Errorf("%w: block %d receipts root %s, header has %s", errMalformed, b.NumberU64(), root, b.ReceiptHash())
	}
	return rs, nil
}

// traceAccount is an account in prestateTracer's diff mode: only changed
// fields are set.
type traceAccount struct {
	Balance *hexutil.Big                `json:"balance"`
	Nonce   *uint64                     `json:"nonce"`
	Code    *hexutil.Bytes              `json:"code"`
	Storage map[common.Hash]common.Hash `json:"storage"`
}

type txDiff struct {
	Pre  map[common.Address]*traceAccount `json:"pre"`
	Post map[common.Address]*traceAccount `json:"post"`
}

// diffs fetches the per-transaction state diffs of a block.
func (u *upstream) diffs(ctx context.Context, b *types.Block) ([]txDiff, error) {
	var res []struct {
		TxHash common.Hash `json:"txHash"`
		Result *txDiff     `json:"result"`
		Error  string      `json:"error"`
	}
	cfg := map[string]any{"tracer": "prestateTracer", "tracerConfig": map[string]any{"diffMode": true}}
	if err := u.call(ctx, &res, "debug_traceBlockByHash", b.Hash(), cfg); err != nil {
		return nil, err
	}
	if len(res) != len(b.Transactions()) {
		return nil, fmt.Errorf("%w: block %d has %d transactions, upstream traced %d", errMalformed, b.NumberU64(), len(b.Transactions()), len(res))
	}
	out := make([]txDiff, len(res))
	for i, r := range res {
		if r.Error != "" {
			return nil, fmt.Errorf("trace of transaction %d of block %d: %s", i, b.NumberU64(), r.Error)
		}
		if r.Result == nil {
			return nil, fmt.Errorf("%w: no trace of transaction %d of block %d", errMalformed, i, b.NumberU64())
		}
		for side, accounts := range map[string]map[common.Address]*traceAccount{"pre": r.Result.Pre, "post": r.Result.Post} {
			for addr, a := range accounts {
				if a == nil {
					return nil, fmt.Errorf("%w: null %s state of %s in the trace of transaction %d of block %d", errMalformed, side, addr, i, b.NumberU64())
				}
			}
		}
		out[i] = *r.Result
	}
	return out, nil
}

// errMalformed marks an answer that decoded but is inconsistent.
var errMalformed = errors.New("malformed upstream answer")

// failureKind names the kind of an upstream failure for logs and metrics
// (its class, what the follower does about it, is history.ClassOf's).
func failureKind(err error) string {
	var httpErr rpc.HTTPError
	var netErr net.Error
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	var rpcErr rpc.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection dropped"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.As(err, &httpErr):
		return fmt.Sprintf("http %d", httpErr.StatusCode)
	case errors.As(err, &syntax), errors.As(err, &typeErr), errors.Is(err, errMalformed):
		return "malformed answer"
	case errors.As(err, &rpcErr):
		return fmt.Sprintf("json-rpc error %d", rpcErr.ErrorCode())
	case errors.Is(err, errNoBlock):
		return "block not available"
	}
	return "other"
}
