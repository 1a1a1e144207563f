package sequencer

import (
	"context"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/history/store"
)

// newTestChain opens an in-memory store holding cfg's genesis.
func newTestChain(t *testing.T, cfg Config) (*store.Store, *types.Header) {
	t.Helper()
	s, err := store.OpenMem(store.DefaultConfig())
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	cfg.Forks = Forks{} // blocks here carry no L1-attributes deposit, which Jovian's DA footprint needs
	g, err := Genesis(cfg, 1_700_000_000_000)
	require.NoError(t, err)
	u, err := GenesisUpdate(g)
	require.NoError(t, err)
	require.NoError(t, s.Ingest(context.Background(), u))
	return s, u.Header
}

// buildOn builds and ingests one block of txs on the store's head.
func buildOn(t *testing.T, s *store.Store, ex *Executor, txs types.Transactions) *Built {
	t.Helper()
	head, err := s.Head()
	require.NoError(t, err)
	parent, err := s.HeaderByNumber(head.Number)
	require.NoError(t, err)
	st, err := s.StateAt(head.Number)
	require.NoError(t, err)
	defer st.Close()
	beacon := common.Hash{}
	h := &types.Header{
		ParentHash:       parent.Hash(),
		Number:           new(big.Int).Add(parent.Number, common.Big1),
		Time:             parent.Time + 1,
		GasLimit:         parent.GasLimit,
		Coinbase:         DefaultConfig().FeeRecipient,
		BaseFee:          nextBaseFee(ex.Config(), parent, parent.Time+1),
		Difficulty:       new(big.Int),
		Extra:            ExtraData(ex.Config(), parent.Time+1),
		ParentBeaconRoot: &beacon,
	}
	zero := uint64(0)
	h.ExcessBlobGas = &zero
	b, err := ex.Build(context.Background(), st, parent, h, txs)
	require.NoError(t, err)
	require.NoError(t, s.Ingest(context.Background(), b.Update), "the store must reproduce the executor's root")
	return b
}

func TestMessagePasserRecordsWithdrawalHash(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Load.GasPerSecond = 0
	s, _ := newTestChain(t, cfg)
	ex := NewExecutor(ChainConfig(cfg.ChainID, 0, Forks{}), s)
	key := DevKeys(1)[0]
	sender := crypto.PubkeyToAddress(key.PublicKey)
	signer := types.LatestSigner(ex.Config())

	target := common.HexToAddress("0x1234")
	data := []byte("hello withdrawals, longer than thirty-two bytes!")
	value := big.NewInt(12345)
	tx := types.MustSignNewTx(key, signer, &types.DynamicFeeTx{
		ChainID: ex.Config().ChainID, Nonce: 0, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(params.GWei),
		Gas: 200_000, To: &MessagePasserAddress, Value: value, Data: WithdrawalCalldata(target, 100_000, data),
	})
	bad := types.MustSignNewTx(key, signer, &types.DynamicFeeTx{
		ChainID: ex.Config().ChainID, Nonce: 1, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(params.GWei),
		Gas: 200_000, To: &MessagePasserAddress, Data: []byte{1, 2, 3, 4},
	})
	b := buildOn(t, s, ex, types.Transactions{tx, bad})
	require.Len(t, b.Receipts, 2)
	require.Equal(t, types.ReceiptStatusSuccessful, b.Receipts[0].Status)
	require.Equal(t, types.ReceiptStatusFailed, b.Receipts[1].Status, "unknown selector must revert")

	// The hash Hashing.hashWithdrawal computes, by the ABI encoder.
	u256, _ := abi.NewType("uint256", "", nil)
	addr, _ := abi.NewType("address", "", nil)
	bytesT, _ := abi.NewType("bytes", "", nil)
	enc, err := abi.Arguments{{Type: u256}, {Type: addr}, {Type: addr}, {Type: u256}, {Type: u256}, {Type: bytesT}}.
		Pack(big.NewInt(0), sender, target, value, big.NewInt(100_000), data)
	require.NoError(t, err)
	wantHash := crypto.Keccak256Hash(enc)
	require.Len(t, b.Receipts[0].Logs, 1)
	require.Equal(t, wantHash, common.BytesToHash(b.Receipts[0].Logs[0].Data))
	require.Equal(t, crypto.Keccak256([]byte("initiateWithdrawal(address,uint256,bytes)"))[:4], initiateWithdrawalSelector)

	st, err := s.StateAt(1)
	require.NoError(t, err)
	defer st.Close()
	mp := crypto.Keccak256Hash(MessagePasserAddress[:])
	slot := crypto.Keccak256Hash(wantHash[:], common.Hash{}.Bytes())
	v, err := st.Storage(mp, crypto.Keccak256Hash(slot[:]))
	require.NoError(t, err)
	require.Equal(t, common.BigToHash(common.Big1), v, "sentMessages[hash] must be true")
	nonce, err := st.Storage(mp, crypto.Keccak256Hash(common.BigToHash(common.Big1).Bytes()))
	require.NoError(t, err)
	require.Equal(t, common.BigToHash(common.Big1), nonce)
	acc, err := st.Account(mp)
	require.NoError(t, err)
	require.Equal(t, acc.Root, *b.Block.Header().WithdrawalsHash, "Isthmus: withdrawalsRoot is the message passer's storage root")
	require.NotEqual(t, types.EmptyRootHash, acc.Root)
}

func TestBuildDropsInvalidAndHandlesSelfDestruct(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Load.GasPerSecond = 0
	s, _ := newTestChain(t, cfg)
	ex := NewExecutor(ChainConfig(cfg.ChainID, 0, Forks{}), s)
	keys := DevKeys(2)
	signer := types.LatestSigner(ex.Config())
	mk := func(k int, nonce uint64, to *common.Address, value *big.Int, gas uint64, data []byte) *types.Transaction {
		return types.MustSignNewTx(keys[k], signer, &types.DynamicFeeTx{
			ChainID: ex.Config().ChainID, Nonce: nonce, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(params.GWei),
			Gas: gas, To: to, Value: value, Data: data,
		})
	}
	beneficiary := common.HexToAddress("0xbeef")
	fresh := common.HexToAddress("0xf00d")
	txs := types.Transactions{
		mk(0, 0, &fresh, big.NewInt(7), 21_000, nil),
		mk(0, 5, &fresh, big.NewInt(7), 21_000, nil), // nonce gap: dropped
		mk(0, 1, nil, big.NewInt(99), 200_000, SelfDestructingCreationCode(beneficiary)),
		mk(1, 0, nil, nil, 300_000, CreationCode(StorageContractCode(), 3)),
		mk(1, 1, &StorageContractAddress, nil, 200_000, StorageCalldata([][2]common.Hash{{common.HexToHash("0x1"), common.HexToHash("0x2")}})),
	}
	b := buildOn(t, s, ex, txs)
	require.Len(t, b.Block.Transactions(), 4)
	require.Len(t, b.Dropped, 1)
	for i, r := range b.Receipts {
		require.Equal(t, types.ReceiptStatusSuccessful, r.Status, "receipt %d", i)
	}
	created := crypto.CreateAddress(crypto.PubkeyToAddress(keys[0].PublicKey), 1)
	st, err := s.StateAt(1)
	require.NoError(t, err)
	defer st.Close()
	acc, err := st.Account(crypto.Keccak256Hash(created[:]))
	require.NoError(t, err)
	require.Nil(t, acc, "self-destructed in its creation transaction")
	ben, err := st.Account(crypto.Keccak256Hash(beneficiary[:]))
	require.NoError(t, err)
	require.Equal(t, uint64(99), ben.Balance.Uint64())
	deployed := crypto.CreateAddress(crypto.PubkeyToAddress(keys[1].PublicKey), 0)
	dacc, err := st.Account(crypto.Keccak256Hash(deployed[:]))
	require.NoError(t, err)
	require.NotNil(t, dacc)
	code, err := st.Code(common.BytesToHash(dacc.CodeHash))
	require.NoError(t, err)
	require.Equal(t, StorageContractCode(), code)
	v, err := st.Storage(crypto.Keccak256Hash(StorageContractAddress[:]), crypto.Keccak256Hash(common.HexToHash("0x1").Bytes()))
	require.NoError(t, err)
	require.Equal(t, common.HexToHash("0x2"), v)

	// Clearing the slot in the next block deletes it.
	b2 := buildOn(t, s, ex, types.Transactions{
		mk(1, 2, &StorageContractAddress, nil, 200_000, StorageCalldata([][2]common.Hash{{common.HexToHash("0x1"), {}}})),
	})
	require.Len(t, b2.Receipts, 1)
	st2, err := s.StateAt(2)
	require.NoError(t, err)
	defer st2.Close()
	v, err = st2.Storage(crypto.Keccak256Hash(StorageContractAddress[:]), crypto.Keccak256Hash(common.HexToHash("0x1").Bytes()))
	require.NoError(t, err)
	require.Equal(t, common.Hash{}, v)
}

func TestEmptyBlock(t *testing.T) {
	cfg := DefaultConfig()
	s, _ := newTestChain(t, cfg)
	ex := NewExecutor(ChainConfig(cfg.ChainID, 0, Forks{}), s)
	for i := 0; i < 3; i++ {
		b := buildOn(t, s, ex, nil)
		require.Empty(t, b.Block.Transactions())
		require.Equal(t, types.EmptyTxsHash, b.Block.TxHash())
	}
}
