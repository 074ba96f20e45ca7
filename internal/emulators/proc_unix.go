//go:build unix

package emulators

import (
	"errors"
	"syscall"
)

var errPlatform error

// killGroup signals the process group led by pid: SIGTERM, or SIGKILL when
// hard is set. A group that no longer exists is not an error.
func killGroup(pid int, hard bool) error {
	sig := syscall.SIGTERM
	if hard {
		sig = syscall.SIGKILL
	}
	err := syscall.Kill(-pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}
