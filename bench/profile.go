package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"go.yaml.in/yaml/v3"

	"github.com/strata-chain/strata/sequencer"
)

// Profile is a named load: a mix of transaction kinds at a gas rate, and the
// initial state it runs on. Profiles live in configs/profiles/*.yaml.
type Profile struct {
	Name         string         `yaml:"name"`
	Description  string         `yaml:"description"`
	GasPerSecond uint64         `yaml:"gas_per_second"`
	Seed         int64          `yaml:"seed"`
	Senders      int            `yaml:"senders"`
	Mix          map[string]int `yaml:"mix"`
	SlotsPerTx   int            `yaml:"slots_per_tx"`
	Initial      struct {
		Accounts int `yaml:"accounts"`
		Slots    int `yaml:"slots"`
	} `yaml:"initial"`
}

// LoadProfile reads a profile file; unknown keys are errors.
func LoadProfile(path string) (*Profile, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read profile: %w", err)
	}
	var p Profile
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("profile %s: %w", path, err)
	}
	if p.Name == "" {
		return nil, fmt.Errorf("profile %s: no name", path)
	}
	if p.GasPerSecond > 0 && p.Senders <= 0 {
		return nil, fmt.Errorf("profile %s: senders must be positive", path)
	}
	if p.GasPerSecond > 0 && len(p.Mix) == 0 {
		return nil, fmt.Errorf("profile %s: a load needs a mix", path)
	}
	return &p, nil
}

// Apply configures a sequencer for the profile at blockTime: the same gas
// per second whatever the block time, so gas per block = gas/s × block time.
// The gas limit is raised to twice the gas per block when needed.
func (p *Profile) Apply(cfg *sequencer.Config, blockTime interface{ Seconds() float64 }) error {
	cfg.Load.GasPerSecond = p.GasPerSecond
	cfg.Load.Seed = p.Seed
	if p.Senders > 0 {
		cfg.Load.Accounts = p.Senders
	}
	cfg.Load.SlotsPerTx = p.SlotsPerTx
	cfg.Load.Mix = sequencer.Mix{}
	for k, w := range p.Mix {
		cfg.Load.Mix[sequencer.TxKind(k)] = w
	}
	cfg.Initial = sequencer.InitialState{Accounts: p.Initial.Accounts, Slots: p.Initial.Slots}
	perBlock := uint64(float64(p.GasPerSecond) * blockTime.Seconds())
	if need := 2 * perBlock; need > cfg.GasLimit {
		cfg.GasLimit = need
	}
	if err := cfg.Validate(); err != nil {
		return errors.Join(fmt.Errorf("profile %s", p.Name), err)
	}
	return nil
}
