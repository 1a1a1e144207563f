package sequencer

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum-optimism/optimism/op-node/rollup/derive"
	"github.com/ethereum-optimism/optimism/op-service/eth"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
)

// Deposit is a user deposit as L1's OptimismPortal would emit it: From is
// the L1 sender (already aliased if a contract), Mint is ETH minted to From
// on L2, Value is sent to To (nil: a contract creation).
type Deposit struct {
	From  common.Address
	To    *common.Address
	Mint  *big.Int
	Value *big.Int
	Gas   uint64
	Data  []byte
}

// maxQueuedDeposits bounds AddDeposit's queue.
const maxQueuedDeposits = 1 << 14

// errDepositQueueFull is AddDeposit's answer when the queue is full.
var errDepositQueueFull = errors.New("deposit queue is full")

// AddDeposit queues a user deposit for the first block of the next L1
// epoch, as op-node includes the deposits an L1 block emitted. Gas must
// cover the intrinsic gas; a deposit that fails on L2 is still included
// (failed deposits mint, and bump the nonce), as op-geth does.
func (s *Sequencer) AddDeposit(d Deposit) error {
	if d.Gas < params.TxGas {
		return fmt.Errorf("deposit gas %d is below the intrinsic %d", d.Gas, params.TxGas)
	}
	if d.Gas > s.cfg.GasLimit {
		return fmt.Errorf("deposit gas %d is above the block gas limit %d", d.Gas, s.cfg.GasLimit)
	}
	for _, v := range []*big.Int{d.Mint, d.Value} {
		if v != nil && (v.Sign() < 0 || v.BitLen() > 256) {
			return fmt.Errorf("deposit amount %s is out of range", v)
		}
	}
	s.depMu.Lock()
	defer s.depMu.Unlock()
	if len(s.depQueue) >= maxQueuedDeposits {
		return errDepositQueueFull
	}
	s.depQueue = append(s.depQueue, d)
	return nil
}

// depositsFor is block n's deposit transactions, made at header time t: the
// L1-attributes deposit (op-node's, in the calldata format of the active
// fork) naming the block's synthetic L1 origin and sequence number, then, in
// the first block of an epoch, the user deposits the origin "emitted": the
// synthetic ones (DepositsPerEpoch) and those queued by AddDeposit. upgrade
// reports an L1-attributes transaction in the format of the fork before the
// active one (the blocks at a fork's activation time), which must carry no
// user transactions.
func (s *Sequencer) depositsFor(n, t uint64) (txs types.Transactions, upgrade bool, err error) {
	k, seq := s.l1.Origin(n, s.BlockMillis)
	origin := s.l1.Header(k)
	raw, err := derive.L1InfoDepositBytes(s.rollup, s.l1.Config, SystemConfig(s.cfg.GasLimit), seq, eth.HeaderBlockInfo(origin), t)
	if err != nil {
		return nil, false, fmt.Errorf("block %d: L1-attributes deposit: %w", n, err)
	}
	info := new(types.Transaction)
	if err := info.UnmarshalBinary(raw); err != nil {
		return nil, false, fmt.Errorf("block %d: decode L1-attributes deposit: %w", n, err)
	}
	txs = types.Transactions{info}
	upgrade = s.config.IsJovian(t) && len(info.Data()) == types.IsthmusL1AttributesLen
	if seq != 0 {
		return txs, upgrade, nil
	}
	var user []Deposit
	for i := 0; i < s.cfg.DepositsPerEpoch; i++ {
		user = append(user, syntheticDeposit(k, i))
	}
	s.depMu.Lock()
	user = append(user, s.depQueue...)
	s.depQueue = nil
	s.depMu.Unlock()
	for i, d := range user {
		src := derive.UserDepositSource{L1BlockHash: origin.Hash(), LogIndex: uint64(i)}
		mint := d.Mint
		if mint != nil && mint.Sign() == 0 {
			mint = nil
		}
		value := d.Value
		if value == nil {
			value = new(big.Int)
		}
		txs = append(txs, types.NewTx(&types.DepositTx{
			SourceHash: src.SourceHash(), From: d.From, To: d.To, Mint: mint, Value: value, Gas: d.Gas, Data: d.Data,
		}))
	}
	return txs, upgrade, nil
}

// syntheticDeposit is the i-th deposit of L1 block k: 1 ETH minted to a
// fixed L1 sender, half of it sent on to an address fresh to every epoch.
func syntheticDeposit(k uint64, i int) Deposit {
	from := common.BytesToAddress(crypto.Keccak256([]byte("strata deposit sender"), big.NewInt(int64(i)).Bytes())[12:])
	to := common.BytesToAddress(crypto.Keccak256([]byte("strata deposit recipient"), new(big.Int).SetUint64(k).Bytes(), big.NewInt(int64(i)).Bytes())[12:])
	return Deposit{From: from, To: &to, Mint: big.NewInt(params.Ether), Value: big.NewInt(params.Ether / 2), Gas: 100_000}
}
