package runner

import (
	"crypto/tls"
	"net"
	"syscall"
	"time"
)

// pending reports whether c holds bytes no read has taken yet, or their
// end (the peer closed, or the connection failed): received by the socket,
// or already pulled in by TLS. It does not wait: a socket is looked at
// without reading (socketPending), and TLS is read with a deadline already
// passed, which returns only what it holds. A connection on no socket
// (not a syscall.Conn, under TLS or not) can only tell what TLS holds.
//
// It leaves no read deadline set on a TLS connection; fasthttp sets its
// own before it reads an answer.
func pending(c net.Conn) bool {
	if tc, ok := c.(*tls.Conn); ok {
		return socketPending(tc.NetConn()) || tlsPending(tc)
	}
	return socketPending(c)
}

// socketPending reports whether the socket under c has bytes to read, or
// is at their end.
func socketPending(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true // closed
	}
	var readable bool
	if err := rc.Control(func(fd uintptr) { readable = peek(fd) }); err != nil {
		return true
	}
	return readable
}

// tlsPending reports whether c gives bytes (or an error other than a
// timeout) to a read without touching its socket.
func tlsPending(c *tls.Conn) bool {
	if err := c.SetReadDeadline(time.Unix(1, 0)); err != nil {
		return true
	}
	var b [1]byte
	n, err := c.Read(b[:])
	if c.SetReadDeadline(time.Time{}) != nil {
		return true
	}
	return n > 0 || !isTimeout(err)
}
