//go:build !unix

package localenv

import (
	"errors"
	"syscall"
)

var errPlatform = errors.New("localenv: the local emulators are only supported on Unix-like systems (Linux, macOS, WSL)")

func sysProcAttr() *syscall.SysProcAttr { return nil }

func killGroup(pid int, hard bool) error { return errPlatform }
