//go:build !(linux || dragonfly || freebsd || netbsd || openbsd)

package keychain

import "errors"

var errNoSessionBus = errors.New("no session bus")

// sessionBusKnown is true where the OS keychain does not go through D-Bus.
func sessionBusKnown() bool { return true }
