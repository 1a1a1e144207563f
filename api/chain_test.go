package api

import (
	"context"
	"math/big"
	"reflect"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/history/store"
	"github.com/strata-chain/strata/sequencer"
)

// gethChain is a chain made by go-ethereum's own node (the simulated
// backend) and replayed into a Strata store, with an RPC client for each.
type gethChain struct {
	geth    *rpc.Client // go-ethereum's answers
	strata  *rpc.Client // ours, over the same blocks
	store   *store.Store
	blocks  uint64
	touched []common.Address
	slots   []string // storage keys in the forms clients send
	txs     []common.Hash
}

// newGethChain makes blocks on the simulated backend with transfers to new
// accounts, storage writes and clears, token transfers, withdrawals,
// contract creations, a contract that self-destructs in its creation
// transaction and value sent to precompiles; it replays them through the
// sequencer's executor into a store (every root must match geth's) and
// serves the store with this package.
func newGethChain(t *testing.T) *gethChain {
	t.Helper()
	keys := sequencer.DevKeys(3)
	alloc := types.GenesisAlloc{
		sequencer.MessagePasserAddress:   {Nonce: 1, Code: sequencer.MessagePasserCode(), Balance: new(big.Int)},
		sequencer.StorageContractAddress: {Nonce: 1, Code: sequencer.StorageContractCode(), Balance: new(big.Int)},
		sequencer.TokenAddress: {Nonce: 1, Code: sequencer.TokenCode(), Balance: new(big.Int), Storage: map[common.Hash]common.Hash{
			sequencer.TokenBalanceSlot(crypto.PubkeyToAddress(keys[0].PublicKey)): common.BigToHash(big.NewInt(1e18)),
		}},
	}
	for _, k := range keys {
		alloc[crypto.PubkeyToAddress(k.PublicKey)] = types.Account{Balance: new(big.Int).Mul(big.NewInt(1e9), big.NewInt(params.Ether))}
	}
	sim := simulated.NewBackend(alloc)
	t.Cleanup(func() { sim.Close() })
	client := sim.Client()
	ctx := context.Background()
	config := params.AllDevChainProtocolChanges
	signer := types.LatestSigner(config)
	c := &gethChain{}
	for a := range alloc {
		c.touched = append(c.touched, a)
	}
	nonces := make([]uint64, len(keys))
	send := func(k int, to *common.Address, value *big.Int, gas uint64, data []byte) {
		tx := types.MustSignNewTx(keys[k], signer, &types.DynamicFeeTx{
			ChainID: config.ChainID, Nonce: nonces[k], GasTipCap: big.NewInt(params.GWei), GasFeeCap: big.NewInt(100 * params.GWei),
			Gas: gas, To: to, Value: value, Data: data,
		})
		nonces[k]++
		require.NoError(t, client.SendTransaction(ctx, tx))
		c.txs = append(c.txs, tx.Hash())
	}
	const blocks = 6
	for b := 0; b < blocks; b++ {
		for i := 0; i < 3; i++ {
			to := common.BigToAddress(big.NewInt(int64(0x10000 + b*16 + i)))
			c.touched = append(c.touched, to)
			send(0, &to, big.NewInt(int64(1+i)), 21_000, nil)
		}
		pairs := [][2]common.Hash{{common.BigToHash(big.NewInt(int64(b))), common.BigToHash(big.NewInt(int64(b + 100)))}}
		if b > 0 {
			pairs = append(pairs, [2]common.Hash{common.BigToHash(big.NewInt(int64(b - 1))), {}})
		}
		send(1, &sequencer.StorageContractAddress, nil, 200_000, sequencer.StorageCalldata(pairs))
		send(1, &sequencer.MessagePasserAddress, big.NewInt(int64(b)), 200_000, sequencer.WithdrawalCalldata(common.HexToAddress("0xabc"), 50_000, []byte{byte(b)}))
		holder := common.BigToAddress(big.NewInt(int64(0x20000 + b)))
		send(0, &sequencer.TokenAddress, nil, 100_000, sequencer.TransferCalldata(holder, uint64(10+b)))
		precompile := common.BytesToAddress([]byte{byte(1 + b%9)})
		c.touched = append(c.touched, precompile)
		send(2, &precompile, big.NewInt(1), 100_000, nil)
		switch b % 3 {
		case 0:
			send(2, nil, nil, 300_000, sequencer.CreationCode(sequencer.StorageContractCode(), 2))
			c.touched = append(c.touched, crypto.CreateAddress(crypto.PubkeyToAddress(keys[2].PublicKey), nonces[2]-1))
		case 1:
			send(2, nil, big.NewInt(5), 200_000, sequencer.SelfDestructingCreationCode(common.HexToAddress("0xbeef")))
			c.touched = append(c.touched, crypto.CreateAddress(crypto.PubkeyToAddress(keys[2].PublicKey), nonces[2]-1), common.HexToAddress("0xbeef"))
		}
		sim.Commit()
	}
	c.touched = append(c.touched, common.HexToAddress("0x00000000000000000000000000000000deadbeef")) // never exists
	c.slots = []string{
		common.BigToHash(big.NewInt(0)).Hex(), // 32 bytes: echoed as 32 bytes
		"0x1",                                 // short: echoed as a quantity
		"2",                                   // no 0x
		"0x0000000000000000000000000000000000000000000000000000000000000003",
		sequencer.TokenBalanceSlot(crypto.PubkeyToAddress(keys[0].PublicKey)).Hex(),
	}

	g := &core.Genesis{Config: config, GasLimit: ethconfig.Defaults.Miner.GasCeil, Alloc: types.GenesisAlloc{}} // the simulated backend deploys no system contracts
	for a, acc := range alloc {
		g.Alloc[a] = acc
	}
	gu, err := sequencer.GenesisUpdate(g)
	require.NoError(t, err)
	s, err := store.OpenMem(store.DefaultConfig())
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	require.NoError(t, s.Ingest(ctx, gu))
	ex := sequencer.NewExecutor(config, s)
	for n := uint64(1); n <= blocks; n++ {
		block, err := client.BlockByNumber(ctx, new(big.Int).SetUint64(n))
		require.NoError(t, err)
		require.NoError(t, ex.ReplayInto(ctx, s, block), "block %d", n)
	}
	srv, err := NewRPCServer(Config{ChainConfig: config, Reader: s})
	require.NoError(t, err)
	t.Cleanup(srv.Stop)
	// The simulated client embeds *ethclient.Client in a field named Client,
	// which hides the method of that name.
	c.geth = reflect.ValueOf(client).Field(0).Interface().(*ethclient.Client).Client()
	c.strata = rpc.DialInProc(srv)
	t.Cleanup(c.strata.Close)
	c.store, c.blocks = s, blocks
	return c
}
