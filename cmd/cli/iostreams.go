package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// ErrNoTTY means there is no controlling terminal to ask a human on.
var ErrNoTTY = errors.New("no controlling terminal")

// errSeveralLines means a hidden prompt got more than one line at once (a
// value of several lines pasted): none of it is used.
var errSeveralLines = errors.New("more than one line typed at a hidden prompt")

// IOStreams are the streams a command reads and writes, with what is known
// about them.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdinTTY, stdoutTTY, stderrTTY bool
	noColor                        bool
	noTTY                          bool
	ttyPath                        string
}

// NewIOStreams wraps the given streams; terminals are detected on *os.File
// streams. getenv supplies NO_COLOR and AGENTSECRETS_NO_TTY.
func NewIOStreams(in io.Reader, out, errOut io.Writer, getenv func(string) string) *IOStreams {
	s := &IOStreams{In: in, Out: out, ErrOut: errOut, ttyPath: "/dev/tty"}
	s.stdinTTY = isTerminal(in)
	s.stdoutTTY = isTerminal(out)
	s.stderrTTY = isTerminal(errOut)
	if getenv != nil {
		_, s.noColor = lookup(getenv, "NO_COLOR")
		s.noTTY = getenv("AGENTSECRETS_NO_TTY") == "1"
	}
	return s
}

func lookup(getenv func(string) string, k string) (string, bool) {
	v := getenv(k)
	return v, v != ""
}

func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// IsStdinTTY reports whether stdin is a terminal.
func (s *IOStreams) IsStdinTTY() bool { return s.stdinTTY && !s.noTTY }

// IsStdoutTTY reports whether stdout is a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.stdoutTTY && !s.noTTY }

// ColorEnabled reports whether stdout may carry colour: a terminal and no
// NO_COLOR.
func (s *IOStreams) ColorEnabled() bool { return s.IsStdoutTTY() && !s.noColor }

// ErrColorEnabled is ColorEnabled for stderr.
func (s *IOStreams) ErrColorEnabled() bool { return s.stderrTTY && !s.noTTY && !s.noColor }

// TTY opens the controlling terminal for a confirmation or a hidden prompt.
// It fails with ErrNoTTY when the process has none (or AGENTSECRETS_NO_TTY=1).
func (s *IOStreams) TTY() (*TTY, error) {
	if s.noTTY {
		return nil, ErrNoTTY
	}
	f, err := os.OpenFile(s.ttyPath, os.O_RDWR, 0)
	if err != nil {
		return nil, ErrNoTTY
	}
	if !term.IsTerminal(int(f.Fd())) {
		f.Close()
		return nil, ErrNoTTY
	}
	return &TTY{f: f, r: bufio.NewReader(f)}, nil
}

// TTY is the controlling terminal.
type TTY struct {
	f *os.File
	r *bufio.Reader
}

// Printf writes to the terminal.
func (t *TTY) Printf(format string, args ...any) { fmt.Fprintf(t.f, format, args...) }

// Prompt writes msg and reads one line (without its newline).
func (t *TTY) Prompt(msg string) (string, error) {
	fmt.Fprint(t.f, msg)
	line, err := t.r.ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("read from terminal: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// PromptHidden writes msg and reads a line without echo (errSeveralLines
// when more than one was pasted, see readHiddenLine).
func (t *TTY) PromptHidden(msg string) ([]byte, error) {
	fmt.Fprint(t.f, msg)
	b, err := readHiddenLine(int(t.f.Fd()))
	fmt.Fprintln(t.f)
	return b, err
}

// Close closes the terminal.
func (t *TTY) Close() error { return t.f.Close() }

// readHiddenStdin reads a value from stdin without echo (stdin must be a
// terminal), prompting on stderr; errSeveralLines as PromptHidden.
func (s *IOStreams) readHiddenStdin(prompt string) ([]byte, error) {
	f, ok := s.In.(*os.File)
	if !ok || !s.IsStdinTTY() {
		return nil, ErrNoTTY
	}
	fmt.Fprint(s.ErrOut, prompt)
	b, err := readHiddenLine(int(f.Fd()))
	fmt.Fprintln(s.ErrOut)
	return b, err
}
