package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/history/store"
	"github.com/strata-chain/strata/sequencer"
)

// TestStartupErrors runs `strata run` in a child process (main's own exit
// path) against each way a start can fail, and checks that it exits
// non-zero, never panics, and ends with one line, "strata: ...", that
// names the cause: the address in use and its key, the genesis file, the
// locked datadir, the store's schema version and the command that
// rebuilds it.
func TestStartupErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	// A port held by this process for the case's duration.
	hold := func(t *testing.T) int {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		t.Cleanup(func() { ln.Close() })
		return ln.Addr().(*net.TCPAddr).Port
	}
	// run's arguments for a sequencer-mode node in dir, every listener on a
	// free port or off, then extra.
	args := func(dir string, extra ...string) []string {
		return append([]string{"run --mode sequencer --datadir", dir,
			"--http.addr 127.0.0.1 --http.port 0 --ws.port 0 --grpc.port 0 --metrics.port 0",
			"--log.format json --status.interval 0 --sequencer.block_time 1s"}, extra...)
	}
	// A follower of url with genesis file path.
	follow := func(dir, url, genesis string) []string {
		return args(dir, "--mode follower --follower.url", url, "--follower.genesis", genesis)
	}
	cases := []struct {
		name string
		// setup prepares the case and returns run's arguments and the
		// texts the error line must hold.
		setup func(t *testing.T, dir string) (args []string, want []string)
	}{
		{"http port in use", func(t *testing.T, dir string) ([]string, []string) {
			p := strconv.Itoa(hold(t))
			return args(dir, "--http.port", p), []string{"http.port " + p, "127.0.0.1:" + p, "address already in use"}
		}},
		{"grpc port in use", func(t *testing.T, dir string) ([]string, []string) {
			p := strconv.Itoa(hold(t))
			return args(dir, "--grpc.port", p), []string{"grpc.port " + p, "127.0.0.1:" + p, "address already in use"}
		}},
		{"metrics port in use", func(t *testing.T, dir string) ([]string, []string) {
			p := strconv.Itoa(hold(t))
			return args(dir, "--metrics.port", p), []string{"metrics.port " + p, "127.0.0.1:" + p, "address already in use"}
		}},
		{"genesis file missing", func(t *testing.T, dir string) ([]string, []string) {
			path := filepath.Join(t.TempDir(), "genesis.json")
			return follow(dir, "http://127.0.0.1:1", path), []string{path, "no such file"}
		}},
		{"genesis file not JSON", func(t *testing.T, dir string) ([]string, []string) {
			path := filepath.Join(t.TempDir(), "genesis.json")
			require.NoError(t, os.WriteFile(path, []byte("not a genesis"), 0o644))
			return follow(dir, "http://127.0.0.1:1", path), []string{path, "not a JSON object"}
		}},
		{"genesis not the upstream's", func(t *testing.T, dir string) ([]string, []string) {
			url := startUpstream(t)
			// The same chain configuration, another genesis time: another block 0.
			g, err := sequencer.Genesis(sequencer.DefaultConfig(), 1_000_000)
			require.NoError(t, err)
			raw, err := json.Marshal(g)
			require.NoError(t, err)
			path := filepath.Join(t.TempDir(), "other-genesis.json")
			require.NoError(t, os.WriteFile(path, raw, 0o644))
			return follow(dir, url, path), []string{path, "not the same chain"}
		}},
		{"datadir locked by a running strata", func(t *testing.T, dir string) ([]string, []string) {
			c := startChild(t, args(dir)...)
			c.waitFor(`"msg":"Strata is serving"`)
			t.Cleanup(func() {
				c.signal(syscall.SIGTERM)
				require.NoError(t, c.wait(), "the holder stops cleanly")
			})
			return args(dir), []string{"datadir " + dir + " is locked by another process"}
		}},
		{"store of an older schema", func(t *testing.T, dir string) ([]string, []string) {
			writeSchemaVersion(t, dir, 0) // older than the oldest version this build migrates (1)
			return args(dir), []string{"datadir " + dir, "schema version 0", "strata catchup"}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			a, want := tc.setup(t, dir)
			code, lines := runStrata(t, a...)
			out := strings.Join(lines, "\n")
			require.NotZero(t, code, out)
			require.NotContains(t, strings.ToLower(out), "panic", out)
			var errLines []string
			for _, l := range lines {
				if strings.HasPrefix(l, "strata: ") {
					errLines = append(errLines, l)
				}
			}
			require.Len(t, errLines, 1, "one error line; the output was:\n%s", out)
			require.Equal(t, errLines[0], lines[len(lines)-1], "the error line is the last")
			for _, w := range want {
				require.Contains(t, errLines[0], w)
			}
			t.Log(errLines[0])
		})
	}
}

// startUpstream starts a sequencer-mode Strata in this process until it has
// made a block, and returns its JSON-RPC URL, which serves block 0.
func startUpstream(t *testing.T) string {
	t.Helper()
	cfg := testNodeConfig(t.TempDir())
	cfg.Mode = "sequencer"
	n, err := startNode(context.Background(), cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, n.Close()) })
	runUntil(t, n, func(info sequencer.BlockInfo) bool { return info.Number >= 1 })
	return "http://" + n.api.HTTPAddr()
}

// writeSchemaVersion makes dir a store whose schema marker says version v:
// a new store, its marker then rewritten under the key history/store keeps
// it at (meta prefix "m", name "schema"; 8 bytes big-endian).
func writeSchemaVersion(t *testing.T, dir string, v uint64) {
	t.Helper()
	s, err := store.Open(dir, store.DefaultConfig(), nil)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	db, err := pebble.Open(dir, &pebble.Options{Logger: quietPebble{}})
	require.NoError(t, err)
	marker, closer, err := db.Get([]byte("mschema"))
	require.NoError(t, err, "the store keeps its schema version where this test writes it")
	require.Equal(t, store.SchemaVersion, binary.BigEndian.Uint64(marker), "a new store is at this build's version")
	require.NoError(t, closer.Close())
	require.NoError(t, db.Set([]byte("mschema"), binary.BigEndian.AppendUint64(nil, v), pebble.Sync))
	require.NoError(t, db.Close())
}

// quietPebble keeps Pebble's recovery notes out of the test's output.
type quietPebble struct{}

func (quietPebble) Infof(string, ...any)           {}
func (quietPebble) Errorf(string, ...any)          {}
func (quietPebble) Fatalf(format string, a ...any) { panic(fmt.Sprintf(format, a...)) }
