//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package cli

import (
	"errors"
	"io"
	"os"
	"os/signal"
	"syscall"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// readHiddenLine reads one line from the terminal fd without echo.
//
// It reads with the terminal out of canonical mode and edits the line
// itself (erase, kill, end of file): in canonical mode the kernel keeps at
// most 4095 bytes of a line (1023 on macOS) and silently drops the rest,
// so a long value would be stored cut short. A line longer than
// maxValueSize is an error.
//
// Once the line has ended, whatever else is waiting on the terminal is
// read and thrown away. Anything there but line ends means more than one
// line was pasted: the line read is cleared and the error is
// errSeveralLines. None of it is shown, used or left for the shell to read
// as commands.
//
// A signal that ends the process while it waits (^C) first puts the
// terminal back as it was: echo on.
func readHiddenLine(fd int) ([]byte, error) {
	old, err := unix.IoctlGetTermios(fd, ioctlReadTermios)
	if err != nil {
		return nil, err
	}
	t := *old
	t.Lflag &^= unix.ECHO | unix.ICANON
	t.Lflag |= unix.ISIG
	t.Iflag |= unix.ICRNL
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, ioctlWriteTermios, &t); err != nil {
		return nil, err
	}
	defer unix.IoctlSetTermios(fd, ioctlWriteTermios, old)
	defer restoreOnSignal(fd, old)()

	var line []byte
	fail := func(err error) ([]byte, error) {
		clear(line)
		return nil, err
	}
	buf := make([]byte, 4096)
	defer clear(buf)
	for {
		n, err := unix.Read(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fail(err)
		}
		if n == 0 { // hang-up
			return fail(io.EOF)
		}
		for i, c := range buf[:n] {
			switch {
			case c == '\n' || c == '\r':
				if !lineEndsOnly(buf[i+1:n]) || discardTypeahead(fd, t) {
					return fail(errSeveralLines)
				}
				return line, nil
			case c == 0x7f || c == '\b' || c == old.Cc[unix.VERASE] && c != 0:
				if len(line) > 0 {
					_, size := utf8.DecodeLastRune(line)
					clear(line[len(line)-size:])
					line = line[:len(line)-size]
				}
			case c == old.Cc[unix.VKILL] && c != 0:
				clear(line)
				line = line[:0]
			case c == old.Cc[unix.VEOF] && c != 0:
				if len(line) == 0 {
					return fail(io.EOF)
				}
			case len(line) >= maxValueSize:
				return fail(errors.New("the line typed is longer than the largest value"))
			default:
				line = append(line, c)
			}
		}
	}
}

// restoreOnSignal sets the terminal fd to old and ends the process as the
// signal would when SIGINT, SIGTERM, SIGHUP or SIGQUIT arrives before the
// function it returns is called.
func restoreOnSignal(fd int, old *unix.Termios) (stop func()) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-sigs:
			_ = unix.IoctlSetTermios(fd, ioctlWriteTermios, old)
			signal.Reset(sig)
			_ = syscall.Kill(os.Getpid(), sig.(syscall.Signal))
		case <-done:
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
	}
}

// lineEndsOnly reports whether p holds nothing but CR and LF (a terminal
// may send a line end as CR LF, or twice).
func lineEndsOnly(p []byte) bool {
	for _, c := range p {
		if c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

// discardTypeahead reads, with the terminal in state t (not canonical, no
// echo) but without waiting, what is waiting on it, throws it away, and
// reports whether it held anything but line ends.
func discardTypeahead(fd int, t unix.Termios) bool {
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 0, 0
	if unix.IoctlSetTermios(fd, ioctlWriteTermios, &t) != nil {
		return false
	}
	more := false
	buf := make([]byte, 512)
	for {
		n, err := unix.Read(fd, buf)
		if n > 0 {
			more = more || !lineEndsOnly(buf[:n])
			clear(buf[:n])
		}
		if err == unix.EINTR {
			continue
		}
		if n <= 0 || err != nil {
			return more
		}
	}
}
