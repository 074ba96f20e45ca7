//go:build unix && !linux

package emulators

import "syscall"

// sysProcAttr puts the server in its own process group, so that Stop can
// signal everything it started and a Ctrl-C in the terminal reaches only the
// parent (which then stops the server in order).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
