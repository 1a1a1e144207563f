package api

import (
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/consensus/misc/eip4844"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
)

// The JSON shapes below are op-geth's (internal/ethapi, geth v1.17 with the
// OP Stack fields), which cannot be imported; the tests compare them with
// geth's own answers and with what op-geth's code emits for deposits and
// L1 fees.

func marshalHeader(h *types.Header) map[string]any {
	out := map[string]any{
		"number":           (*hexutil.Big)(h.Number),
		"hash":             h.Hash(),
		"parentHash":       h.ParentHash,
		"nonce":            h.Nonce,
		"mixHash":          h.MixDigest,
		"sha3Uncles":       h.UncleHash,
		"logsBloom":        h.Bloom,
		"stateRoot":        h.Root,
		"miner":            h.Coinbase,
		"difficulty":       (*hexutil.Big)(h.Difficulty),
		"extraData":        hexutil.Bytes(h.Extra),
		"gasLimit":         hexutil.Uint64(h.GasLimit),
		"gasUsed":          hexutil.Uint64(h.GasUsed),
		"timestamp":        hexutil.Uint64(h.Time),
		"transactionsRoot": h.TxHash,
		"receiptsRoot":     h.ReceiptHash,
	}
	if h.BaseFee != nil {
		out["baseFeePerGas"] = (*hexutil.Big)(h.BaseFee)
	}
	if h.WithdrawalsHash != nil {
		out["withdrawalsRoot"] = h.WithdrawalsHash
	}
	if h.BlobGasUsed != nil {
		out["blobGasUsed"] = hexutil.Uint64(*h.BlobGasUsed)
	}
	if h.ExcessBlobGas != nil {
		out["excessBlobGas"] = hexutil.Uint64(*h.ExcessBlobGas)
	}
	if h.ParentBeaconRoot != nil {
		out["parentBeaconBlockRoot"] = h.ParentBeaconRoot
	}
	if h.RequestsHash != nil {
		out["requestsHash"] = h.RequestsHash
	}
	if h.BlockAccessListHash != nil {
		out["blockAccessListHash"] = h.BlockAccessListHash
	}
	if h.SlotNumber != nil {
		out["slotNumber"] = hexutil.Uint64(*h.SlotNumber)
	}
	return out
}

// marshalBlock renders a block. With fullTx, receipts are the block's
// stored receipts, which give deposits their nonce (nil if not held).
func marshalBlock(b *types.Block, fullTx bool, config *params.ChainConfig, receipts types.Receipts) map[string]any {
	out := marshalHeader(b.Header())
	out["size"] = hexutil.Uint64(b.Size())
	txs := make([]any, len(b.Transactions()))
	for i, tx := range b.Transactions() {
		if fullTx {
			txs[i] = newRPCTransaction(b, uint64(i), config, depositReceipt(tx, receipts, i))
		} else {
			txs[i] = tx.Hash()
		}
	}
	out["transactions"] = txs
	out["uncles"] = []common.Hash{}
	if b.Withdrawals() != nil {
		out["withdrawals"] = b.Withdrawals()
	}
	return out
}

// rpcTransaction is a transaction in geth's JSON form.
type rpcTransaction struct {
	BlockHash           *common.Hash                 `json:"blockHash"`
	BlockNumber         *hexutil.Big                 `json:"blockNumber"`
	BlockTimestamp      *hexutil.Uint64              `json:"blockTimestamp"`
	From                common.Address               `json:"from"`
	Gas                 hexutil.Uint64               `json:"gas"`
	GasPrice            *hexutil.Big                 `json:"gasPrice"`
	GasFeeCap           *hexutil.Big                 `json:"maxFeePerGas,omitempty"`
	GasTipCap           *hexutil.Big                 `json:"maxPriorityFeePerGas,omitempty"`
	MaxFeePerBlobGas    *hexutil.Big                 `json:"maxFeePerBlobGas,omitempty"`
	Hash                common.Hash                  `json:"hash"`
	Input               hexutil.Bytes                `json:"input"`
	Nonce               hexutil.Uint64               `json:"nonce"`
	To                  *common.Address              `json:"to"`
	TransactionIndex    *hexutil.Uint64              `json:"transactionIndex"`
	Value               *hexutil.Big                 `json:"value"`
	Type                hexutil.Uint64               `json:"type"`
	Accesses            *types.AccessList            `json:"accessList,omitempty"`
	ChainID             *hexutil.Big                 `json:"chainId,omitempty"`
	BlobVersionedHashes []common.Hash                `json:"blobVersionedHashes,omitempty"`
	AuthorizationList   []types.SetCodeAuthorization `json:"authorizationList,omitempty"`
	V                   *hexutil.Big                 `json:"v"`
	R                   *hexutil.Big                 `json:"r"`
	S                   *hexutil.Big                 `json:"s"`
	YParity             *hexutil.Uint64              `json:"yParity,omitempty"`

	// Deposits only (OP Stack).
	SourceHash            *common.Hash    `json:"sourceHash,omitempty"`
	Mint                  *hexutil.Big    `json:"mint,omitempty"`
	IsSystemTx            *bool           `json:"isSystemTx,omitempty"`
	DepositReceiptVersion *hexutil.Uint64 `json:"depositReceiptVersion,omitempty"`
}

// depositReceipt is the receipt of transaction i when it is a deposit,
// whose nonce and receipt version only its receipt holds; nil otherwise or
// if not held.
func depositReceipt(tx *types.Transaction, receipts types.Receipts, i int) *types.Receipt {
	if !tx.IsDepositTx() || i >= len(receipts) {
		return nil
	}
	return receipts[i]
}

// newRPCTransaction renders transaction idx of an included block. receipt
// is its receipt if it is a deposit (nil if not held): a deposit's nonce is
// the one its receipt records, and the receipt version is shown from
// Canyon. A deposit has a zero signature and no yParity or chain ID.
func newRPCTransaction(b *types.Block, idx uint64, config *params.ChainConfig, receipt *types.Receipt) *rpcTransaction {
	tx := b.Transactions()[idx]
	signer := types.MakeSigner(config, b.Number(), b.Time())
	from, _ := types.Sender(signer, tx)
	v, r, s := tx.RawSignatureValues()
	hash, number, ts := b.Hash(), b.Number(), b.Time()
	res := &rpcTransaction{
		BlockHash: &hash, BlockNumber: (*hexutil.Big)(number), BlockTimestamp: (*hexutil.Uint64)(&ts),
		TransactionIndex: (*hexutil.Uint64)(&idx),
		Type:             hexutil.Uint64(tx.Type()), From: from, Gas: hexutil.Uint64(tx.Gas()),
		GasPrice: (*hexutil.Big)(tx.GasPrice()), Hash: tx.Hash(), Input: hexutil.Bytes(tx.Data()),
		Nonce: hexutil.Uint64(tx.Nonce()), To: tx.To(), Value: (*hexutil.Big)(tx.Value()),
		V: (*hexutil.Big)(v), R: (*hexutil.Big)(r), S: (*hexutil.Big)(s),
	}
	typed := func() {
		al := tx.AccessList()
		yp := hexutil.Uint64(v.Sign())
		res.Accesses, res.ChainID, res.YParity = &al, (*hexutil.Big)(tx.ChainId()), &yp
	}
	dynamic := func() {
		res.GasFeeCap, res.GasTipCap = (*hexutil.Big)(tx.GasFeeCap()), (*hexutil.Big)(tx.GasTipCap())
		if b.BaseFee() != nil {
			res.GasPrice = (*hexutil.Big)(effectiveGasPrice(tx, b.BaseFee()))
		} else {
			res.GasPrice = (*hexutil.Big)(tx.GasFeeCap())
		}
	}
	switch tx.Type() {
	case types.DepositTxType:
		source := tx.SourceHash()
		res.SourceHash, res.Mint = &source, (*hexutil.Big)(tx.Mint())
		if tx.IsSystemTx() {
			system := true
			res.IsSystemTx = &system
		}
		if receipt != nil && receipt.DepositNonce != nil {
			res.Nonce = hexutil.Uint64(*receipt.DepositNonce)
			if receipt.DepositReceiptVersion != nil {
				version := hexutil.Uint64(*receipt.DepositReceiptVersion)
				res.DepositReceiptVersion = &version
			}
		}
	case types.LegacyTxType:
		if v.Sign() == 0 && r.Sign() == 0 && s.Sign() == 0 {
			// Unsigned: a transaction relayed before Bedrock.
			res.ChainID = (*hexutil.Big)(new(big.Int).Set(config.ChainID))
			break
		}
		if id := tx.ChainId(); id.Sign() != 0 {
			res.ChainID = (*hexutil.Big)(id)
		}
	case types.AccessListTxType:
		typed()
	case types.DynamicFeeTxType:
		typed()
		dynamic()
	case types.BlobTxType:
		typed()
		dynamic()
		res.MaxFeePerBlobGas = (*hexutil.Big)(tx.BlobGasFeeCap())
		res.BlobVersionedHashes = tx.BlobHashes()
	case types.SetCodeTxType:
		typed()
		dynamic()
		res.AuthorizationList = tx.SetCodeAuthorizations()
	}
	return res
}

// effectiveGasPrice is min(tip + baseFee, feeCap).
func effectiveGasPrice(tx *types.Transaction, baseFee *big.Int) *big.Int {
	fee := new(big.Int).Add(tx.GasTipCap(), baseFee)
	if fee.Cmp(tx.GasFeeCap()) > 0 {
		return new(big.Int).Set(tx.GasFeeCap())
	}
	return fee
}

// marshalReceipt renders a receipt with its derived fields. On an OP Stack
// chain a transaction's receipt also carries its L1 fee and the fee
// parameters of the block's L1-attributes deposit (null when not derived,
// as op-geth shows them), and a deposit's its nonce and receipt version.
func marshalReceipt(r *types.Receipt, blockHash common.Hash, number uint64, signer types.Signer, tx *types.Transaction, idx int, config *params.ChainConfig) map[string]any {
	from, _ := types.Sender(signer, tx)
	out := map[string]any{
		"blockHash":         blockHash,
		"blockNumber":       hexutil.Uint64(number),
		"transactionHash":   tx.Hash(),
		"transactionIndex":  hexutil.Uint64(idx),
		"from":              from,
		"to":                tx.To(),
		"gasUsed":           hexutil.Uint64(r.GasUsed),
		"cumulativeGasUsed": hexutil.Uint64(r.CumulativeGasUsed),
		"contractAddress":   nil,
		"logs":              r.Logs,
		"logsBloom":         r.Bloom,
		"type":              hexutil.Uint(tx.Type()),
		"effectiveGasPrice": (*hexutil.Big)(r.EffectiveGasPrice),
	}
	if config.IsOptimism() {
		marshalOPReceipt(out, r, tx)
	}
	if len(r.PostState) > 0 {
		out["root"] = hexutil.Bytes(r.PostState)
	} else {
		out["status"] = hexutil.Uint(r.Status)
	}
	if r.Logs == nil {
		out["logs"] = []*types.Log{}
	}
	if tx.Type() == types.BlobTxType {
		out["blobGasUsed"] = hexutil.Uint64(r.BlobGasUsed)
		out["blobGasPrice"] = (*hexutil.Big)(r.BlobGasPrice)
	}
	if r.ContractAddress != (common.Address{}) {
		out["contractAddress"] = r.ContractAddress
	}
	return out
}

// marshalOPReceipt adds the OP Stack fields of a receipt: fees for a
// transaction (l1FeeScalar before Ecotone; the blob base fee and scalars
// from Ecotone; operator fee parameters from Isthmus when not both zero; the
// DA footprint scalar from Jovian, which reuses blobGasUsed for the DA
// footprint), nonce and receipt version for a deposit.
func marshalOPReceipt(out map[string]any, r *types.Receipt, tx *types.Transaction) {
	if tx.IsDepositTx() {
		if r.DepositNonce != nil {
			out["depositNonce"] = hexutil.Uint64(*r.DepositNonce)
			if r.DepositReceiptVersion != nil {
				out["depositReceiptVersion"] = hexutil.Uint64(*r.DepositReceiptVersion)
			}
		}
		return
	}
	out["l1GasPrice"] = (*hexutil.Big)(r.L1GasPrice)
	out["l1GasUsed"] = (*hexutil.Big)(r.L1GasUsed)
	out["l1Fee"] = (*hexutil.Big)(r.L1Fee)
	if r.FeeScalar != nil {
		out["l1FeeScalar"] = r.FeeScalar.String()
	}
	if r.L1BlobBaseFee != nil {
		out["l1BlobBaseFee"] = (*hexutil.Big)(r.L1BlobBaseFee)
	}
	optional := map[string]*uint64{
		"l1BaseFeeScalar":      r.L1BaseFeeScalar,
		"l1BlobBaseFeeScalar":  r.L1BlobBaseFeeScalar,
		"operatorFeeScalar":    r.OperatorFeeScalar,
		"operatorFeeConstant":  r.OperatorFeeConstant,
		"daFootprintGasScalar": r.DAFootprintGasScalar,
	}
	for k, v := range optional {
		if v != nil {
			out[k] = hexutil.Uint64(*v)
		}
	}
	if r.DAFootprintGasScalar != nil {
		out["blobGasUsed"] = hexutil.Uint64(r.BlobGasUsed)
	}
}

func blobFee(config *params.ChainConfig, h *types.Header) *big.Int {
	return eip4844.CalcBlobFee(config, h)
}
