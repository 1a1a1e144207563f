package sequencer

import (
	"crypto/ecdsa"
	"math/big"
	"math/rand/v2"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
)

// txKind is one kind of generated transaction.
type txKind int

const (
	kindTransferNew txKind = iota
	kindTransferExisting
	kindStorage
	kindWithdrawal
	kindCreate
	kindCreateSelfDestruct
)

// mix is the share of each kind in the generated load, in percent.
var mix = []struct {
	kind  txKind
	share int
	gas   uint64 // estimate of gas used, for filling the budget
	limit uint64 // the transaction's gas limit
}{
	{kindTransferNew, 25, 21_000 + 25_000, 21_000},
	{kindTransferExisting, 25, 21_000, 21_000},
	{kindStorage, 25, 21_000 + 4*23_000, 300_000},
	{kindWithdrawal, 10, 21_000 + 50_000, 200_000},
	{kindCreate, 12, 140_000, 400_000},
	{kindCreateSelfDestruct, 3, 90_000, 300_000},
}

// loadGen generates a reproducible stream of signed transactions from a
// seed: transfers to new and existing accounts, storage writes and clears on
// the storage contract, withdrawals through the message passer, contract
// creations and contracts that self-destruct in their creation transaction.
// It is used from one goroutine.
type loadGen struct {
	rng     *rand.Rand
	signer  types.Signer
	chainID *big.Int
	keys    []*ecdsa.PrivateKey
	addrs   []common.Address
	nonces  []uint64
	next    int // round-robin sender

	recipients []common.Address // accounts created by transfers so far
	slots      []common.Hash    // storage contract slots currently set
	fresh      uint64           // counter for new recipient addresses and slots
	carry      int64            // gas budget carried between blocks
}

func newLoadGen(cfg LoadConfig, chain *params.ChainConfig) *loadGen {
	keys := loadKeys(cfg.Seed, cfg.Accounts)
	g := &loadGen{
		rng:     rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5752415441)),
		signer:  types.LatestSigner(chain),
		chainID: chain.ChainID,
		keys:    keys,
		addrs:   make([]common.Address, len(keys)),
		nonces:  make([]uint64, len(keys)),
	}
	for i, k := range keys {
		g.addrs[i] = crypto.PubkeyToAddress(k.PublicKey)
	}
	return g
}

// resync sets the generator's nonces from the chain, after a restart or when
// a generated transaction did not make it into a block.
func (g *loadGen) resync(nonceOf func(common.Address) (uint64, error)) error {
	for i, a := range g.addrs {
		n, err := nonceOf(a)
		if err != nil {
			return err
		}
		g.nonces[i] = n
	}
	return nil
}

// owns reports whether the generator signs for addr.
func (g *loadGen) owns(addr common.Address) bool {
	for _, a := range g.addrs {
		if a == addr {
			return true
		}
	}
	return false
}

// generate returns transactions whose estimated gas adds up to about gas.
func (g *loadGen) generate(gas uint64, baseFee *big.Int) types.Transactions {
	g.carry += int64(gas)
	feeCap := new(big.Int).Add(new(big.Int).Mul(baseFee, big.NewInt(2)), big.NewInt(params.GWei))
	tip := big.NewInt(1000)
	var txs types.Transactions
	for g.carry > 0 {
		m := g.pick()
		i := g.next
		g.next = (g.next + 1) % len(g.keys)
		inner := &types.DynamicFeeTx{
			ChainID: g.chainID, Nonce: g.nonces[i], GasTipCap: tip, GasFeeCap: feeCap, Gas: m.limit,
		}
		switch m.kind {
		case kindTransferNew:
			g.fresh++
			to := common.BytesToAddress(crypto.Keccak256([]byte("strata load recipient"), new(big.Int).SetUint64(g.fresh).Bytes())[12:])
			g.recipients = append(g.recipients, to)
			inner.To, inner.Value = &to, big.NewInt(1+g.rng.Int64N(1e15))
		case kindTransferExisting:
			to := g.addrs[g.rng.IntN(len(g.addrs))]
			if len(g.recipients) > 0 && g.rng.IntN(2) == 0 {
				to = g.recipients[g.rng.IntN(len(g.recipients))]
			}
			inner.To, inner.Value = &to, big.NewInt(1+g.rng.Int64N(1e12))
		case kindStorage:
			var pairs [][2]common.Hash
			for n := 1 + g.rng.IntN(4); n > 0; n-- {
				switch {
				case len(g.slots) > 8 && g.rng.IntN(3) == 0: // clear a set slot
					j := g.rng.IntN(len(g.slots))
					pairs = append(pairs, [2]common.Hash{g.slots[j], {}})
					g.slots[j] = g.slots[len(g.slots)-1]
					g.slots = g.slots[:len(g.slots)-1]
				case len(g.slots) > 0 && g.rng.IntN(3) == 0: // rewrite a set slot
					pairs = append(pairs, [2]common.Hash{g.slots[g.rng.IntN(len(g.slots))], g.value()})
				default: // a fresh slot
					g.fresh++
					s := common.BigToHash(new(big.Int).SetUint64(g.fresh))
					g.slots = append(g.slots, s)
					pairs = append(pairs, [2]common.Hash{s, g.value()})
				}
			}
			inner.To, inner.Data = &StorageContractAddress, storageCalldata(pairs)
		case kindWithdrawal:
			target := g.addrs[g.rng.IntN(len(g.addrs))]
			data := make([]byte, g.rng.IntN(64))
			for j := range data {
				data[j] = byte(g.rng.Uint32())
			}
			inner.To, inner.Value = &MessagePasserAddress, big.NewInt(g.rng.Int64N(1e15))
			inner.Data = WithdrawalCalldata(target, 100_000+g.rng.Uint64N(100_000), data)
		case kindCreate:
			inner.Data = creationCode(storageContractCode(), 1+g.rng.IntN(3))
		case kindCreateSelfDestruct:
			inner.Value = big.NewInt(g.rng.Int64N(1e9))
			inner.Data = selfDestructingCreationCode(g.addrs[g.rng.IntN(len(g.addrs))])
		}
		txs = append(txs, types.MustSignNewTx(g.keys[i], g.signer, inner))
		g.nonces[i]++
		g.carry -= int64(m.gas)
	}
	return txs
}

func (g *loadGen) value() common.Hash {
	return common.BigToHash(new(big.Int).SetUint64(1 + g.rng.Uint64()))
}

func (g *loadGen) pick() (m struct {
	kind  txKind
	share int
	gas   uint64
	limit uint64
}) {
	r := g.rng.IntN(100)
	for _, m = range mix {
		if r < m.share {
			return m
		}
		r -= m.share
	}
	return mix[0]
}
