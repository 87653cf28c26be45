//go:build !unix

package childenv

// TerminalForeground reports false: without POSIX process groups no
// terminal delivers signals that forwarding would repeat.
func TerminalForeground() bool { return false }
