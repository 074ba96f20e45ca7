//go:build linux

package emulators

import "syscall"

// sysProcAttr puts the server in its own process group, so that Stop can
// signal everything it started and a Ctrl-C in the terminal reaches only the
// parent (which then stops the server in order). Pdeathsig makes the kernel
// kill the server if the Go process dies without calling Stop (e.g. SIGKILL).
//
// Caveat: Linux ties Pdeathsig to the OS thread that started the child, not
// the process. The Go runtime only ends a thread when a goroutine exits while
// locked to it (runtime.LockOSThread), so do not call StartDynamoDB/StartMoto
// from such a goroutine.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
