package opgethtest

import (
	"os/exec"
	"syscall"
)

// setPdeathsig has the kernel kill op-geth if the test binary dies without
// running its cleanups (a panic or go test's -timeout).
func setPdeathsig(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
