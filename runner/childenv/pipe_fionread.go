//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package childenv

import (
	"os"

	"golang.org/x/sys/unix"
)

// buffered returns how many bytes wait in the pipe f reads, 0 when that
// cannot be known.
func buffered(f *os.File) int64 {
	rc, err := f.SyscallConn() // not Fd, which would make f blocking
	if err != nil {
		return 0
	}
	var n int
	var ierr error
	if err := rc.Control(func(fd uintptr) { n, ierr = unix.IoctlGetInt(int(fd), fionread) }); err != nil || ierr != nil {
		return 0
	}
	return int64(n)
}
