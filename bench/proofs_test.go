package bench

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/stretchr/testify/require"
)

func TestLoadProofKeys(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
		return p
	}
	tests := []struct {
		name, path, err string
		addrs, slots    int
	}{
		{name: "missing file", path: filepath.Join(dir, "absent.json"), err: "read keys"},
		{name: "not JSON", path: write("bad.json", "{"), err: "keys file"},
		{name: "no addresses", path: write("empty.json", `{"addresses": []}`), err: "lists no addresses"},
		{name: "addresses and slots", path: write("ok.json", `{"addresses": ["0x4200000000000000000000000000000000000016", "0x000000000000000000000000000000000000dEaD"], "slots": ["0x0000000000000000000000000000000000000000000000000000000000000001"]}`), addrs: 2, slots: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := LoadProofKeys(tt.path)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Len(t, keys.Addresses, tt.addrs)
			require.Len(t, keys.Slots, tt.slots)
			require.Equal(t, common.HexToAddress("0xdead"), keys.Addresses[1])
		})
	}
}

func TestWriteProofTable(t *testing.T) {
	var b bytes.Buffer
	writeProofTable(&b, []ProofLoadResult{
		{Clients: 4, Proofs: 100, PerSecond: 50, Latency: Summary{P50: time.Millisecond, P99: 2500 * time.Microsecond, Max: 3 * time.Millisecond}},
		{Clients: 256, Rate: 200, Proofs: 400, Errors: 1, PerSecond: 199.6},
	})
	require.Equal(t, `| load | proofs | errors | proofs/s | p50 ms | p99 ms | max ms |
|---|---|---|---|---|---|---|
| 4 clients | 100 | 0 | 50 | 1.00 | 2.50 | 3.00 |
| 200/s open loop | 400 | 1 | 200 | 0.00 | 0.00 | 0.00 |
`, b.String())
}
