package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/sequencer"
)

func goodRun() *Run {
	return &Run{
		Profile: "p", BlockTime: 200 * time.Millisecond, GasPerSecondTarget: 1e6,
		Blocks: 100, EmptyBlocks: 0, BlocksPerSecond: 5,
		Ingest: Summary{Count: 100, P99: 20 * time.Millisecond, Max: 30 * time.Millisecond},
		Lag:    Summary{Count: 100, P99: 100 * time.Millisecond, Max: 300 * time.Millisecond},
		Proofs: []ProofLoadResult{{Clients: 4, Proofs: 1000, Latency: Summary{Count: 1000, P99: 10 * time.Millisecond}}},
		Stages: map[string]Summary{"execute": {Count: 100}},
		Series: []BlockSample{{At: time.Second, Ingest: time.Millisecond, Lag: 50 * time.Millisecond}, {At: 2 * time.Second, Ingest: 2 * time.Millisecond, Lag: 60 * time.Millisecond}},
		Disk:   []DiskSample{{Head: 10, Bytes: 1 << 20}, {Head: 20, Bytes: 2 << 20}},
	}
}

func TestContractJudge(t *testing.T) {
	c, err := LoadContract("../configs/contract.yaml")
	require.NoError(t, err)
	pass := goodRun()
	pass.Verdicts = c.Judge(pass)
	require.True(t, pass.Passed(), "%+v", pass.Verdicts)

	for name, breakIt := range map[string]func(r *Run){
		"slow ingest":    func(r *Run) { r.Ingest.P99 = c.IngestP99 + time.Millisecond },
		"lag":            func(r *Run) { r.Lag.Max = c.MaxLag + time.Millisecond },
		"lag in blocks":  func(r *Run) { r.Lag.Max = time.Duration(c.MaxLagBlocks+1) * r.BlockTime },
		"slow proofs":    func(r *Run) { r.Proofs[0].Latency.P99 = c.ProofP99 * 2 },
		"proof errors":   func(r *Run) { r.Proofs[0].Errors = 1 },
		"proofs missing": func(r *Run) { r.Proofs = nil },
		"empty blocks":   func(r *Run) { r.EmptyBlocks = 50 },
		"slow cadence":   func(r *Run) { r.BlocksPerSecond = 4 },
		"nothing ran":    func(r *Run) { r.Ingest = Summary{}; r.Lag = Summary{} },
	} {
		t.Run(name, func(t *testing.T) {
			r := goodRun()
			breakIt(r)
			r.Verdicts = c.Judge(r)
			require.False(t, r.Passed(), "a run that breaks an SLO must FAIL: %+v", r.Verdicts)
		})
	}
}

func TestProfilesLoadAndApply(t *testing.T) {
	files, err := filepath.Glob("../configs/profiles/*.yaml")
	require.NoError(t, err)
	names := map[string]bool{}
	for _, f := range files {
		p, err := LoadProfile(f)
		require.NoError(t, err, f)
		names[p.Name] = true
		for _, bt := range []time.Duration{2 * time.Second, 200 * time.Millisecond} {
			cfg := sequencer.DefaultConfig()
			cfg.BlockTime = bt
			require.NoError(t, p.Apply(&cfg, bt), "%s at %s", f, bt)
			require.Equal(t, p.GasPerSecond, cfg.Load.GasPerSecond, "same gas per second at every block time")
		}
	}
	for _, want := range []string{"transfers", "erc20", "amm", "storage-heavy", "base-like", "empty"} {
		require.True(t, names[want], "profile %s", want)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("name: x\ngas_per_secnd: 5\n"), 0o644))
	_, err = LoadProfile(bad)
	require.ErrorContains(t, err, "gas_per_secnd")
	require.NoError(t, os.WriteFile(bad, []byte("name: x\ngas_per_second: 5\nsenders: 1\nmix:\n  teleport: 1\n"), 0o644))
	p, err := LoadProfile(bad)
	require.NoError(t, err)
	cfg := sequencer.DefaultConfig()
	require.ErrorContains(t, p.Apply(&cfg, time.Second), `unknown transaction kind "teleport"`)
}

func TestReportWrite(t *testing.T) {
	c, err := LoadContract("../configs/contract.yaml")
	require.NoError(t, err)
	ok, bad := goodRun(), goodRun()
	bad.BlockTime = 2 * time.Second
	bad.Ingest.P99 = time.Second // within 10 × 100 ms
	bad.EmptyBlocks = 50
	ok.Proofs[0].Samples = []time.Duration{time.Millisecond, 3 * time.Millisecond, 2 * time.Millisecond}
	ok.Verdicts, bad.Verdicts = c.Judge(ok), c.Judge(bad)
	rep := &Report{Name: "t", Date: time.Unix(1_700_000_000, 0), Version: "test", Command: "strata bench run", Machine: ThisMachine(), Runs: []*Run{ok, bad}}
	dir := t.TempDir()
	md, err := rep.Write(dir)
	require.NoError(t, err)
	text, err := os.ReadFile(md)
	require.NoError(t, err)
	require.Contains(t, string(text), "| p @ 200ms | p @ 2s |")
	require.Contains(t, string(text), "p @ 200ms against configs/contract.yaml: PASS")
	require.Contains(t, string(text), "p @ 2s against configs/contract.yaml: FAIL")
	require.Contains(t, string(text), "| ingest p99 | ≤ 1000.0 ms | 1000.0 ms | PASS |", "limits scale with the block time")
	require.Contains(t, string(text), "| block rate kept | ≥ 98% of nominal | 1000.0% | PASS |")
	for _, suffix := range []string{".json", "-ingest.png", "-lag.png", "-proof-cdf.png", "-disk.png"} {
		st, err := os.Stat(strings.TrimSuffix(md, ".md") + suffix)
		require.NoError(t, err, suffix)
		require.Positive(t, st.Size())
	}
}
