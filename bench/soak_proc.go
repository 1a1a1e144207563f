package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// soakProc is one strata child process of a soak. Its output goes to a log
// file; exited is closed once the process has ended, with err set.
type soakProc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	ops     string // the metrics server's host:port (/healthz, /readyz, /metrics, /v1/status)
	log     *os.File
	exited  chan struct{}
	err     error // valid after exited is closed
}

// startSoakProc starts cmd with its stdout and stderr in logPath. The child
// is killed by the kernel if this process dies first (Linux).
func startSoakProc(name string, cmd *exec.Cmd, logPath, ops string) (*soakProc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("%s log: %w", name, err)
	}
	cmd.Stdout, cmd.Stderr = f, f
	setPdeathsig(cmd)
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s (%s): %w", name, strings.Join(cmd.Args, " "), err)
	}
	p := &soakProc{name: name, cmd: cmd, logPath: logPath, ops: ops, log: f, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.exited)
	}()
	return p, nil
}

// pid is the child's process id.
func (p *soakProc) pid() int { return p.cmd.Process.Pid }

// exitErr describes how the process ended, naming its log.
func (p *soakProc) exitErr() error {
	return fmt.Errorf("%s exited (%v); its log is %s", p.name, p.err, p.logPath)
}

// waitHealthy polls /healthz until it answers 200, the process exits or
// ctx ends.
func (p *soakProc) waitHealthy(ctx context.Context) error {
	tk := time.NewTicker(200 * time.Millisecond)
	defer tk.Stop()
	cl := &http.Client{Timeout: time.Second}
	for {
		if resp, err := cl.Get("http://" + p.ops + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not healthy: %w; its log is %s", p.name, ctx.Err(), p.logPath)
		case <-p.exited:
			return p.exitErr()
		case <-tk.C:
		}
	}
}

// stop interrupts the process (a clean shutdown) and kills it if it has not
// ended within grace. It returns the exit error of a process that did not
// stop cleanly.
func (p *soakProc) stop(grace time.Duration) error {
	select {
	case <-p.exited:
		return p.err
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.exited:
		return p.err
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("%s did not stop within %s after SIGINT; killed", p.name, grace)
	}
}

// freePorts returns n distinct free loopback TCP ports. They are free when
// returned; a child binds them shortly after.
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// processRSS reads a process's resident set size from /proc/<pid>/status
// (VmRSS).
func processRSS(pid int) (uint64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return parseVmRSS(f)
}

// parseVmRSS finds the VmRSS line of a /proc/<pid>/status file ("VmRSS:
// 123456 kB") and returns it in bytes.
func parseVmRSS(r io.Reader) (uint64, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		rest, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("VmRSS line %q: want a number of kB", line)
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("VmRSS line %q: %w", line, err)
		}
		return kb << 10, nil
	}
	return 0, errors.New("no VmRSS line (a kernel thread or a zombie)")
}
