//go:build windows

package cli

import (
	"os"
	"syscall"
)

// detachedAttr starts a child in a process group of its own (Windows has
// no sessions or controlling terminals).
func detachedAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}

// terminalAttr: there is no controlling terminal to give; the pty tests
// skip where pseudo-terminals cannot be opened.
func terminalAttr() *syscall.SysProcAttr { return detachedAttr() }

// killHard ends a process at once.
func killHard(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill()
	}
}
