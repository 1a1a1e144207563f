package chain

import (
	"context"
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/holiman/uint256"
	"github.com/stretchr/testify/require"
)

// noHeaders answers no BLOCKHASH: the transactions here read none.
type noHeaders struct{}

func (noHeaders) HeaderByNumber(uint64) (*types.Header, error) { return nil, errors.New("no headers") }

// TestApply: Replay refuses a list with a transaction that cannot be
// applied or does not fit, Build leaves such a transaction out (or ends the
// block at the first that does not fit), and both leave the same state
// after the same applied transactions.
func TestApply(t *testing.T) {
	config := testOPConfig()
	key, _ := crypto.GenerateKey()
	from := crypto.PubkeyToAddress(key.PublicKey)
	signer := types.LatestSigner(config)
	to := common.HexToAddress("0x77")
	transfer := func(nonce uint64) *types.Transaction {
		return types.MustSignNewTx(key, signer, &types.DynamicFeeTx{
			ChainID: config.ChainID, Nonce: nonce, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(params.GWei), Gas: 21_000, To: &to, Value: big.NewInt(1),
		})
	}
	genesis := testGenesisHeader(config)
	header := func(gasLimit uint64) *types.Header {
		return &types.Header{
			ParentHash: genesis.Hash(), Number: big.NewInt(1), Time: genesis.Time + 1, GasLimit: gasLimit,
			BaseFee: big.NewInt(params.InitialBaseFee), Difficulty: new(big.Int), Coinbase: common.HexToAddress("0xfee"),
		}
	}
	for _, tc := range []struct {
		name       string
		mode       Mode
		gasLimit   uint64
		txs        types.Transactions
		err        error    // Replay's error, nil if the block applies
		applied    []uint64 // nonces of the applied transactions
		dropped    []uint64 // nonces of the dropped ones
		wantErrMsg string
	}{
		{name: "replay applies a valid list", mode: Replay, gasLimit: 1_000_000, txs: types.Transactions{transfer(0), transfer(1)}, applied: []uint64{0, 1}},
		{name: "build applies a valid list", mode: Build, gasLimit: 1_000_000, txs: types.Transactions{transfer(0), transfer(1)}, applied: []uint64{0, 1}},
		{name: "replay refuses a nonce gap", mode: Replay, gasLimit: 1_000_000, txs: types.Transactions{transfer(0), transfer(2)}, err: core.ErrNonceTooHigh, wantErrMsg: "transaction 1"},
		{name: "build drops a nonce gap", mode: Build, gasLimit: 1_000_000, txs: types.Transactions{transfer(0), transfer(2), transfer(1)}, applied: []uint64{0, 1}, dropped: []uint64{2}},
		{name: "replay refuses what does not fit", mode: Replay, gasLimit: 50_000, txs: types.Transactions{transfer(0), transfer(1), transfer(2)}, err: core.ErrGasLimitReached, wantErrMsg: "transaction 2"},
		{name: "build ends at what does not fit", mode: Build, gasLimit: 50_000, txs: types.Transactions{transfer(0), transfer(1), transfer(2)}, applied: []uint64{0, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sdb, err := state.New(types.EmptyRootHash, state.NewDatabaseForTesting())
			require.NoError(t, err)
			sdb.AddBalance(from, uint256.NewInt(params.Ether), tracing.BalanceChangeUnspecified)
			h := header(tc.gasLimit)
			got, err := Apply(context.Background(), Block{Config: config, Headers: noHeaders{}, Header: h, State: sdb, Withdrawals: types.Withdrawals{}}, tc.txs, tc.mode)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				require.ErrorContains(t, err, tc.wantErrMsg)
				return
			}
			require.NoError(t, err)
			var applied, dropped []uint64
			for i, tx := range got.Transactions {
				applied = append(applied, tx.Nonce())
				require.Equal(t, uint(i), got.Receipts[i].TransactionIndex, "receipt index among the applied")
				require.Equal(t, types.ReceiptStatusSuccessful, got.Receipts[i].Status)
			}
			for _, d := range got.Dropped {
				dropped = append(dropped, d.Tx.Nonce())
				require.ErrorIs(t, d.Err, core.ErrNonceTooHigh)
			}
			require.Equal(t, tc.applied, applied)
			require.Equal(t, tc.dropped, dropped)
			require.Equal(t, uint64(len(tc.applied))*21_000, got.GasUsed)
			require.Equal(t, uint64(len(tc.applied)), sdb.GetNonce(from))
			require.Equal(t, uint64(len(tc.applied)), sdb.GetBalance(to).Uint64(), "a dropped transaction left no trace")
			require.Nil(t, got.Requests, "no requests before Prague")
		})
	}
}

// TestApplyCancelled: a cancelled context ends Apply with its error, not a
// block.
func TestApplyCancelled(t *testing.T) {
	config := testOPConfig()
	genesis := testGenesisHeader(config)
	sdb, err := state.New(types.EmptyRootHash, state.NewDatabaseForTesting())
	require.NoError(t, err)
	h := &types.Header{ParentHash: genesis.Hash(), Number: big.NewInt(1), Time: genesis.Time + 1, GasLimit: 1_000_000, BaseFee: big.NewInt(params.InitialBaseFee), Difficulty: new(big.Int)}
	key, _ := crypto.GenerateKey()
	to := common.HexToAddress("0x77")
	tx := types.MustSignNewTx(key, types.LatestSigner(config), &types.DynamicFeeTx{ChainID: config.ChainID, GasFeeCap: big.NewInt(params.GWei), Gas: 21_000, To: &to})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, mode := range []Mode{Replay, Build} {
		_, err = Apply(ctx, Block{Config: config, Headers: noHeaders{}, Header: h, State: sdb}, types.Transactions{tx}, mode)
		require.ErrorIs(t, err, context.Canceled)
	}
}
