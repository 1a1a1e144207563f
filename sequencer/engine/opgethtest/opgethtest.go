// Package opgethtest runs a real op-geth for tests: an archive node on a
// genesis the test builds, serving JSON-RPC and the JWT-authenticated Engine
// API on free loopback ports, killed when the test ends.
//
// The binary is $STRATA_OPGETH, else bin/op-geth in the repository root,
// which `make op-geth` builds from the op-geth version tools/opgeth/go.mod
// pins (`make test` builds it and sets STRATA_OPGETH). A test fails, not
// skips, when neither exists.
//
// Nothing listens beyond 127.0.0.1: HTTP and authrpc are bound to it, p2p
// listens on 127.0.0.1 with discovery off and no peers, NAT mapping is off
// and IPC is disabled.
package opgethtest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/rpc"
)

// module is the repository's module path, which marks its root go.mod.
const module = "github.com/strata-chain/strata"

// readyTimeout bounds how long op-geth may take to answer eth_chainId.
const readyTimeout = 2 * time.Minute

// logTailLines is how much of op-geth's log a failed test prints.
const logTailLines = 50

// Node is a running op-geth.
type Node struct {
	HTTPURL   string      // JSON-RPC over HTTP: eth, debug, net, web3, txpool
	AuthURL   string      // the Engine API (authrpc), JWT-authenticated
	JWTPath   string      // the secret file op-geth reads (0x-prefixed hex)
	JWTSecret [32]byte    // the secret in JWTPath
	DataDir   string      // op-geth's --datadir
	LogPath   string      // op-geth's stdout and stderr
	RPC       *rpc.Client // a client for HTTPURL, closed when the test ends

	cmd *exec.Cmd
}

type options struct {
	args      []string
	verbosity int
}

// Option changes how Start runs op-geth.
type Option func(*options)

// WithArgs appends flags to op-geth's command line (after Start's own, so
// they override them).
func WithArgs(args ...string) Option {
	return func(o *options) { o.args = append(o.args, args...) }
}

// WithVerbosity sets op-geth's --verbosity (default 3, info).
func WithVerbosity(level int) Option {
	return func(o *options) { o.verbosity = level }
}

// Binary returns the op-geth the tests run: $STRATA_OPGETH, else
// bin/op-geth in the repository root. It fails the test if there is none.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("STRATA_OPGETH"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("STRATA_OPGETH=%s: %v (run `make op-geth`)", p, err)
		}
		return p
	}
	root, err := RepoRoot()
	if err != nil {
		t.Fatalf("finding bin/op-geth: %v", err)
	}
	p := filepath.Join(root, "bin", "op-geth")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("no op-geth binary at %s: run `make op-geth` (or make test, which builds it), or set STRATA_OPGETH", p)
	}
	return p
}

// RepoRoot walks up from the working directory to the directory whose
// go.mod declares Strata's module.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if raw, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && declares(raw, module) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of module %s above the working directory", module)
		}
		dir = parent
	}
}

func declares(gomod []byte, module string) bool {
	sc := bufio.NewScanner(strings.NewReader(string(gomod)))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`) == module
		}
	}
	return false
}

// Start initialises a datadir with genesis and runs op-geth on it until the
// test ends: a hash-scheme archive node with full sync, no peers, no tx-pool
// gossip and a 256 MB cache. It returns once op-geth answers eth_chainId with
// the genesis's chain ID. If the test fails, the end of op-geth's log is
// logged.
func Start(t testing.TB, genesis *core.Genesis, opts ...Option) *Node {
	t.Helper()
	o := options{verbosity: 3}
	for _, opt := range opts {
		opt(&o)
	}
	if genesis == nil || genesis.Config == nil || genesis.Config.ChainID == nil {
		t.Fatal("opgethtest.Start: the genesis needs a chain config with a chain ID")
	}
	bin := Binary(t)
	dir := t.TempDir()
	n := &Node{
		DataDir: filepath.Join(dir, "datadir"),
		JWTPath: filepath.Join(dir, "jwt.hex"),
		LogPath: filepath.Join(dir, "op-geth.log"),
	}

	raw, err := json.Marshal(genesis)
	if err != nil {
		t.Fatalf("encode genesis: %v", err)
	}
	genesisPath := filepath.Join(dir, "genesis.json")
	if err := os.WriteFile(genesisPath, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := rand.Read(n.JWTSecret[:]); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(n.JWTPath, []byte(hexutil.Encode(n.JWTSecret[:])), 0o600); err != nil {
		t.Fatal(err)
	}
	// --port can only name a port on every interface, so the p2p listener
	// is bound to loopback in a config file instead.
	configPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(configPath, []byte("[Node.P2P]\nListenAddr = \"127.0.0.1:0\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	init := exec.Command(bin, "init", "--datadir", n.DataDir, "--state.scheme", "hash", genesisPath)
	if out, err := init.CombinedOutput(); err != nil {
		t.Fatalf("op-geth init: %v\n%s", err, tail(string(out), logTailLines))
	}

	// A free port can be taken between choosing it and op-geth binding it:
	// try again with new ports if that happens.
	for attempt := 1; ; attempt++ {
		httpPort, authPort := freePort(t), freePort(t)
		for authPort == httpPort {
			authPort = freePort(t)
		}
		args := []string{
			"--config", configPath,
			"--datadir", n.DataDir,
			"--state.scheme", "hash", "--gcmode", "archive", "--syncmode", "full", "--cache", "256",
			"--nodiscover", "--maxpeers", "0", "--nat", "none", "--ipcdisable",
			"--http", "--http.addr", "127.0.0.1", "--http.port", fmt.Sprint(httpPort),
			"--http.api", "eth,debug,net,web3,txpool",
			"--authrpc.addr", "127.0.0.1", "--authrpc.port", fmt.Sprint(authPort),
			"--authrpc.jwtsecret", n.JWTPath,
			"--rollup.txpool.disable-gossip",
			"--verbosity", fmt.Sprint(o.verbosity),
		}
		args = append(args, o.args...)
		n.HTTPURL = fmt.Sprintf("http://127.0.0.1:%d", httpPort)
		n.AuthURL = fmt.Sprintf("http://127.0.0.1:%d", authPort)
		err := n.run(t, bin, args, genesis.Config.ChainID)
		if err == nil {
			return n
		}
		if errors.Is(err, errPortTaken) && attempt < 3 {
			t.Logf("op-geth: %v; retrying with other ports", err)
			continue
		}
		t.Fatalf("op-geth did not start: %v\n%s", err, n.LogTail(logTailLines))
	}
}

var errPortTaken = errors.New("a port was taken")

// run starts op-geth with args and waits until it serves. On success it has
// registered the cleanup that stops it.
func (n *Node) run(t testing.TB, bin string, args []string, chainID *big.Int) error {
	logFile, err := os.OpenFile(n.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close() // the child has its own descriptor
	fmt.Fprintf(logFile, "### %s %s\n", bin, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	setPdeathsig(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}

	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	cl, err := rpc.DialContext(ctx, n.HTTPURL)
	if err != nil {
		stop()
		return fmt.Errorf("dial %s: %w", n.HTTPURL, err)
	}
	for {
		var id hexutil.Big
		callCtx, callCancel := context.WithTimeout(ctx, time.Second)
		err := cl.CallContext(callCtx, &id, "eth_chainId")
		callCancel()
		if err == nil {
			if id.ToInt().Cmp(chainID) != 0 {
				cl.Close()
				stop()
				return fmt.Errorf("op-geth at %s serves chain %s, the genesis is chain %s", n.HTTPURL, id.ToInt(), chainID)
			}
			break
		}
		select {
		case werr := <-exited:
			cl.Close()
			if strings.Contains(n.LogTail(logTailLines), "address already in use") {
				return fmt.Errorf("%w: op-geth exited: %v", errPortTaken, werr)
			}
			return fmt.Errorf("op-geth exited before serving: %v", werr)
		case <-ctx.Done():
			cl.Close()
			stop()
			return fmt.Errorf("op-geth did not answer eth_chainId at %s within %s: %v", n.HTTPURL, readyTimeout, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	n.cmd, n.RPC = cmd, cl
	t.Cleanup(func() {
		cl.Close()
		stop()
		if t.Failed() {
			t.Logf("op-geth log (last %d lines of %s):\n%s", logTailLines, n.LogPath, n.LogTail(logTailLines))
		}
	})
	return nil
}

// LogTail returns the last lines of op-geth's log.
func (n *Node) LogTail(lines int) string {
	raw, err := os.ReadFile(n.LogPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	return tail(string(raw), lines)
}

func tail(s string, lines int) string {
	s = strings.TrimRight(s, "\n")
	idx := len(s)
	for i := 0; i < lines && idx > 0; i++ {
		idx = strings.LastIndexByte(s[:idx], '\n')
		if idx < 0 {
			return s
		}
	}
	return s[idx+1:]
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
