package sequencer

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/strata-chain/strata/history/store"
)

// TestProfilesAreDeterministic runs every load profile of configs/profiles
// (scaled down) twice with its seed: the blocks must be identical, and every
// transaction must succeed.
func TestProfilesAreDeterministic(t *testing.T) {
	files, err := filepath.Glob("../configs/profiles/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		var p struct {
			Name       string         `yaml:"name"`
			Gas        uint64         `yaml:"gas_per_second"`
			Seed       int64          `yaml:"seed"`
			Mix        map[string]int `yaml:"mix"`
			SlotsPerTx int            `yaml:"slots_per_tx"`
		}
		require.NoError(t, yaml.Unmarshal(raw, &p))
		t.Run(p.Name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Load.Accounts = 8
			cfg.Load.Seed = p.Seed
			cfg.Load.GasPerSecond = min(p.Gas, 10_000_000)
			cfg.Load.SlotsPerTx = p.SlotsPerTx
			cfg.Load.Mix = Mix{}
			for k, w := range p.Mix {
				cfg.Load.Mix[TxKind(k)] = w
			}
			cfg.Initial = InitialState{Accounts: 300, Slots: 400}
			require.NoError(t, cfg.Validate())
			run := func() []common.Hash {
				s, err := store.OpenMem(store.DefaultConfig())
				require.NoError(t, err)
				defer s.Close()
				seq := newTestSequencer(t, cfg, s)
				var hashes []common.Hash
				for i := uint64(1); i <= 8; i++ {
					info, err := seq.stepFed(context.Background(), time.UnixMilli(int64(seq.BlockMillis(i))))
					require.NoError(t, err)
					hashes = append(hashes, info.Hash)
					if cfg.Load.GasPerSecond > 0 {
						require.Positive(t, info.Txs)
					}
					receipts, err := s.Receipts(i)
					require.NoError(t, err)
					for _, r := range receipts {
						require.Equal(t, types.ReceiptStatusSuccessful, r.Status)
					}
				}
				return hashes
			}
			require.Equal(t, run(), run())
		})
	}
}
