package childenv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/The-17/agentsecrets/runner/redact"
)

// Errors of LookPath.
var (
	ErrCommandNotFound = errors.New("childenv: command not found")
	ErrNotExecutable   = errors.New("childenv: command not executable")
)

// ForwardedSignals are the signals Run passes on to the child by default.
var ForwardedSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}

// Var is one variable given to the child.
type Var struct {
	Name  string
	Value []byte
}

// Command describes a child to run.
type Command struct {
	// Path is the program (see LookPath); Args is argv, Args[0] included.
	Path string
	Args []string
	// Env is the parent's environment, as os.Environ gives it.
	Env []string
	// Secrets are added to Env, replacing variables of the same name.
	Secrets []Var
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	// Mask, when non-nil, redacts the child's standard output and error.
	Mask *redact.Set
	// Signals are forwarded to the child; nil means ForwardedSignals.
	Signals []os.Signal
	// Absorbed are signals caught (so they do not end this process while
	// the child runs) but not forwarded: on a terminal, Ctrl-C and Ctrl-\
	// already reach the child, which shares the foreground process group,
	// and forwarding would deliver them twice.
	Absorbed []os.Signal
}

// TerminalSignals splits ForwardedSignals for a child that shares a
// terminal's foreground process group: the ones the terminal itself
// delivers are absorbed, the others forwarded.
func TerminalSignals() (forwarded, absorbed []os.Signal) {
	return []os.Signal{syscall.SIGTERM, syscall.SIGHUP}, []os.Signal{syscall.SIGINT, syscall.SIGQUIT}
}

// Result is how the child ended.
type Result struct {
	// ExitCode is the child's exit code, or 128+N when signal N killed it.
	ExitCode int
	// Signal is the signal that killed the child, or 0.
	Signal syscall.Signal
	// Redactions counts the replacements made in the child's output.
	Redactions int
}

// LookPath finds name as a shell would: a name with a slash is used as
// given, any other is searched in $PATH. The error matches ErrCommandNotFound
// or ErrNotExecutable.
func LookPath(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("%w: empty command name", ErrCommandNotFound)
	}
	p, err := exec.LookPath(name)
	if err == nil {
		return p, nil
	}
	if errors.Is(err, exec.ErrDot) {
		return "", fmt.Errorf("%w: %q resolves to the current directory through $PATH; use ./%s", ErrNotExecutable, name, name)
	}
	if errors.Is(err, fs.ErrPermission) {
		return "", fmt.Errorf("%w: %q (permission denied)", ErrNotExecutable, name)
	}
	if strings.Contains(name, "/") {
		if info, serr := os.Stat(name); serr == nil {
			if info.IsDir() {
				return "", fmt.Errorf("%w: %q is a directory", ErrNotExecutable, name)
			}
			return "", fmt.Errorf("%w: %q", ErrNotExecutable, name)
		}
		return "", fmt.Errorf("%w: %q does not exist", ErrCommandNotFound, name)
	}
	return "", fmt.Errorf("%w: %q is not in $PATH", ErrCommandNotFound, name)
}

// Environ returns env with secrets added, each replacing any variable of the
// same name. It refuses a name or value no environment can hold.
func Environ(env []string, secrets []Var) ([]string, error) {
	set := make(map[string]bool, len(secrets))
	for _, s := range secrets {
		if s.Name == "" || strings.ContainsAny(s.Name, "=\x00") {
			return nil, fmt.Errorf("childenv: %q cannot be an environment variable name", s.Name)
		}
		if bytes.IndexByte(s.Value, 0) >= 0 {
			return nil, fmt.Errorf("childenv: the value of %s holds a NUL byte and cannot be an environment variable", s.Name)
		}
		set[s.Name] = true
	}
	out := make([]string, 0, len(env)+len(secrets))
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if !set[name] {
			out = append(out, kv)
		}
	}
	for _, s := range secrets {
		out = append(out, s.Name+"="+string(s.Value))
	}
	return out, nil
}

// Run starts the child, forwards signals to it while it runs and waits for
// it and for its output. An error means the child could not be started (or
// its output could not be written); how it ended is in Result otherwise.
func Run(c Command) (Result, error) {
	env, err := Environ(c.Env, c.Secrets)
	if err != nil {
		return Result{}, err
	}
	cmd := &exec.Cmd{Path: c.Path, Args: c.Args, Env: env, Stdin: c.Stdin, Stdout: c.Stdout, Stderr: c.Stderr,
		WaitDelay: OutputGrace}
	var outs []*redact.Writer
	switch {
	case c.Mask != nil && sameFile(c.Stdout, c.Stderr):
		// One pipe and one redactor for both (2>&1, a terminal): the
		// child's lines keep their order.
		out := c.Mask.NewWriter(c.Stdout)
		cmd.Stdout, cmd.Stderr = out, out
		outs = append(outs, out)
	case c.Mask != nil:
		stdout, stderr := c.Mask.NewWriter(orDiscard(c.Stdout)), c.Mask.NewWriter(orDiscard(c.Stderr))
		cmd.Stdout, cmd.Stderr = stdout, stderr
		outs = append(outs, stdout, stderr)
	}
	sigs := c.Signals
	if sigs == nil {
		sigs = ForwardedSignals
	}
	ch := make(chan os.Signal, 8)
	signal.Notify(ch, append(append([]os.Signal{}, sigs...), c.Absorbed...)...)
	defer signal.Stop(ch)
	if err := cmd.Start(); err != nil {
		return Result{}, startError(c.Args[0], err)
	}
	done := make(chan struct{})
	go forward(ch, cmd.Process.Signal, c.Absorbed, done)
	waitErr := cmd.Wait()
	close(done)
	res := result(cmd.ProcessState)
	var closeErr error
	for _, w := range outs {
		closeErr = errors.Join(closeErr, w.Close())
		res.Redactions += w.Count()
	}
	var exitErr *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exitErr) && !errors.Is(waitErr, exec.ErrWaitDelay) {
		return res, fmt.Errorf("childenv: %s: %w", c.Args[0], waitErr)
	}
	return res, closeErr
}

// OutputGrace is how long Run waits, once the child has exited, for the
// rest of its output: a process it left running in the background may hold
// the output pipe open for much longer, and Run does not wait for that.
const OutputGrace = 500 * time.Millisecond

// startError words a child that could not start the way a shell does: a
// file that is not a program (or whose #! interpreter cannot run) is not
// executable, an interpreter that does not exist is not found.
func startError(name string, err error) error {
	switch {
	case errors.Is(err, syscall.ENOEXEC), errors.Is(err, syscall.EACCES):
		return fmt.Errorf("%w: %q is not a program this system can run (a script needs a #! line)", ErrNotExecutable, name)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %q names an interpreter that does not exist", ErrCommandNotFound, name)
	}
	return fmt.Errorf("childenv: starting %s: %w", name, err)
}

// sameFile reports whether a and b are open files of the same file (a
// terminal, or stdout and stderr joined with 2>&1).
func sameFile(a, b io.Writer) bool {
	fa, ok1 := a.(*os.File)
	fb, ok2 := b.(*os.File)
	if !ok1 || !ok2 {
		return false
	}
	sa, err1 := fa.Stat()
	sb, err2 := fb.Stat()
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// forward passes the signals received on ch, but the absorbed ones, to
// send until done is closed.
func forward(ch <-chan os.Signal, send func(os.Signal) error, absorbed []os.Signal, done <-chan struct{}) {
	for {
		select {
		case sig := <-ch:
			if !slices.Contains(absorbed, sig) {
				_ = send(sig) // the child may have exited already
			}
		case <-done:
			return
		}
	}
}

func result(ps *os.ProcessState) Result {
	if ps == nil {
		return Result{ExitCode: 1}
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return Result{ExitCode: 128 + int(ws.Signal()), Signal: ws.Signal()}
	}
	return Result{ExitCode: ps.ExitCode()}
}
