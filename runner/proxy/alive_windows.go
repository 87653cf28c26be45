//go:build windows

package proxy

import (
	"errors"
	"syscall"
)

// stillActive is the exit code Windows reports for a running process.
const stillActive = 259

// Alive reports whether a process with this id is running: it can be
// opened and has no exit code yet. A process that exists but may not be
// queried counts as alive.
func Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	h, err := syscall.OpenProcess(syscall.PROCESS_QUERY_INFORMATION, false, uint32(pid))
	if err != nil {
		return errors.Is(err, syscall.ERROR_ACCESS_DENIED)
	}
	defer syscall.CloseHandle(h)
	var code uint32
	if err := syscall.GetExitCodeProcess(h, &code); err != nil {
		return true
	}
	return code == stillActive
}
