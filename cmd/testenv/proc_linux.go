//go:build linux

package main

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel send SIGTERM to the command if testenv is
// killed outright (SIGKILL), so that it does not go on running against
// emulators that are gone (those die with testenv the same way).
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
