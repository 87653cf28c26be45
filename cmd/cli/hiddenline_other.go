//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd)

package cli

import "golang.org/x/term"

// readHiddenLine reads one line from the terminal fd without echo.
func readHiddenLine(fd int) ([]byte, error) { return term.ReadPassword(fd) }
