//go:build windows

package runner

import (
	"syscall"
	"unsafe"
)

// fionread asks a socket how many bytes it holds (ioctlsocket FIONREAD).
const fionread = 0x4004667f

// peek reports whether the socket fd has bytes to read, without waiting
// or taking any. (Windows does not tell the end of the bytes this way; a
// closed connection is found when the request is sent, as before.)
func peek(fd uintptr) bool {
	var n, size uint32
	err := syscall.WSAIoctl(syscall.Handle(fd), fionread, nil, 0,
		(*byte)(unsafe.Pointer(&n)), uint32(unsafe.Sizeof(n)), &size, nil, 0)
	return err == nil && n > 0
}
