package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/sequencer"
)

// strataProcess is `strata run` in a child process.
type strataProcess struct {
	cmd  *exec.Cmd
	sc   *bufio.Scanner
	http string
}

func startStrata(t *testing.T, args string) *strataProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "STRATA_TEST_MAIN=run --log.format json --status.interval 100ms --ws.port 0 --metrics.port 0 "+args)
	out, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	p := &strataProcess{cmd: cmd, sc: bufio.NewScanner(out)}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line := p.waitFor(t, `"msg":"Strata is serving"`)
	var serving struct {
		HTTP string `json:"http"`
	}
	require.NoError(t, json.Unmarshal([]byte(line), &serving))
	p.http = serving.HTTP
	return p
}

func (p *strataProcess) waitFor(t *testing.T, what string) string {
	t.Helper()
	for p.sc.Scan() {
		if strings.Contains(p.sc.Text(), what) {
			return p.sc.Text()
		}
	}
	t.Fatalf("output ended before %q", what)
	return ""
}

// waitHead reads status lines until the head reaches n.
func (p *strataProcess) waitHead(t *testing.T, n uint64) {
	t.Helper()
	for {
		var st struct {
			Head uint64 `json:"head"`
		}
		require.NoError(t, json.Unmarshal([]byte(p.waitFor(t, `"msg":"Status"`)), &st))
		if st.Head >= n {
			return
		}
	}
}

// TestProcessesRelay runs a sequencer process and two follower processes,
// the second following the first over the block stream, and checks that the
// three answer eth_getProof identically at every block.
func TestProcessesRelay(t *testing.T) {
	g1, g2, g3 := freePort(t), freePort(t), freePort(t)
	seq := startStrata(t, fmt.Sprintf("--datadir %s --http.port 0 --grpc.port %d --sequencer.block_time 50ms", t.TempDir(), g1))
	f1 := startStrata(t, fmt.Sprintf("--mode follower --follower.url strata://127.0.0.1:%d --datadir %s --http.port 0 --grpc.port %d", g1, t.TempDir(), g2))
	f2 := startStrata(t, fmt.Sprintf("--mode follower --follower.url strata://127.0.0.1:%d --datadir %s --http.port 0 --grpc.port %d", g2, t.TempDir(), g3))
	for _, p := range []*strataProcess{seq, f1} { // keep their pipes drained
		go func() {
			for p.sc.Scan() {
			}
		}()
	}
	f2.waitHead(t, 20)
	var clients []*rpc.Client
	for _, p := range []*strataProcess{seq, f1, f2} {
		c, err := rpc.Dial(p.http)
		require.NoError(t, err)
		defer c.Close()
		clients = append(clients, c)
	}
	addrs := []common.Address{sequencer.MessagePasserAddress, sequencer.StorageContractAddress, sequencer.TokenAddress, crypto.PubkeyToAddress(sequencer.DevKeys(1)[0].PublicKey)}
	for n := uint64(0); n <= 20; n++ {
		for _, a := range addrs {
			var want json.RawMessage
			require.NoError(t, clients[0].Call(&want, "eth_getProof", a, []string{"0x0", "0x1"}, hexutil.Uint64(n)))
			for i, c := range clients[1:] {
				var got json.RawMessage
				require.NoError(t, c.Call(&got, "eth_getProof", a, []string{"0x0", "0x1"}, hexutil.Uint64(n)))
				require.Equal(t, string(want), string(got), "follower %d: %s at block %d", i+1, a, n)
			}
		}
	}
	for _, p := range []*strataProcess{f2, f1, seq} {
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGINT))
	}
}
