package api

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/proofs"
)

// EthAPI is the eth namespace.
type EthAPI struct{ b *backend }

// ChainId is eth_chainId.
func (api *EthAPI) ChainId() *hexutil.Big { return (*hexutil.Big)(api.b.cfg.ChainConfig.ChainID) }

// BlockNumber is eth_blockNumber: the newest ingested block.
func (api *EthAPI) BlockNumber() (hexutil.Uint64, error) {
	h, err := api.b.cfg.Reader.Head()
	if errors.Is(err, history.ErrEmpty) {
		return 0, nil
	}
	return hexutil.Uint64(h.Number), err
}

// AccountResult is eth_getProof's answer, field for field geth's.
type AccountResult struct {
	Address      common.Address  `json:"address"`
	AccountProof []string        `json:"accountProof"`
	Balance      *hexutil.Big    `json:"balance"`
	CodeHash     common.Hash     `json:"codeHash"`
	Nonce        hexutil.Uint64  `json:"nonce"`
	StorageHash  common.Hash     `json:"storageHash"`
	StorageProof []StorageResult `json:"storageProof"`
}

// StorageResult is one storage proof of eth_getProof.
type StorageResult struct {
	Key   string       `json:"key"`
	Value *hexutil.Big `json:"value"`
	Proof []string     `json:"proof"`
}

// decodeStorageKey parses a storage key as geth does: 0x optional, odd
// length left-padded, at most 32 bytes. It returns the key and its length
// in bytes as given.
func decodeStorageKey(s string) (common.Hash, int, error) {
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		s = s[2:]
	}
	if len(s)&1 == 1 {
		s = "0" + s
	}
	if len(s) > 64 {
		return common.Hash{}, len(s) / 2, errors.New("storage key too long (want at most 32 bytes)")
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return common.Hash{}, 0, errors.New("invalid hex in storage key")
	}
	return common.BytesToHash(b), len(b), nil
}

func hexList(nodes [][]byte) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = hexutil.Encode(n)
	}
	return out
}

// GetProof is eth_getProof: the account and storage proofs of address at a
// block, every one verified against the block's state root before it is
// returned. Keys echo as geth echoes them: a key given as 32 bytes comes
// back as 32-byte hex, any other as a quantity.
func (api *EthAPI) GetProof(ctx context.Context, address common.Address, storageKeys []string, blockNrOrHash rpc.BlockNumberOrHash) (*AccountResult, error) {
	bnh := &blockNrOrHash // required, as in op-geth
	if max := api.b.cfg.MaxStorageKeys; len(storageKeys) > max {
		return nil, &invalidParamsError{fmt.Sprintf("too many storage keys requested (max %d, got %d)", max, len(storageKeys))}
	}
	keys := make([]common.Hash, len(storageKeys))
	lengths := make([]int, len(storageKeys))
	for i, k := range storageKeys {
		var err error
		if keys[i], lengths[i], err = decodeStorageKey(k); err != nil {
			return nil, &invalidParamsError{fmt.Sprintf("%v: %q", err, k)}
		}
	}
	if o := api.b.cfg.ProofLatency; o != nil {
		start := time.Now()
		defer func() { o.Observe(time.Since(start).Seconds()) }()
	}
	release, err := api.b.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	st, _, err := api.b.state(bnh)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	p, err := proofs.Account(st, address, keys)
	if err != nil {
		return nil, err
	}
	res := &AccountResult{
		Address:      address,
		AccountProof: hexList(p.AccountProof),
		Balance:      (*hexutil.Big)(p.Balance.ToBig()),
		CodeHash:     p.CodeHash,
		Nonce:        hexutil.Uint64(p.Nonce),
		StorageHash:  p.StorageHash,
		StorageProof: make([]StorageResult, len(keys)),
	}
	for i, sp := range p.Storage {
		key := hexutil.EncodeBig(keys[i].Big())
		if lengths[i] == 32 {
			key = hexutil.Encode(keys[i][:])
		}
		res.StorageProof[i] = StorageResult{Key: key, Value: (*hexutil.Big)(sp.Value.Big()), Proof: hexList(sp.Proof)}
	}
	return res, nil
}

// account reads an account at a block; nil when absent.
func (api *EthAPI) account(address common.Address, bnh *rpc.BlockNumberOrHash) (*types.StateAccount, history.State, error) {
	st, _, err := api.b.state(bnh)
	if err != nil {
		return nil, nil, err
	}
	acc, err := st.Account(crypto.Keccak256Hash(address[:]))
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return acc, st, nil
}

// GetBalance is eth_getBalance at any held block.
func (api *EthAPI) GetBalance(ctx context.Context, address common.Address, blockNrOrHash rpc.BlockNumberOrHash) (*hexutil.Big, error) {
	bnh := &blockNrOrHash // required, as in op-geth
	acc, st, err := api.account(address, bnh)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if acc == nil {
		return (*hexutil.Big)(new(big.Int)), nil
	}
	return (*hexutil.Big)(acc.Balance.ToBig()), nil
}

// GetTransactionCount is eth_getTransactionCount at any held block
// (pending is the head).
func (api *EthAPI) GetTransactionCount(ctx context.Context, address common.Address, blockNrOrHash rpc.BlockNumberOrHash) (*hexutil.Uint64, error) {
	bnh := &blockNrOrHash // required, as in op-geth
	acc, st, err := api.account(address, bnh)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	var n hexutil.Uint64
	if acc != nil {
		n = hexutil.Uint64(acc.Nonce)
	}
	return &n, nil
}

// GetCode is eth_getCode at any held block.
func (api *EthAPI) GetCode(ctx context.Context, address common.Address, blockNrOrHash rpc.BlockNumberOrHash) (hexutil.Bytes, error) {
	bnh := &blockNrOrHash // required, as in op-geth
	acc, st, err := api.account(address, bnh)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if acc == nil || common.BytesToHash(acc.CodeHash) == types.EmptyCodeHash {
		return hexutil.Bytes{}, nil
	}
	return st.Code(common.BytesToHash(acc.CodeHash))
}

// GetStorageAt is eth_getStorageAt at any held block.
func (api *EthAPI) GetStorageAt(ctx context.Context, address common.Address, hexKey string, blockNrOrHash rpc.BlockNumberOrHash) (hexutil.Bytes, error) {
	bnh := &blockNrOrHash // required, as in op-geth
	st, _, err := api.b.state(bnh)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	key, _, err := decodeStorageKey(hexKey)
	if err != nil {
		return nil, &invalidParamsError{fmt.Sprintf("%v: %q", err, hexKey)}
	}
	v, err := st.Storage(crypto.Keccak256Hash(address[:]), crypto.Keccak256Hash(key[:]))
	if err != nil {
		return nil, err
	}
	return v[:], nil
}

// block reads block n with its transactions.
func (api *EthAPI) block(n uint64) (*types.Block, error) {
	h, err := api.b.cfg.Reader.HeaderByNumber(n)
	if err != nil {
		return nil, err
	}
	txs, err := api.b.cfg.Reader.Body(n)
	if err != nil && !errors.Is(err, history.ErrNotFound) {
		return nil, err
	}
	var withdrawals types.Withdrawals
	if h.WithdrawalsHash != nil {
		withdrawals = types.Withdrawals{}
	}
	return types.NewBlockWithHeader(h).WithBody(types.Body{Transactions: txs, Withdrawals: withdrawals}), nil
}

// GetBlockByNumber is eth_getBlockByNumber: null for a block not held.
func (api *EthAPI) GetBlockByNumber(ctx context.Context, number rpc.BlockNumber, fullTx bool) (map[string]any, error) {
	n, err := api.b.number(number)
	if errors.Is(err, errHeaderNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return api.marshalHeld(n, nil, fullTx)
}

// GetBlockByHash is eth_getBlockByHash: null for an unknown hash.
func (api *EthAPI) GetBlockByHash(ctx context.Context, hash common.Hash, fullTx bool) (map[string]any, error) {
	n, err := api.b.cfg.Reader.NumberByHash(hash)
	if errors.Is(err, history.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return api.marshalHeld(n, &hash, fullTx)
}

// marshalHeld renders block n, or null when it is not held (or, with want
// set, when its hash is not want).
func (api *EthAPI) marshalHeld(n uint64, want *common.Hash, fullTx bool) (map[string]any, error) {
	block, err := api.block(n)
	if errors.Is(err, history.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if want != nil && block.Hash() != *want {
		return nil, nil
	}
	var receipts types.Receipts
	if fullTx && hasDeposit(block) {
		// Deposits show the nonce their receipts record; like op-geth,
		// without them if the receipts cannot be read.
		receipts, _ = api.b.cfg.Reader.Receipts(n)
	}
	return marshalBlock(block, fullTx, api.b.cfg.ChainConfig, receipts), nil
}

func hasDeposit(block *types.Block) bool {
	for _, tx := range block.Transactions() {
		if tx.IsDepositTx() {
			return true
		}
	}
	return false
}

// included finds an included transaction's block and index; found is
// false for a transaction the store does not hold.
func (api *EthAPI) included(hash common.Hash) (block *types.Block, idx uint64, found bool, err error) {
	n, idx, err := api.b.cfg.Reader.TxLookup(hash)
	if errors.Is(err, history.ErrNotFound) {
		return nil, 0, false, nil
	}
	if err != nil {
		return nil, 0, false, err
	}
	if block, err = api.block(n); err != nil {
		return nil, 0, false, err
	}
	if idx >= uint64(len(block.Transactions())) {
		return nil, 0, false, fmt.Errorf("transaction index %d beyond block %d", idx, n)
	}
	return block, idx, true, nil
}

// GetTransactionByHash is eth_getTransactionByHash for included
// transactions: null otherwise.
func (api *EthAPI) GetTransactionByHash(ctx context.Context, hash common.Hash) (*rpcTransaction, error) {
	block, idx, found, err := api.included(hash)
	if !found || err != nil {
		return nil, err
	}
	var receipt *types.Receipt
	if tx := block.Transactions()[idx]; tx.IsDepositTx() {
		receipts, _ := api.b.cfg.Reader.Receipts(block.NumberU64())
		receipt = depositReceipt(tx, receipts, int(idx))
	}
	return newRPCTransaction(block, idx, api.b.cfg.ChainConfig, receipt), nil
}

// GetTransactionReceipt is eth_getTransactionReceipt: null for a
// transaction not included.
func (api *EthAPI) GetTransactionReceipt(ctx context.Context, hash common.Hash) (map[string]any, error) {
	block, idx, found, err := api.included(hash)
	if !found || err != nil {
		return nil, err
	}
	receipts, err := api.receipts(block)
	if err != nil {
		return nil, err
	}
	if idx >= uint64(len(receipts)) {
		return nil, fmt.Errorf("receipt index %d beyond block %d", idx, block.NumberU64())
	}
	signer := types.MakeSigner(api.b.cfg.ChainConfig, block.Number(), block.Time())
	return marshalReceipt(receipts[idx], block.Hash(), block.NumberU64(), signer, block.Transactions()[idx], int(idx), api.b.cfg.ChainConfig), nil
}

// GetBlockReceipts is eth_getBlockReceipts: every receipt of a held block,
// shaped as eth_getTransactionReceipt's (with the OP fields); null for a
// block not held.
func (api *EthAPI) GetBlockReceipts(ctx context.Context, blockNrOrHash rpc.BlockNumberOrHash) ([]map[string]any, error) {
	var n uint64
	if hash, ok := blockNrOrHash.Hash(); ok {
		num, err := api.b.cfg.Reader.NumberByHash(hash)
		if errors.Is(err, history.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		n = num
	} else if bn, ok := blockNrOrHash.Number(); ok {
		num, err := api.b.number(bn)
		if errors.Is(err, errHeaderNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		n = num
	}
	block, err := api.block(n)
	if errors.Is(err, history.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if hash, ok := blockNrOrHash.Hash(); ok && block.Hash() != hash {
		return nil, nil
	}
	receipts, err := api.receipts(block)
	if err != nil {
		return nil, err
	}
	txs := block.Transactions()
	if len(txs) != len(receipts) {
		return nil, fmt.Errorf("receipts length mismatch: %d vs %d", len(txs), len(receipts))
	}
	signer := types.MakeSigner(api.b.cfg.ChainConfig, block.Number(), block.Time())
	out := make([]map[string]any, len(receipts))
	for i, r := range receipts {
		out[i] = marshalReceipt(r, block.Hash(), block.NumberU64(), signer, txs[i], i, api.b.cfg.ChainConfig)
	}
	return out, nil
}

// receipts reads a block's receipts with their derived fields.
func (api *EthAPI) receipts(block *types.Block) (types.Receipts, error) {
	receipts, err := api.b.cfg.Reader.Receipts(block.NumberU64())
	if err != nil {
		return nil, err
	}
	var blobGasPrice *big.Int
	if block.ExcessBlobGas() != nil && api.b.cfg.ChainConfig.BlobScheduleConfig != nil {
		blobGasPrice = blobFee(api.b.cfg.ChainConfig, block.Header())
	}
	if err := receipts.DeriveFields(api.b.cfg.ChainConfig, block.Hash(), block.NumberU64(), block.Time(), block.BaseFee(), blobGasPrice, block.Transactions()); err != nil {
		return nil, fmt.Errorf("derive receipts of block %d: %w", block.NumberU64(), err)
	}
	return receipts, nil
}

// SendRawTransaction is eth_sendRawTransaction. Bytes that do not decode
// as a transaction get geth's answer: the decoder's own message, unwrapped,
// with code -32000 (a well-formed hex argument is not an invalid parameter
// to geth; only bad hex is, -32602, from the rpc layer).
func (api *EthAPI) SendRawTransaction(ctx context.Context, input hexutil.Bytes) (common.Hash, error) {
	tx := new(types.Transaction)
	if err := tx.UnmarshalBinary(input); err != nil {
		return common.Hash{}, err
	}
	if api.b.cfg.TxPool == nil {
		return common.Hash{}, errNoTransactions
	}
	if err := api.b.cfg.TxPool.SubmitTransaction(tx); err != nil {
		return common.Hash{}, err
	}
	return tx.Hash(), nil
}
