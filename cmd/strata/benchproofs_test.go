package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/bench"
	"github.com/strata-chain/strata/sequencer"
)

// TestBenchProofsAgainstANode runs `strata bench proofs` against a running
// node's JSON-RPC: every answer is verified against the node's state roots
// and the table reports each load.
func TestBenchProofsAgainstANode(t *testing.T) {
	n, err := startNode(context.Background(), testNodeConfig(t.TempDir()), slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer n.Close()
	runUntil(t, n, func(info sequencer.BlockInfo) bool { return info.Number >= 10 })
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { _ = n.run(ctx); close(stopped) }() // keep making blocks while the load runs
	defer func() { cancel(); <-stopped }()

	keys := filepath.Join(t.TempDir(), "keys.json")
	raw, err := json.Marshal(bench.ProofKeys{
		Addresses: []common.Address{sequencer.MessagePasserAddress, sequencer.TokenAddress, common.HexToAddress("0xdead")},
		Slots:     []common.Hash{common.BigToHash(common.Big1)},
	})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(keys, raw, 0o644))
	cmd := newBenchProofsCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"--rpc", "http://" + n.api.HTTPAddr(), "--keys", keys, "--clients", "1,2", "--duration", "300ms", "--rate", "50", "--window", "8"})
	require.NoError(t, cmd.ExecuteContext(context.Background()))
	text := out.String()
	require.Contains(t, text, "every proof verified")
	for _, load := range []string{"| 1 clients |", "| 2 clients |", "| 50/s open loop |"} {
		require.Contains(t, text, load)
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "| 1 clients") {
			f := strings.Split(line, "|")
			require.NotEqual(t, " 0 ", f[2], "proofs were served: %s", line)
			require.Equal(t, " 0 ", f[3], "no errors: %s", line)
		}
	}

	// A keys file without addresses is a clear error.
	require.NoError(t, os.WriteFile(keys, []byte(`{"addresses": []}`), 0o644))
	cmd = newBenchProofsCmd()
	cmd.SetArgs([]string{"--rpc", "http://" + n.api.HTTPAddr(), "--keys", keys})
	require.ErrorContains(t, cmd.ExecuteContext(context.Background()), "lists no addresses")
}
