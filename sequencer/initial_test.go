package sequencer

import (
	"context"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/history/store"
)

// TestInitialStateGenesis checks the bulk-loaded filler against what it
// should hold, and that token transfers to existing holders rewrite their
// balance slots.
func TestInitialStateGenesis(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Load.Accounts = 4
	cfg.Load.Mix = Mix{KindERC20: 1}
	cfg.Initial = InitialState{Accounts: 1000, Slots: 1500}
	s, err := store.OpenMem(store.DefaultConfig())
	require.NoError(t, err)
	defer s.Close()
	seq := newTestSequencer(t, cfg, s)

	st, err := s.StateAt(0)
	require.NoError(t, err)
	token := crypto.Keccak256Hash(TokenAddress[:])
	for _, i := range []int{0, 1, 499, 999} {
		a := FillerAddress(i)
		acc, err := st.Account(crypto.Keccak256Hash(a[:]))
		require.NoError(t, err)
		require.NotNil(t, acc, "filler %d", i)
		require.Equal(t, fillerBalance.Uint64(), acc.Balance.Uint64())
		slot := TokenBalanceSlot(a)
		v, err := st.Storage(token, crypto.Keccak256Hash(slot[:]))
		require.NoError(t, err)
		if i < cfg.Initial.holders() {
			require.Equal(t, holderTokens, v, "holder %d", i)
		} else {
			require.Equal(t, common.Hash{}, v)
		}
	}
	v, err := st.Storage(crypto.Keccak256Hash(StorageContractAddress[:]), initialSlotHash(cfg.Initial.storageSlots()-1))
	require.NoError(t, err)
	require.Equal(t, common.BigToHash(common.Big1), v)
	st.Close()

	for i := uint64(1); i <= 5; i++ {
		info, err := seq.stepFed(context.Background(), time.UnixMilli(int64(seq.BlockMillis(i))))
		require.NoError(t, err)
		require.Positive(t, info.Txs)
		receipts, err := s.Receipts(i)
		require.NoError(t, err)
		body, err := s.Body(i)
		require.NoError(t, err)
		require.True(t, body[0].IsDepositTx(), "an OP block opens with the L1-attributes deposit")
		for _, r := range receipts[1:] {
			require.Equal(t, types.ReceiptStatusSuccessful, r.Status)
			require.Len(t, r.Logs, 1, "a token transfer logs Transfer")
		}
	}
}
