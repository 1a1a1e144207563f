//go:build !linux

package bench

import "os/exec"

// setPdeathsig: only Linux kills a child with its parent.
func setPdeathsig(*exec.Cmd) {}
