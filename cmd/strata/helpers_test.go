package main

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// strataCommand is the strata command line args run in a child process:
// this test binary, whose TestMain runs main() with them (STRATA_TEST_MAIN),
// so the child takes main's exit path. args are split on spaces.
func strataCommand(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "STRATA_TEST_MAIN="+strings.Join(args, " "))
	return cmd
}

// runStrata runs strata to its end and returns its exit code and the lines
// it wrote to stderr.
func runStrata(t *testing.T, args ...string) (int, []string) {
	t.Helper()
	cmd := strataCommand(args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	code := 0
	if exit := (*exec.ExitError)(nil); errors.As(err, &exit) {
		code = exit.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return code, strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n")
}

// strataChild is a strata running in a child process, its stderr read
// line by line.
type strataChild struct {
	t   *testing.T
	cmd *exec.Cmd
	sc  *bufio.Scanner

	mu    sync.Mutex
	lines []string // every line read so far; guarded by mu
}

// startChild starts strata args in a child process; the test's cleanup
// kills it if the test did not wait for it.
func startChild(t *testing.T, args ...string) *strataChild {
	t.Helper()
	cmd := strataCommand(args...)
	out, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return &strataChild{t: t, cmd: cmd, sc: bufio.NewScanner(out)}
}

// waitFor reads stderr up to the first line holding what and returns it;
// the test fails if the output ends first.
func (c *strataChild) waitFor(what string) string {
	c.t.Helper()
	for c.sc.Scan() {
		line := c.sc.Text()
		c.mu.Lock()
		c.lines = append(c.lines, line)
		c.mu.Unlock()
		if strings.Contains(line, what) {
			return line
		}
	}
	c.t.Fatalf("output ended before %q; it was:\n%s", what, strings.Join(c.lines, "\n"))
	return ""
}

// signal sends sig to the child.
func (c *strataChild) signal(sig syscall.Signal) {
	c.t.Helper()
	require.NoError(c.t, c.cmd.Process.Signal(sig))
}

// wait reads the rest of stderr and waits for the child to exit.
func (c *strataChild) wait() error {
	for c.sc.Scan() {
		c.mu.Lock()
		c.lines = append(c.lines, c.sc.Text())
		c.mu.Unlock()
	}
	return c.cmd.Wait()
}
