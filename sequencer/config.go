package sequencer

import (
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/params"

	"github.com/strata-chain/strata/history/chain"
)

// TimestampPolicy says what a header's Time field holds.
type TimestampPolicy string

const (
	// TimestampSeconds keeps whole seconds in the header, as Ethereum and the
	// OP Stack do: the blocks made within one second share a timestamp, and a
	// block's millisecond time is derived from its number (BlockMillis).
	TimestampSeconds TimestampPolicy = "seconds"
	// TimestampMilliseconds puts Unix milliseconds in the header. Every block
	// has its own timestamp, but clients that read Time as seconds break.
	TimestampMilliseconds TimestampPolicy = "milliseconds"
)

// Config describes the chain the sequencer makes and the load it puts on it.
type Config struct {
	ChainID         uint64
	BlockTime       time.Duration
	TimestampPolicy TimestampPolicy
	GasLimit        uint64
	// DevAccounts is the number of prefunded accounts users may sign with
	// (DevKeys). The load generator has keys of its own.
	DevAccounts int
	// FeeRecipient receives priority fees (the OP SequencerFeeVault address by
	// default).
	FeeRecipient common.Address
	Load         LoadConfig
	// Initial sizes the genesis state beyond the accounts the devnet needs,
	// so that tries have a realistic depth (see InitialState).
	Initial InitialState
	// Forks schedules the OP forks after Isthmus.
	Forks Forks
	// L1BlockTime is how often the synthetic L1 origin advances, in chain
	// time (12 s, as Ethereum).
	L1BlockTime time.Duration
	// DepositsPerEpoch is the number of user deposits (ETH minted to a
	// fresh address each) the first block of every L1 epoch carries after
	// the L1-attributes deposit, beside those queued with AddDeposit.
	DepositsPerEpoch int
}

// chainConfig is the chain configuration of a genesis made at genesisTime
// (header units): Jovian JovianAfter seconds after it (0: at genesis).
func (c Config) chainConfig(genesisTime uint64) *params.ChainConfig {
	forks := c.Forks
	if forks.JovianAfter != nil {
		after := *forks.JovianAfter
		switch {
		case after == 0:
			genesisTime = 0
		case c.TimestampPolicy == TimestampMilliseconds:
			after *= 1000
		}
		forks.JovianAfter = &after
	}
	return ChainConfig(c.ChainID, genesisTime, forks)
}

// TxKind names one kind of generated transaction.
type TxKind string

const (
	KindTransferNew        TxKind = "transfer_new"        // ETH to a never-seen address
	KindTransferExisting   TxKind = "transfer_existing"   // ETH to an existing account
	KindStorage            TxKind = "storage"             // storage contract: fresh slots, rewrites and clears
	KindERC20              TxKind = "erc20"               // token transfer: two balance slots and the nonce
	KindAMM                TxKind = "amm"                 // pool swap: three hot slots
	KindWithdrawal         TxKind = "withdrawal"          // message passer: a fresh slot and the nonce slot
	KindCreate             TxKind = "create"              // contract creation writing a few slots
	KindCreateSelfDestruct TxKind = "create_selfdestruct" // created and destroyed in one transaction
)

// Kinds lists every TxKind.
var Kinds = []TxKind{KindTransferNew, KindTransferExisting, KindStorage, KindERC20, KindAMM, KindWithdrawal, KindCreate, KindCreateSelfDestruct}

// Mix weighs the kinds of generated transactions (relative weights).
type Mix map[TxKind]int

// DefaultMix is the devnet's mix: a bit of everything.
func DefaultMix() Mix {
	return Mix{
		KindTransferNew: 20, KindTransferExisting: 20, KindStorage: 20, KindERC20: 15, KindAMM: 5,
		KindWithdrawal: 8, KindCreate: 9, KindCreateSelfDestruct: 3,
	}
}

// InitialState is the filler the genesis holds on top of the devnet's own
// accounts: Accounts funded accounts, and Slots storage slots — half as
// token balances of the first accounts (the holders transfers go to), half
// in the storage contract.
type InitialState struct {
	Accounts int
	Slots    int
}

// LoadConfig configures the built-in load generator.
type LoadConfig struct {
	// GasPerSecond is the gas the generator offers per second of chain time;
	// zero disables it.
	GasPerSecond uint64
	// Seed makes the generated transactions reproducible.
	Seed int64
	// Accounts is the number of funded sender accounts the generator signs with.
	Accounts int
	// Mix weighs the kinds of transactions; nil means DefaultMix.
	Mix Mix
	// SlotsPerTx is the number of slots a storage transaction writes; zero
	// means 1 to 4 at random.
	SlotsPerTx int
	// Prefill is the number of blocks of load generated and signed before
	// the first block is made, so that a benchmark measures the chain and
	// not the generator; zero generates one block ahead.
	Prefill int
}

// DefaultConfig is the devnet of configs/devnet.yaml.
func DefaultConfig() Config {
	return Config{
		ChainID:          901,
		BlockTime:        200 * time.Millisecond,
		TimestampPolicy:  TimestampSeconds,
		GasLimit:         60_000_000,
		DevAccounts:      10,
		FeeRecipient:     common.HexToAddress("0x4200000000000000000000000000000000000011"),
		Load:             LoadConfig{GasPerSecond: 20_000_000, Seed: 1, Accounts: 32},
		Forks:            Forks{JovianAfter: new(uint64)},
		L1BlockTime:      12 * time.Second,
		DepositsPerEpoch: 1,
	}
}

// Validate reports every problem with the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.ChainID == 0 {
		errs = append(errs, errors.New("chain ID must not be zero"))
	}
	if c.BlockTime < time.Millisecond {
		errs = append(errs, fmt.Errorf("block time must be at least 1ms, got %s", c.BlockTime))
	}
	if c.BlockTime%time.Millisecond != 0 {
		errs = append(errs, fmt.Errorf("block time must be a whole number of milliseconds, got %s", c.BlockTime))
	}
	if c.TimestampPolicy == TimestampSeconds && time.Second%c.BlockTime != 0 && c.BlockTime%time.Second != 0 {
		errs = append(errs, fmt.Errorf("with the seconds timestamp policy the block time must divide a second or be whole seconds, got %s", c.BlockTime))
	}
	switch c.TimestampPolicy {
	case TimestampSeconds, TimestampMilliseconds:
	default:
		errs = append(errs, fmt.Errorf("timestamp policy %q: want seconds or milliseconds", c.TimestampPolicy))
	}
	if c.GasLimit < 5_000 {
		errs = append(errs, fmt.Errorf("gas limit %d is too small", c.GasLimit))
	}
	if c.DevAccounts < 0 || c.DevAccounts > 10_000 {
		errs = append(errs, fmt.Errorf("dev accounts must be between 0 and 10000, got %d", c.DevAccounts))
	}
	if c.Load.GasPerSecond > 0 && (c.Load.Accounts < 1 || c.Load.Accounts > 10_000) {
		errs = append(errs, fmt.Errorf("load accounts must be between 1 and 10000, got %d", c.Load.Accounts))
	}
	for k, w := range c.Load.Mix {
		if !slices.Contains(Kinds, k) {
			errs = append(errs, fmt.Errorf("load mix: unknown transaction kind %q", k))
		}
		if w < 0 {
			errs = append(errs, fmt.Errorf("load mix: negative weight %d for %s", w, k))
		}
	}
	if c.L1BlockTime < time.Second || c.L1BlockTime%time.Second != 0 {
		errs = append(errs, fmt.Errorf("L1 block time must be whole seconds, at least 1s, got %s", c.L1BlockTime))
	}
	if c.DepositsPerEpoch < 0 || c.DepositsPerEpoch > 1000 {
		errs = append(errs, fmt.Errorf("deposits per epoch must be between 0 and 1000, got %d", c.DepositsPerEpoch))
	}
	if c.ChainID == chain.DevnetL1ChainID.Uint64() {
		errs = append(errs, fmt.Errorf("chain ID %d is the synthetic L1's", c.ChainID))
	}
	if c.Initial.Accounts < 0 || c.Initial.Slots < 0 {
		errs = append(errs, fmt.Errorf("initial state sizes must not be negative"))
	}
	if perBlock := c.Load.GasPerSecond * uint64(c.BlockTime) / uint64(time.Second); perBlock > c.GasLimit {
		errs = append(errs, fmt.Errorf("load of %d gas/s is %d gas per block, above the gas limit %d", c.Load.GasPerSecond, perBlock, c.GasLimit))
	}
	return errors.Join(errs...)
}

// chainID is the chain ID as go-ethereum wants it.
func (c Config) chainID() *big.Int { return new(big.Int).SetUint64(c.ChainID) }
