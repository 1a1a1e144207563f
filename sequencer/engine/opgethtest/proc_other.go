//go:build !linux

package opgethtest

import "os/exec"

// setPdeathsig is Linux-only; elsewhere op-geth outlives a test binary that
// dies without running its cleanups.
func setPdeathsig(*exec.Cmd) {}
