//go:build linux || dragonfly || freebsd || netbsd || openbsd

package keychain

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
)

var errNoSessionBus = errors.New("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset)")

// sessionBusKnown reports whether a D-Bus session bus address can be found
// the way godbus looks for one, short of running dbus-launch. Without this
// check godbus would launch a new bus daemon on every call and leave it
// running.
func sessionBusKnown() bool {
	if addr := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); addr != "" && addr != "autolaunch:" {
		return true
	}
	runtimeDir := filepath.Join("/run/user", strconv.Itoa(os.Getuid()))
	for _, name := range []string{"bus", "dbus-session"} {
		if _, err := os.Stat(filepath.Join(runtimeDir, name)); err == nil {
			return true
		}
	}
	return false
}
