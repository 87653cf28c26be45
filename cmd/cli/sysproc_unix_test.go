//go:build unix

package cli

import "syscall"

// detachedAttr starts a child in a new session without a controlling
// terminal, as a daemon or OpenClaw's spawn leaves it.
func detachedAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }

// terminalAttr starts a child in a new session whose controlling terminal
// is its stdin (fd 0).
func terminalAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
}

// killHard ends a process at once.
func killHard(pid int) { _ = syscall.Kill(pid, syscall.SIGKILL) }
