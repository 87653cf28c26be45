//go:build unix

package childenv

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// TerminalForeground reports whether this process is in the foreground
// process group of its controlling terminal, so that a Ctrl-C or Ctrl-\
// typed there reaches a child sharing the group without being forwarded.
// A process whose standard input is a terminal may still have no
// controlling terminal (a new session) or run in the background.
func TerminalForeground() bool {
	tty, err := os.Open("/dev/tty") // fails without a controlling terminal
	if err != nil {
		return false
	}
	defer tty.Close()
	pgrp, err := unix.IoctlGetInt(int(tty.Fd()), unix.TIOCGPGRP)
	return err == nil && pgrp == syscall.Getpgrp()
}
