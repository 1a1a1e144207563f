package sequencer

import (
	"crypto/ecdsa"
	"math/big"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
)

// kindGas is each kind's gas use (measured on the devnet: a transfer to a
// new account costs no more than to an existing one since EIP-2929 charges
// the cold access either way) and its gas limit. The generator corrects its
// estimates from the gas blocks really use when it runs one block ahead.
var kindGas = map[TxKind]struct{ estimate, limit uint64 }{
	KindTransferNew:        {21_000, 21_000},
	KindTransferExisting:   {21_000, 21_000},
	KindStorage:            {50_000, 130_000}, // 1-4 slots, some rewrites and clears
	KindERC20:              {35_500, 70_000},
	KindAMM:                {36_500, 60_000},
	KindWithdrawal:         {51_000, 100_000},
	KindCreate:             {103_500, 180_000},
	KindCreateSelfDestruct: {83_000, 120_000},
}

// Gas limits stay within about twice the gas used: a block is filled by
// the limits of its transactions, so loose limits would leave blocks half
// empty while the pool backs up.

// storageGas estimates a storage transaction writing n fresh slots.
func storageGas(n int) uint64 { return 21_000 + uint64(n)*(22_100+1_100) }

// loadGen generates a reproducible stream of signed transactions from a
// seed, in the proportions of a Mix: transfers to new and existing
// accounts, storage writes, rewrites and clears, token transfers, pool swaps,
// withdrawals through the message passer, contract creations and contracts
// that self-destruct in their creation transaction. It is used from one
// goroutine.
type loadGen struct {
	cfg     LoadConfig
	initial InitialState
	rng     *rand.Rand
	signer  types.Signer
	chainID *big.Int
	keys    []*ecdsa.PrivateKey
	addrs   []common.Address
	nonces  []uint64
	next    int // round-robin sender

	kinds   []TxKind // kinds with positive weight, in Kinds order
	weights []int    // cumulative weights
	total   int

	recipients []common.Address // accounts created by transfers so far
	slots      []common.Hash    // storage contract slots the generator set
	fresh      uint64           // counter for new addresses and slots
	carry      int64            // gas budget carried between blocks
	ratio      float64          // actual / estimated gas, smoothed
	pending    uint64           // estimated gas generate made since the last observe
}

func newLoadGen(cfg LoadConfig, initial InitialState, chain *params.ChainConfig) *loadGen {
	keys := loadKeys(cfg.Seed, cfg.Accounts)
	g := &loadGen{
		cfg:     cfg,
		initial: initial,
		rng:     rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5752415441)),
		signer:  types.LatestSigner(chain),
		chainID: chain.ChainID,
		keys:    keys,
		addrs:   make([]common.Address, len(keys)),
		nonces:  make([]uint64, len(keys)),
		ratio:   1,
	}
	for i, k := range keys {
		g.addrs[i] = crypto.PubkeyToAddress(k.PublicKey)
	}
	mix := cfg.Mix
	if mix == nil {
		mix = DefaultMix()
	}
	for _, k := range Kinds {
		if w := mix[k]; w > 0 {
			g.total += w
			g.kinds = append(g.kinds, k)
			g.weights = append(g.weights, g.total)
		}
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
func (g *loadGen) owns(addr common.Address) bool { return slices.Contains(g.addrs, addr) }

// observe corrects the gas estimates with the gas a block of the
// transactions generate made since the last observe really used.
func (g *loadGen) observe(gasUsed uint64) {
	g.correct(gasUsed, g.pending)
	g.pending = 0
}

// correct corrects the gas estimates with the gas a block really used whose
// generated transactions were estimated at estimate.
func (g *loadGen) correct(gasUsed, estimate uint64) {
	if estimate == 0 {
		return
	}
	r := float64(gasUsed) / float64(estimate)
	g.ratio = 0.8*g.ratio + 0.2*r
}

// generate returns transactions whose gas adds up to about gas; observe
// corrects the estimates with the gas their block used.
func (g *loadGen) generate(gas uint64, baseFee *big.Int) types.Transactions {
	txs, estimate := g.batch(gas, baseFee)
	g.pending += estimate
	return txs
}

// batch returns transactions whose gas adds up to about gas, and the sum of
// their estimated gas (for correct).
func (g *loadGen) batch(gas uint64, baseFee *big.Int) (types.Transactions, uint64) {
	if g.total == 0 || gas == 0 {
		return nil, 0
	}
	var estimate uint64
	g.carry += int64(gas)
	// A fee cap far above the base fees the chain reaches keeps
	// transactions made ahead valid while blocks run full and the base fee
	// climbs; the price paid is base fee + tip. It stays under op-geth's
	// default transaction fee cap (1 ETH for gas × fee cap: 1,000 gwei on a
	// 500,000-gas creation), so op-geth's pool takes the load in engine mode.
	// The senders' balances (1e9 ether) cover gas × this cap.
	feeCap := new(big.Int).Add(new(big.Int).Mul(baseFee, big.NewInt(2)), big.NewInt(1000*params.GWei))
	tip := big.NewInt(1000)
	type unsigned struct {
		key   int
		inner *types.DynamicFeeTx
	}
	var todo []unsigned
	for g.carry > 0 {
		kind := g.pick()
		i := g.next
		g.next = (g.next + 1) % len(g.keys)
		inner := &types.DynamicFeeTx{
			ChainID: g.chainID, Nonce: g.nonces[i], GasTipCap: tip, GasFeeCap: feeCap, Gas: kindGas[kind].limit,
		}
		g.fill(kind, inner)
		todo = append(todo, unsigned{i, inner})
		g.nonces[i]++
		base := kindGas[kind].estimate
		if kind == KindStorage && g.cfg.SlotsPerTx > 0 {
			base = storageGas(g.cfg.SlotsPerTx)
			inner.Gas = base + base/2
		}
		g.carry -= int64(float64(base) * g.ratio)
		estimate += base
	}
	// Sign on every core, and recover each sender once so the pool and the
	// executor find it cached in the transaction.
	txs := make(types.Transactions, len(todo))
	workers := min(runtime.GOMAXPROCS(0), max(1, len(todo)/32))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := w; j < len(todo); j += workers {
				txs[j] = types.MustSignNewTx(g.keys[todo[j].key], g.signer, todo[j].inner)
				_, _ = types.Sender(g.signer, txs[j])
			}
		}()
	}
	wg.Wait()
	return txs, estimate
}

func (g *loadGen) fill(kind TxKind, tx *types.DynamicFeeTx) {
	switch kind {
	case KindTransferNew:
		to := g.newAddress()
		g.recipients = append(g.recipients, to)
		tx.To, tx.Value = &to, big.NewInt(1+g.rng.Int64N(1e15))
	case KindTransferExisting:
		to := g.existing()
		tx.To, tx.Value = &to, big.NewInt(1+g.rng.Int64N(1e12))
	case KindStorage:
		n := g.cfg.SlotsPerTx
		if n <= 0 {
			n = 1 + g.rng.IntN(4)
		}
		pairs := make([][2]common.Hash, 0, n)
		for ; n > 0; n-- {
			switch {
			case g.cfg.SlotsPerTx == 0 && len(g.slots) > 8 && g.rng.IntN(3) == 0: // clear a set slot
				j := g.rng.IntN(len(g.slots))
				pairs = append(pairs, [2]common.Hash{g.slots[j], {}})
				g.slots[j] = g.slots[len(g.slots)-1]
				g.slots = g.slots[:len(g.slots)-1]
			case g.cfg.SlotsPerTx == 0 && len(g.slots) > 0 && g.rng.IntN(3) == 0: // rewrite a set slot
				pairs = append(pairs, [2]common.Hash{g.slots[g.rng.IntN(len(g.slots))], g.value()})
			default: // a fresh slot
				g.fresh++
				s := common.BigToHash(new(big.Int).SetUint64(g.fresh))
				if g.cfg.SlotsPerTx == 0 {
					g.slots = append(g.slots, s)
				}
				pairs = append(pairs, [2]common.Hash{s, g.value()})
			}
		}
		tx.To, tx.Data = &StorageContractAddress, StorageCalldata(pairs)
	case KindERC20:
		to := g.newAddress()
		if h := g.initial.holders(); h > 0 && g.rng.IntN(5) != 0 {
			to = FillerAddress(g.rng.IntN(h)) // an existing holder
		} else if g.rng.IntN(2) == 0 {
			to = g.addrs[g.rng.IntN(len(g.addrs))]
		}
		tx.To, tx.Data = &TokenAddress, TransferCalldata(to, 1+g.rng.Uint64N(1e6))
	case KindAMM:
		pool := PoolAddresses[g.rng.IntN(len(PoolAddresses))]
		tx.To, tx.Data = &pool, common.BigToHash(big.NewInt(1+g.rng.Int64N(1e15))).Bytes()
	case KindWithdrawal:
		target := g.addrs[g.rng.IntN(len(g.addrs))]
		data := make([]byte, g.rng.IntN(64))
		for j := range data {
			data[j] = byte(g.rng.Uint32())
		}
		tx.To, tx.Value = &MessagePasserAddress, big.NewInt(g.rng.Int64N(1e15))
		tx.Data = WithdrawalCalldata(target, 100_000+g.rng.Uint64N(100_000), data)
	case KindCreate:
		tx.Data = CreationCode(StorageContractCode(), 1+g.rng.IntN(3))
	case KindCreateSelfDestruct:
		tx.Value = big.NewInt(g.rng.Int64N(1e9))
		tx.Data = SelfDestructingCreationCode(g.addrs[g.rng.IntN(len(g.addrs))])
	}
}

// newAddress is an address no one has used.
func (g *loadGen) newAddress() common.Address {
	g.fresh++
	return common.BytesToAddress(crypto.Keccak256([]byte("strata load recipient"), new(big.Int).SetUint64(g.fresh).Bytes())[12:])
}

// existing is an account that exists: a filler account, an earlier
// recipient or a sender.
func (g *loadGen) existing() common.Address {
	switch r := g.rng.IntN(3); {
	case r == 0 && g.initial.Accounts > 0:
		return FillerAddress(g.rng.IntN(g.initial.Accounts))
	case r == 1 && len(g.recipients) > 0:
		return g.recipients[g.rng.IntN(len(g.recipients))]
	}
	return g.addrs[g.rng.IntN(len(g.addrs))]
}

func (g *loadGen) value() common.Hash {
	return common.BigToHash(new(big.Int).SetUint64(1 + g.rng.Uint64()))
}

func (g *loadGen) pick() TxKind {
	r := g.rng.IntN(g.total)
	i, _ := slices.BinarySearch(g.weights, r+1)
	return g.kinds[i]
}
