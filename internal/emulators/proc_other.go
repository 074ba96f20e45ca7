//go:build !unix

package emulators

import (
	"errors"
	"syscall"
)

var errPlatform = errors.New("emulators: the local emulators are only supported on Unix-like systems (Linux, macOS, WSL)")

func sysProcAttr() *syscall.SysProcAttr { return nil }

func killGroup(pid int, hard bool) error { return errPlatform }
