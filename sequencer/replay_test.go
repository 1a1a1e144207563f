package sequencer

import (
	"context"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/params"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/history/store"
)

// TestReplayGethBlocks has go-ethereum's own node (the simulated backend)
// make blocks with transfers, storage writes and clears, contract creations,
// a self-destruct in a creation transaction and withdrawals, then replays
// them through the executor into the store: every state root, gas used and
// receipts root must equal geth's.
func TestReplayGethBlocks(t *testing.T) {
	keys := DevKeys(3)
	alloc := types.GenesisAlloc{
		MessagePasserAddress:   {Nonce: 1, Code: MessagePasserCode(), Balance: new(big.Int)},
		StorageContractAddress: {Nonce: 1, Code: StorageContractCode(), Balance: new(big.Int)},
	}
	for _, k := range keys {
		alloc[crypto.PubkeyToAddress(k.PublicKey)] = types.Account{Balance: devBalance}
	}
	sim := simulated.NewBackend(alloc)
	defer sim.Close()
	client := sim.Client()
	ctx := context.Background()
	config := params.AllDevChainProtocolChanges
	signer := types.LatestSigner(config)

	nonces := make([]uint64, len(keys))
	send := func(k int, to *common.Address, value *big.Int, gas uint64, data []byte) {
		tx := types.MustSignNewTx(keys[k], signer, &types.DynamicFeeTx{
			ChainID: config.ChainID, Nonce: nonces[k], GasTipCap: big.NewInt(params.GWei), GasFeeCap: big.NewInt(100 * params.GWei),
			Gas: gas, To: to, Value: value, Data: data,
		})
		nonces[k]++
		require.NoError(t, client.SendTransaction(ctx, tx))
	}
	const blocks = 8
	for b := 0; b < blocks; b++ {
		for i := 0; i < 5; i++ {
			to := common.BigToAddress(big.NewInt(int64(0x10000 + b*16 + i)))
			send(0, &to, big.NewInt(int64(1+i)), 21_000, nil)
		}
		pairs := [][2]common.Hash{
			{common.BigToHash(big.NewInt(int64(b))), common.BigToHash(big.NewInt(int64(b + 100)))},
		}
		if b > 0 {
			pairs = append(pairs, [2]common.Hash{common.BigToHash(big.NewInt(int64(b - 1))), {}})
		}
		send(1, &StorageContractAddress, nil, 200_000, StorageCalldata(pairs))
		send(1, &MessagePasserAddress, big.NewInt(int64(b)), 200_000, WithdrawalCalldata(common.HexToAddress("0xabc"), 50_000, []byte{byte(b)}))
		switch b % 3 {
		case 0:
			send(2, nil, nil, 300_000, CreationCode(StorageContractCode(), 2))
		case 1:
			send(2, nil, big.NewInt(5), 200_000, SelfDestructingCreationCode(common.HexToAddress("0xbeef")))
		}
		sim.Commit()
	}

	// The same genesis as the simulated backend's.
	g := &core.Genesis{Config: config, GasLimit: ethconfig.Defaults.Miner.GasCeil, Alloc: types.GenesisAlloc{}} // the simulated backend deploys no system contracts
	for a, acc := range alloc {
		g.Alloc[a] = acc
	}
	gu, err := GenesisUpdate(g)
	require.NoError(t, err)
	gethGenesis, err := client.HeaderByNumber(ctx, big.NewInt(0))
	require.NoError(t, err)
	require.Equal(t, gethGenesis.Hash(), gu.Header.Hash(), "genesis must match the simulated backend's")

	s, err := store.OpenMem(store.DefaultConfig())
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Ingest(ctx, gu))
	ex := NewExecutor(config, s)
	txCount := 0
	for n := uint64(1); n <= blocks; n++ {
		block, err := client.BlockByNumber(ctx, new(big.Int).SetUint64(n))
		require.NoError(t, err)
		require.NoError(t, ex.ReplayInto(ctx, s, block), "block %d", n)
		txCount += len(block.Transactions())
	}
	require.Greater(t, txCount, blocks*7, "the blocks must carry the transactions")
	head, err := s.Head()
	require.NoError(t, err)
	gethHead, err := client.HeaderByNumber(ctx, nil)
	require.NoError(t, err)
	require.Equal(t, gethHead.Hash(), head.Hash)
	require.Equal(t, gethHead.Root, head.Root)
}
