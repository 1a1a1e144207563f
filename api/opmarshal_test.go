package api

import (
	"encoding/json"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/sequencer"
)

// TestMarshalOPStackCases renders what an executed devnet block cannot
// hold, and compares each with the object op-geth's newRPCTransaction and
// MarshalReceipt build (internal/ethapi/api.go), written out by hand: a
// system deposit (pre-Regolith: isSystemTx shown, only when true), a deposit
// minting zero (mint shown as 0x0) whose receipt is not held (nonce 0, no
// receipt version), a pre-Canyon deposit receipt (nonce, no version), a
// pre-Bedrock unsigned legacy transaction (the chain's ID), a pre-Ecotone
// receipt (l1FeeScalar as a decimal string) and an underived one (null
// fees).
func TestMarshalOPStackCases(t *testing.T) {
	config := opChainConfig()
	l1Info := common.HexToAddress("0xdeaddeaddeaddeaddeaddeaddeaddeaddead0001")
	to := common.HexToAddress("0x4200000000000000000000000000000000000015")
	source := common.HexToHash("0x5005")
	system := types.NewTx(&types.DepositTx{SourceHash: source, From: l1Info, To: &to, Value: new(big.Int), Gas: 150_000_000, IsSystemTransaction: true, Data: []byte{1, 2}})
	zeroMint := types.NewTx(&types.DepositTx{SourceHash: common.HexToHash("0x5006"), From: common.HexToAddress("0xaa"), To: &to, Mint: new(big.Int), Value: big.NewInt(3), Gas: 50_000})
	unsigned := types.NewTx(&types.LegacyTx{Nonce: 9, GasPrice: big.NewInt(0), Gas: 21_000, To: &to, Value: big.NewInt(1), V: new(big.Int), R: new(big.Int), S: new(big.Int)})
	signed := types.MustSignNewTx(sequencer.DevKeys(1)[0], types.NewEIP155Signer(config.ChainID), &types.LegacyTx{Nonce: 0, GasPrice: big.NewInt(params.GWei), Gas: 21_000, To: &to, Value: big.NewInt(1)})
	h := &types.Header{Number: big.NewInt(5), Time: 1_000, BaseFee: big.NewInt(params.GWei), Difficulty: new(big.Int)}
	block := types.NewBlockWithHeader(h).WithBody(types.Body{Transactions: types.Transactions{system, zeroMint, unsigned, signed}})
	hash := block.Hash()
	render := func(v any) string {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		return string(b)
	}
	seven := uint64(7)

	// A deposit: zero signature and gas price, no chainId or yParity.
	require.JSONEq(t, render(map[string]any{
		"blockHash": hash, "blockNumber": "0x5", "blockTimestamp": "0x3e8", "transactionIndex": "0x0",
		"from": l1Info, "to": to, "gas": "0x8f0d180", "gasPrice": "0x0", "hash": system.Hash(), "input": "0x0102",
		"nonce": "0x7", "value": "0x0", "type": "0x7e", "v": "0x0", "r": "0x0", "s": "0x0",
		"sourceHash": source, "isSystemTx": true,
	}), render(newRPCTransaction(block, 0, config, &types.Receipt{DepositNonce: &seven})))
	require.JSONEq(t, render(map[string]any{
		"blockHash": hash, "blockNumber": "0x5", "blockTimestamp": "0x3e8", "transactionIndex": "0x1",
		"from": common.HexToAddress("0xaa"), "to": to, "gas": "0xc350", "gasPrice": "0x0", "hash": zeroMint.Hash(), "input": "0x",
		"nonce": "0x0", "value": "0x3", "type": "0x7e", "v": "0x0", "r": "0x0", "s": "0x0",
		"sourceHash": common.HexToHash("0x5006"), "mint": "0x0",
	}), render(newRPCTransaction(block, 1, config, nil)))
	require.JSONEq(t, render(map[string]any{
		"blockHash": hash, "blockNumber": "0x5", "blockTimestamp": "0x3e8", "transactionIndex": "0x2",
		"from": common.Address{}, "to": to, "gas": "0x5208", "gasPrice": "0x0", "hash": unsigned.Hash(), "input": "0x",
		"nonce": "0x9", "value": "0x1", "type": "0x0", "v": "0x0", "r": "0x0", "s": "0x0", "chainId": "0x385",
	}), render(newRPCTransaction(block, 2, config, nil)))
	// The block gives a deposit its receipt's nonce.
	full := marshalBlock(block, true, config, types.Receipts{{DepositNonce: &seven}, {}, {}, {}})
	require.Equal(t, render(newRPCTransaction(block, 0, config, &types.Receipt{DepositNonce: &seven})), render(full["transactions"].([]any)[0]))

	signer := types.MakeSigner(config, h.Number, h.Time)
	base := func(tx *types.Transaction, idx int) map[string]any {
		from, _ := types.Sender(signer, tx)
		return map[string]any{
			"blockHash": hash, "blockNumber": "0x5", "transactionHash": tx.Hash(), "transactionIndex": idx,
			"from": from, "to": to, "gasUsed": "0x5208", "cumulativeGasUsed": "0x5208", "contractAddress": nil,
			"logs": []any{}, "logsBloom": types.Bloom{}, "type": tx.Type(), "effectiveGasPrice": "0x3b9aca00", "status": "0x1",
		}
	}
	receipt := func() *types.Receipt {
		return &types.Receipt{Status: 1, GasUsed: 21_000, CumulativeGasUsed: 21_000, EffectiveGasPrice: big.NewInt(params.GWei)}
	}
	with := func(m map[string]any, kv ...any) string {
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		// Numbers in the maps above are hex quantities in the answers.
		m["transactionIndex"] = hexutil.EncodeUint64(uint64(m["transactionIndex"].(int)))
		m["type"] = hexutil.EncodeUint64(uint64(m["type"].(uint8)))
		return render(m)
	}

	// Pre-Canyon deposit receipt: the nonce, no version.
	r := receipt()
	r.DepositNonce = &seven
	require.JSONEq(t, with(base(system, 0), "depositNonce", "0x7"), render(marshalReceipt(r, hash, 5, signer, system, 0, config)))
	// Pre-Regolith deposit receipt: no nonce at all.
	require.JSONEq(t, with(base(zeroMint, 1)), render(marshalReceipt(receipt(), hash, 5, signer, zeroMint, 1, config)))
	// Pre-Ecotone fees, l1FeeScalar as a decimal string.
	r = receipt()
	r.L1GasPrice, r.L1GasUsed, r.L1Fee, r.FeeScalar = big.NewInt(30), big.NewInt(1600), big.NewInt(50_000), big.NewFloat(0.684)
	require.JSONEq(t, with(base(signed, 3), "l1GasPrice", "0x1e", "l1GasUsed", "0x640", "l1Fee", "0xc350", "l1FeeScalar", "0.684"),
		render(marshalReceipt(r, hash, 5, signer, signed, 3, config)))
	// Fees not derived: null, as op-geth shows them.
	require.JSONEq(t, with(base(signed, 3), "l1GasPrice", nil, "l1GasUsed", nil, "l1Fee", nil),
		render(marshalReceipt(receipt(), hash, 5, signer, signed, 3, config)))
	// Not an OP Stack chain: none of them.
	require.JSONEq(t, with(base(signed, 3)), render(marshalReceipt(receipt(), hash, 5, signer, signed, 3, params.AllDevChainProtocolChanges)))
}
