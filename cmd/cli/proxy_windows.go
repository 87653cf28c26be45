//go:build windows

package cli

import (
	"errors"
	"os"
	"os/exec"
)

// errNoDaemon is returned where the background proxy needs a Unix
// process model.
var errNoDaemon = errors.New("proxy: running the proxy in the background is not supported on Windows yet; use proxy start --foreground and stop it with Ctrl-C")

// detach cannot start a detached daemon on Windows yet.
func detach(*exec.Cmd) error { return errNoDaemon }

// terminate cannot ask a process to stop gracefully on Windows yet.
func terminate(int) error { return errNoDaemon }

// kill ends the proxy process at once.
func kill(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	defer p.Release()
	return p.Kill()
}
