//go:build windows

package childenv

import (
	"errors"
	"syscall"
)

// signalSelf: Windows delivers no POSIX signals; the tests that need one
// skip there.
func signalSelf(syscall.Signal) error { return errors.New("no POSIX signals on windows") }
