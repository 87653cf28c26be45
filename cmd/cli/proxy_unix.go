//go:build unix

package cli

import (
	"fmt"
	"os/exec"
	"syscall"
)

// detach makes the daemon the leader of a new session, away from the
// terminal that started it.
func detach(cmd *exec.Cmd) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	return nil
}

// terminate asks the proxy process to stop (SIGTERM).
func terminate(pid int) error {
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return fmt.Errorf("proxy: signal process %d: %v", pid, err)
	}
	return nil
}

// kill ends the proxy process at once (SIGKILL).
func kill(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }
