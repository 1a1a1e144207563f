package bench

import (
	"os/exec"
	"syscall"
)

// setPdeathsig has the kernel kill a soak's child if the bench dies without
// stopping it, so no strata is left serving.
func setPdeathsig(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
