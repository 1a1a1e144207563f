package sequencer

import (
	"crypto/ecdsa"
	"encoding/binary"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/holiman/uint256"

	"github.com/strata-chain/strata/history"
)

// MessagePasserAddress is the L2ToL1MessagePasser predeploy of the OP Stack.
var MessagePasserAddress = common.HexToAddress("0x4200000000000000000000000000000000000016")

// StorageContractAddress holds a genesis contract the load generator uses for
// storage writes and clears (see storageContractCode).
var StorageContractAddress = common.HexToAddress("0x5700000000000000000000000000000000000001")

// TokenAddress holds the devnet's ERC-20 token (TokenCode).
var TokenAddress = common.HexToAddress("0x5700000000000000000000000000000000000002")

// PoolAddresses hold the devnet's swap pools (PoolCode).
var PoolAddresses = []common.Address{
	common.HexToAddress("0x5700000000000000000000000000000000000010"),
	common.HexToAddress("0x5700000000000000000000000000000000000011"),
	common.HexToAddress("0x5700000000000000000000000000000000000012"),
	common.HexToAddress("0x5700000000000000000000000000000000000013"),
}

// senderTokens is each load sender's starting token balance.
var senderTokens = common.BigToHash(new(big.Int).Lsh(big.NewInt(1), 128))

// poolReserve is each pool's starting reserve of both assets.
var poolReserve = common.BigToHash(new(big.Int).Exp(big.NewInt(10), big.NewInt(24), nil))

// devBalance is what every dev and load account starts with: 1e9 ether.
var devBalance = new(big.Int).Mul(big.NewInt(1_000_000_000), big.NewInt(params.Ether))

// deriveKey makes a deterministic private key from a label and an index.
// The keys are public knowledge: devnet use only.
func deriveKey(label string, seed int64, i int) *ecdsa.PrivateKey {
	var buf [16]byte
	binary.BigEndian.PutUint64(buf[:8], uint64(seed))
	binary.BigEndian.PutUint64(buf[8:], uint64(i))
	for nonce := byte(0); ; nonce++ {
		k, err := crypto.ToECDSA(crypto.Keccak256([]byte(label), buf[:], []byte{nonce}))
		if err == nil {
			return k
		}
	}
}

// DevKeys returns the n prefunded dev accounts' keys, the same on every run.
func DevKeys(n int) []*ecdsa.PrivateKey {
	keys := make([]*ecdsa.PrivateKey, n)
	for i := range keys {
		keys[i] = deriveKey("strata devnet account", 0, i)
	}
	return keys
}

// loadKeys returns the load generator's sender keys for a seed.
func loadKeys(seed int64, n int) []*ecdsa.PrivateKey {
	keys := make([]*ecdsa.PrivateKey, n)
	for i := range keys {
		keys[i] = deriveKey("strata load account", seed, i)
	}
	return keys
}

// Genesis is the devnet genesis, an OP Stack L2 genesis: the system
// contracts (EIP-4788, EIP-2935, EIP-7002, EIP-7251), the L1Block and
// L2ToL1MessagePasser predeploys, the storage, token and pool contracts, the
// dev accounts and the load generator's accounts, all funded. Its extraData
// carries the Holocene EIP-1559 parameters, and from Isthmus its
// withdrawalsRoot is the message passer's storage root (op-geth's ToBlock).
// timeMillis is the genesis time in Unix milliseconds, a whole second.
func Genesis(cfg Config, timeMillis uint64) (*core.Genesis, error) {
	l1Block, err := l1BlockCode()
	if err != nil {
		return nil, err
	}
	alloc := SystemContractAllocs()
	alloc[L1BlockAddress] = types.Account{Nonce: 1, Code: l1Block, Balance: new(big.Int)}
	// The message passer holds its proxy admin in the EIP-1967 slot, as the
	// real predeploy does, so its storage root is never the empty root: from
	// Isthmus that root is the header's withdrawalsRoot, and an Engine API
	// payload that carries the empty root drops it (op-geth's
	// BlockToExecutableData), which op-geth then refuses.
	alloc[MessagePasserAddress] = types.Account{Nonce: 1, Code: MessagePasserCode(), Balance: new(big.Int), Storage: map[common.Hash]common.Hash{
		eip1967AdminSlot: common.BytesToHash(ProxyAdminAddress[:]),
	}}
	alloc[StorageContractAddress] = types.Account{Nonce: 1, Code: StorageContractCode(), Balance: new(big.Int)}
	token := types.Account{Nonce: 1, Code: TokenCode(), Balance: new(big.Int), Storage: map[common.Hash]common.Hash{}}
	for _, k := range loadKeys(cfg.Load.Seed, cfg.Load.Accounts) {
		token.Storage[TokenBalanceSlot(crypto.PubkeyToAddress(k.PublicKey))] = senderTokens
	}
	alloc[TokenAddress] = token
	for _, a := range PoolAddresses {
		alloc[a] = types.Account{Nonce: 1, Code: PoolCode(), Balance: new(big.Int), Storage: map[common.Hash]common.Hash{
			common.BigToHash(big.NewInt(0)): poolReserve,
			common.BigToHash(big.NewInt(1)): poolReserve,
		}}
	}
	for _, k := range DevKeys(cfg.DevAccounts) {
		alloc[crypto.PubkeyToAddress(k.PublicKey)] = types.Account{Balance: devBalance}
	}
	// The load accounts are funded whether or not the generator runs, so that
	// one datadir serves both the fullstack and the sequencer mode.
	for _, k := range loadKeys(cfg.Load.Seed, cfg.Load.Accounts) {
		alloc[crypto.PubkeyToAddress(k.PublicKey)] = types.Account{Balance: devBalance}
	}
	ts := timeMillis / 1000
	if cfg.TimestampPolicy == TimestampMilliseconds {
		ts = timeMillis
	}
	config := cfg.chainConfig(ts)
	return &core.Genesis{
		Config:     config,
		Timestamp:  ts,
		GasLimit:   cfg.GasLimit,
		Difficulty: big.NewInt(0),
		BaseFee:    big.NewInt(params.InitialBaseFee),
		ExtraData:  ExtraData(config, ts),
		Alloc:      alloc,
	}, nil
}

// GenesisUpdate turns a genesis into block 0's BlockUpdate. The header comes
// from go-ethereum's Genesis.ToBlock, so its root is computed by go-ethereum
// and the store's ingest check re-derives it independently.
func GenesisUpdate(g *core.Genesis) (*history.BlockUpdate, error) {
	block := g.ToBlock()
	u := &history.BlockUpdate{
		Header:       block.Header(),
		Transactions: types.Transactions{},
		Receipts:     types.Receipts{},
		Accounts:     make(map[common.Hash]*history.AccountChange, len(g.Alloc)),
		Codes:        make(map[common.Hash][]byte),
	}
	for addr, acc := range g.Alloc {
		bal := new(uint256.Int)
		if acc.Balance != nil {
			if bal.SetFromBig(acc.Balance) {
				return nil, fmt.Errorf("genesis account %s: balance overflows 256 bits", addr)
			}
		}
		ch := &history.AccountChange{Account: &history.Account{Nonce: acc.Nonce, Balance: bal, CodeHash: types.EmptyCodeHash}}
		if len(acc.Code) > 0 {
			h := crypto.Keccak256Hash(acc.Code)
			ch.Account.CodeHash = h
			u.Codes[h] = acc.Code
		}
		if len(acc.Storage) > 0 {
			ch.Storage = make(map[common.Hash]common.Hash, len(acc.Storage))
			for k, v := range acc.Storage {
				ch.Storage[crypto.Keccak256Hash(k[:])] = v
			}
		}
		u.Accounts[crypto.Keccak256Hash(addr[:])] = ch
	}
	return u, nil
}

// eip1967AdminSlot is the EIP-1967 proxy admin slot,
// keccak256("eip1967.proxy.admin") - 1.
var eip1967AdminSlot = common.HexToHash("0xb53127684a568b3173ae13b9f8a6016e243e63b6e8ee1178d6a717850b5d6103")

// ProxyAdminAddress is the OP Stack's ProxyAdmin predeploy, the admin of
// every predeploy proxy.
var ProxyAdminAddress = common.HexToAddress("0x4200000000000000000000000000000000000018")

// SystemContractAllocs are the system contracts op-geth's block processing
// calls, deployed at genesis as an L2 genesis with every fork active does:
// EIP-4788 beacon roots, EIP-2935 block hashes, and the EIP-7002/7251 queues
// an Ethereum chain calls from Prague.
func SystemContractAllocs() types.GenesisAlloc {
	return types.GenesisAlloc{
		params.BeaconRootsAddress:        {Nonce: 1, Code: params.BeaconRootsCode, Balance: new(big.Int)},
		params.HistoryStorageAddress:     {Nonce: 1, Code: params.HistoryStorageCode, Balance: new(big.Int)},
		params.WithdrawalQueueAddress:    {Nonce: 1, Code: params.WithdrawalQueueCode, Balance: new(big.Int)},
		params.ConsolidationQueueAddress: {Nonce: 1, Code: params.ConsolidationQueueCode, Balance: new(big.Int)},
	}
}
