package sequencer

import (
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/common"
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
}

// DefaultConfig is the devnet of configs/devnet.yaml.
func DefaultConfig() Config {
	return Config{
		ChainID:         901,
		BlockTime:       200 * time.Millisecond,
		TimestampPolicy: TimestampSeconds,
		GasLimit:        60_000_000,
		DevAccounts:     10,
		FeeRecipient:    common.HexToAddress("0x4200000000000000000000000000000000000011"),
		Load:            LoadConfig{GasPerSecond: 20_000_000, Seed: 1, Accounts: 32},
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
	if perBlock := c.Load.GasPerSecond * uint64(c.BlockTime) / uint64(time.Second); perBlock > c.GasLimit {
		errs = append(errs, fmt.Errorf("load of %d gas/s is %d gas per block, above the gas limit %d", c.Load.GasPerSecond, perBlock, c.GasLimit))
	}
	return errors.Join(errs...)
}

// chainID is the chain ID as go-ethereum wants it.
func (c Config) chainID() *big.Int { return new(big.Int).SetUint64(c.ChainID) }
