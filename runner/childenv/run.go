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
	"sync"
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
	outs, err := pipeOutputs(cmd, c)
	if err != nil {
		return Result{}, err
	}
	sigs := c.Signals
	if sigs == nil {
		sigs = ForwardedSignals
	}
	ch := make(chan os.Signal, 8)
	signal.Notify(ch, append(append([]os.Signal{}, sigs...), c.Absorbed...)...)
	defer signal.Stop(ch)
	err = cmd.Start()
	for _, o := range outs {
		o.w.Close() // the child has its own
	}
	if err != nil {
		for _, o := range outs {
			o.r.Close()
		}
		return Result{}, startError(c.Args[0], err)
	}
	for _, o := range outs {
		go o.copy()
	}
	done := make(chan struct{})
	go forward(ch, cmd.Process.Signal, c.Absorbed, done)
	waitErr := cmd.Wait()
	close(done)
	res := result(cmd.ProcessState)
	var copyErr, closeErr error
	var undated []*output // no read deadlines here: closed OutputGrace after the exit
	for _, o := range outs {
		if !o.childExited() {
			undated = append(undated, o)
		}
	}
	if len(undated) > 0 {
		defer time.AfterFunc(OutputGrace, func() {
			for _, o := range undated {
				o.r.Close()
			}
		}).Stop()
	}
	for _, o := range outs {
		<-o.done
		copyErr = errors.Join(copyErr, o.err)
	}
	for _, o := range outs {
		closeErr = errors.Join(closeErr, o.dst.Close())
		res.Redactions += o.dst.Count()
	}
	if waitErr == nil && copyErr != nil { // as exec.Cmd reports its copying's error
		waitErr = copyErr
	}
	var exitErr *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exitErr) && !errors.Is(waitErr, exec.ErrWaitDelay) {
		return res, fmt.Errorf("childenv: %s: %w", c.Args[0], waitErr)
	}
	return res, closeErr
}

// output copies one of the child's output pipes to its redactor. Once the
// child has exited, what it left in the pipe is still passed on whole,
// however slowly the redactor's reader takes it; what comes after (from a
// process the child left running) is waited for OutputGrace more.
type output struct {
	r    *os.File // the read end of the pipe
	w    *os.File // the write end, the child's, closed here once it started
	dst  *redact.Writer
	read int64 // bytes read so far; copy's alone

	mu     sync.Mutex
	exited bool      // the child has exited
	owed   int64     // then: the bytes to read before the grace starts (-1: not known yet)
	stopAt time.Time // then: when the grace ends

	done chan struct{} // closed when copy returns
	err  error         // writing to dst failed
}

// pipeOutputs gives the child a pipe for each of its output streams (one
// for both when they are the same file), read through c.Mask: none when
// c.Mask is nil.
func pipeOutputs(cmd *exec.Cmd, c Command) ([]*output, error) {
	if c.Mask == nil {
		return nil, nil
	}
	dsts := []io.Writer{orDiscard(c.Stdout), orDiscard(c.Stderr)}
	if sameFile(c.Stdout, c.Stderr) {
		// One pipe and one redactor for both (2>&1, a terminal): the
		// child's lines keep their order.
		dsts = dsts[:1]
	}
	var outs []*output
	for _, dst := range dsts {
		r, w, err := os.Pipe()
		if err != nil {
			for _, o := range outs {
				o.r.Close()
				o.w.Close()
			}
			return nil, fmt.Errorf("childenv: output pipe: %w", err)
		}
		outs = append(outs, &output{r: r, w: w, dst: c.Mask.NewWriter(dst), owed: -1, done: make(chan struct{})})
	}
	cmd.Stdout, cmd.Stderr = outs[0].w, outs[len(outs)-1].w
	return outs, nil
}

// copy reads the pipe until every writer has closed it, or the grace
// after the child's exit is over.
func (o *output) copy() {
	defer close(o.done)
	defer o.r.Close() // a process still writing gets EPIPE
	buf := make([]byte, 32<<10)
	for o.arm() {
		n, err := o.r.Read(buf)
		o.read += int64(n)
		if n > 0 {
			if _, werr := o.dst.Write(buf[:n]); werr != nil {
				o.err = werr
				return
			}
		}
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) { // a deadline: arm decides
			return
		}
	}
}

// arm sets the deadline of the next read: none while the child runs or
// while what it left in the pipe is read, then the end of the grace. It
// returns false once that has passed.
func (o *output) arm() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.exited && o.owed < 0 { // no read is under way: the count is exact
		o.owed = o.read + buffered(o.r)
	}
	if o.exited && o.stopAt.IsZero() && o.read >= o.owed {
		o.stopAt = time.Now().Add(OutputGrace)
	}
	if !o.stopAt.IsZero() && !time.Now().Before(o.stopAt) {
		return false
	}
	_ = o.r.SetReadDeadline(o.stopAt)
	return true
}

// childExited tells copy that the child has exited, waking a read that
// waits for a process it left running. It returns false when the pipe
// takes no deadline, and copy cannot be woken.
func (o *output) childExited() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.exited = true
	return o.r.SetReadDeadline(time.Now()) == nil || isDone(o.done)
}

func isDone(done <-chan struct{}) bool {
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// OutputGrace is how long Run waits, once the child has exited and what it
// wrote has been passed on, for more output: a process it left running in
// the background may hold the output pipe open for much longer, and Run
// does not wait for that. What the child wrote is passed on whole however
// slowly it is read (where the system tells how much a pipe holds: Linux,
// macOS, the BSDs).
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
