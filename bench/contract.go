package bench

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"time"

	"go.yaml.in/yaml/v3"
)

// Contract is the shipping contract of configs/contract.yaml: the limits a
// run must stay within for 200 ms blocks to be called shippable.
type Contract struct {
	// BlockTime is the block time the contract is written for. Runs at
	// another block time are judged with IngestP99 and MaxLag scaled by
	// their block time over this one.
	BlockTime time.Duration `yaml:"block_time"`
	// IngestP99 bounds the p99 of the per-block ingest (publish) time.
	IngestP99 time.Duration `yaml:"ingest_p99"`
	// MaxLag bounds the worst commit-minus-slot lag, MaxLagBlocks the same
	// in blocks.
	MaxLag       time.Duration `yaml:"max_lag"`
	MaxLagBlocks int           `yaml:"max_lag_blocks"`
	// ProofP99 bounds the eth_getProof p99 at ProofClients concurrent clients.
	ProofP99     time.Duration `yaml:"proof_p99"`
	ProofClients int           `yaml:"proof_clients"`
	// MaxEmptyBlockShare bounds the share of blocks made empty under load.
	MaxEmptyBlockShare float64 `yaml:"max_empty_block_share"`
	// MinBlockRate is the least share of the nominal block rate the chain
	// must keep (blocks made per second × block time).
	MinBlockRate float64 `yaml:"min_block_rate"`
	// SLOHoldDown is how long a lag or ingest SLO must hold again after a
	// breach before the node reports ready.
	SLOHoldDown time.Duration `yaml:"slo_hold_down"`
	// MinCatchupSpeed is the least catch-up replay speed, as a multiple of
	// real time, at which a backlog must be closed.
	MinCatchupSpeed float64 `yaml:"min_catchup_speed"`
}

// DefaultContract is configs/contract.yaml as shipped, for a node started
// without the file.
func DefaultContract() *Contract {
	return &Contract{BlockTime: 200 * time.Millisecond, IngestP99: 100 * time.Millisecond, MaxLag: time.Second, MaxLagBlocks: 5,
		ProofP99: 50 * time.Millisecond, ProofClients: 4, MaxEmptyBlockShare: 0.01, MinBlockRate: 0.98,
		SLOHoldDown: 5 * time.Second, MinCatchupSpeed: 20}
}

// Scaled returns the contract's time limits for a chain with block time bt:
// IngestP99 and MaxLag scale with bt over BlockTime, the rest is kept.
func (c *Contract) Scaled(bt time.Duration) *Contract {
	out := *c
	if c.BlockTime > 0 && bt > 0 {
		f := float64(bt) / float64(c.BlockTime)
		out.IngestP99 = time.Duration(float64(c.IngestP99) * f)
		out.MaxLag = time.Duration(float64(c.MaxLag) * f)
		out.BlockTime = bt
	}
	return &out
}

// LoadContract reads a contract file; unknown keys are errors.
func LoadContract(path string) (*Contract, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read contract: %w", err)
	}
	var c Contract
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("contract %s: %w", path, err)
	}
	return &c, nil
}

// Verdict is one contract check of one run.
type Verdict struct {
	Check    string `json:"check"`
	Limit    string `json:"limit"`
	Measured string `json:"measured"`
	Pass     bool   `json:"pass"`
}

// Judge checks a run against the contract. A check whose figure the run did
// not measure fails: missing evidence is not a pass.
func (c *Contract) Judge(r *Run) []Verdict {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
	var out []Verdict
	add := func(check, limit, measured string, pass bool) {
		out = append(out, Verdict{Check: check, Limit: limit, Measured: measured, Pass: pass})
	}
	scale := func(d time.Duration) time.Duration {
		if c.BlockTime <= 0 || r.BlockTime <= 0 {
			return d
		}
		return time.Duration(float64(d) * float64(r.BlockTime) / float64(c.BlockTime))
	}
	if c.IngestP99 > 0 {
		limit := scale(c.IngestP99)
		add("ingest p99", "≤ "+ms(limit), ms(r.Ingest.P99), r.Ingest.Count > 0 && r.Ingest.P99 <= limit)
	}
	if c.MaxLag > 0 {
		limit := scale(c.MaxLag)
		add("max lag", "≤ "+ms(limit), ms(r.Lag.Max), r.Lag.Count > 0 && r.Lag.Max <= limit)
	}
	if c.MaxLagBlocks > 0 {
		add("max lag in blocks", fmt.Sprintf("≤ %d", c.MaxLagBlocks), fmt.Sprintf("%d", r.MaxLagBlocks()), r.Lag.Count > 0 && r.MaxLagBlocks() <= c.MaxLagBlocks)
	}
	if c.ProofP99 > 0 {
		p := r.ProofsAt(c.ProofClients)
		measured, pass := "not measured", false
		if p != nil && p.Proofs > 0 {
			measured, pass = ms(p.Latency.P99), p.Latency.P99 <= c.ProofP99 && p.Errors == 0
		}
		add(fmt.Sprintf("eth_getProof p99 at %d clients", c.ProofClients), "≤ "+ms(c.ProofP99), measured, pass)
	}
	if r.GasPerSecondTarget > 0 {
		share := 0.0
		if r.Blocks > 0 {
			share = float64(r.EmptyBlocks) / float64(r.Blocks)
		}
		add("empty-block share under load", fmt.Sprintf("≤ %.1f%%", 100*c.MaxEmptyBlockShare), fmt.Sprintf("%.1f%%", 100*share),
			r.Blocks > 0 && share <= c.MaxEmptyBlockShare)
	}
	if c.MinBlockRate > 0 {
		rate := r.BlocksPerSecond * r.BlockTime.Seconds()
		add("block rate kept", fmt.Sprintf("≥ %.0f%% of nominal", 100*c.MinBlockRate), fmt.Sprintf("%.1f%%", 100*rate), rate >= c.MinBlockRate)
	}
	return out
}

// MaxLagBlocks is the worst lag in whole blocks (rounded up).
func (r *Run) MaxLagBlocks() int {
	if r.BlockTime <= 0 || r.Lag.Max <= 0 {
		return 0
	}
	return int(math.Ceil(float64(r.Lag.Max) / float64(r.BlockTime)))
}

// ProofsAt returns the closed-loop proof load result at that client count.
func (r *Run) ProofsAt(clients int) *ProofLoadResult {
	for i := range r.Proofs {
		if r.Proofs[i].Clients == clients && r.Proofs[i].Rate == 0 {
			return &r.Proofs[i]
		}
	}
	return nil
}
