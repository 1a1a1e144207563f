package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"
)

func TestConfigLayers(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	require.NoError(t, os.WriteFile(file, []byte("http:\n  port: 1111\nws:\n  port: 2222\nsequencer:\n  block_time: 500ms\n"), 0o644))
	t.Setenv("STRATA_WS_PORT", "3333")
	t.Setenv("STRATA_SEQUENCER_LOAD_SEED", "9")
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	addFlags(fs)
	require.NoError(t, fs.Parse([]string{"--sequencer.block_time", "250ms"}))
	v, err := loadConfig(fs, file)
	require.NoError(t, err)
	require.Equal(t, 1111, v.GetInt("http.port"), "file beats default")
	require.Equal(t, 3333, v.GetInt("ws.port"), "environment beats file")
	require.Equal(t, 250*time.Millisecond, v.GetDuration("sequencer.block_time"), "flag beats file")
	require.Equal(t, int64(9), v.GetInt64("sequencer.load.seed"))
	require.Equal(t, "127.0.0.1", v.GetString("http.addr"), "default")
	cfg, err := nodeConfigFrom(v)
	require.NoError(t, err)
	require.Equal(t, 250*time.Millisecond, cfg.Sequencer.BlockTime)
	require.Equal(t, int64(9), cfg.Sequencer.Load.Seed)
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"unknown key", "htp:\n  port: 1\n", `unknown key "htp.port"`},
		{"bad mode", "mode: archive\n", `mode "archive"`},
		{"follower without upstream", "mode: follower\n", "mode follower needs follower.url"},
		{"follower without genesis", "mode: follower\nfollower:\n  url: http://x\n", "needs follower.genesis"},
		{"bad policy", "sequencer:\n  timestamp_policy: minutes\n", `timestamp policy "minutes"`},
		{"bad port", "http:\n  port: 70000\n", "http.port 70000"},
		{"load above gas limit", "sequencer:\n  gas_limit: 1000000\n", "above the gas limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "c.yaml")
			require.NoError(t, os.WriteFile(file, []byte(tc.yaml), 0o644))
			fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
			addFlags(fs)
			v, err := loadConfig(fs, file)
			if err == nil {
				_, err = nodeConfigFrom(v)
			}
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// TestConfigFilesAreValid loads every shipped config.
func TestConfigFilesAreValid(t *testing.T) {
	for _, tc := range []struct {
		file  string
		check func(t *testing.T, cfg nodeConfig)
	}{
		{"devnet.yaml", func(t *testing.T, cfg nodeConfig) {
			require.Equal(t, "fullstack", cfg.Mode)
			require.Equal(t, 8545, cfg.HTTPPort)
			require.Equal(t, 200*time.Millisecond, cfg.Sequencer.BlockTime)
		}},
		{"follower-geth.yaml", func(t *testing.T, cfg nodeConfig) {
			require.Equal(t, "follower", cfg.Mode)
			require.Equal(t, "http://127.0.0.1:8545", cfg.Follower.URL)
			require.Equal(t, uint64(64), cfg.Follower.MaxReorgDepth)
		}},
		{"follower-strata.yaml", func(t *testing.T, cfg nodeConfig) {
			require.Equal(t, "strata://127.0.0.1:9545", cfg.Follower.URL)
			require.NotNil(t, cfg.Follower.ChainConfig)
			require.Equal(t, uint64(901), cfg.Follower.ChainConfig.ChainID.Uint64())
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
			addFlags(fs)
			v, err := loadConfig(fs, "../../configs/"+tc.file)
			require.NoError(t, err)
			cfg, err := nodeConfigFrom(v)
			require.NoError(t, err)
			tc.check(t, cfg)
		})
	}
}
