package childenv

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/The-17/agentsecrets/runner/redact"
)

// The test binary doubles as the child: with CHILDENV_CHILD set it runs one
// of the behaviours below instead of the tests.
func TestMain(m *testing.M) {
	if mode := os.Getenv("CHILDENV_CHILD"); mode != "" {
		os.Exit(child(mode, os.Args[1:]))
	}
	os.Exit(m.Run())
}

func child(mode string, args []string) int {
	switch mode {
	case "printenv":
		for _, k := range args {
			v, ok := os.LookupEnv(k)
			fmt.Printf("%s=%q %v\n", k, v, ok)
		}
	case "argv":
		fmt.Println(strings.Join(os.Args, " "))
	case "leak":
		v := os.Getenv(args[0])
		fmt.Printf("raw: %s\n", v)
		fmt.Fprintf(os.Stderr, "b64: %s\n", base64.StdEncoding.EncodeToString([]byte(v)))
		fmt.Printf("basic: Basic %s\n", base64.StdEncoding.EncodeToString([]byte("user:"+v)))
	case "exit":
		n, _ := strconv.Atoi(args[0])
		return n
	case "killself":
		_ = signalSelf(syscall.SIGTERM)
		time.Sleep(time.Minute)
	case "trap":
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
		fmt.Println("ready")
		select {
		case sig := <-ch:
			fmt.Printf("got %v\n", sig)
			return 7
		case <-time.After(time.Minute):
			return 1
		}
	case "interleave":
		for i := range 200 {
			fmt.Fprintf(os.Stdout, "out %d\n", i)
			fmt.Fprintf(os.Stderr, "err %d\n", i)
		}
	case "background":
		// A grandchild that keeps the output pipe open for a minute, its
		// pid in args[0] for the test to kill.
		bg := exec.Command("sleep", "60")
		bg.Stdout, bg.Stderr = os.Stdout, os.Stderr
		if err := bg.Start(); err != nil {
			return 1
		}
		_ = os.WriteFile(args[0], []byte(strconv.Itoa(bg.Process.Pid)), 0o600)
		fmt.Println("started")
	case "bulk":
		// args[0] bytes in one write, then exit at once: what the parent
		// has not read yet is left in the pipe.
		n, _ := strconv.Atoi(args[0])
		_, _ = os.Stdout.Write(bytes.Repeat([]byte("x"), n))
	case "interactive":
		fmt.Println("first")
		line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
		fmt.Printf("second after %q\n", strings.TrimSpace(line))
	}
	return 0
}

func self(t *testing.T) string {
	t.Helper()
	p, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// command runs the test binary in the given mode.
func command(t *testing.T, mode string, args ...string) Command {
	return Command{Path: self(t), Args: append([]string{"child"}, args...),
		Env: append(os.Environ(), "CHILDENV_CHILD="+mode, "PARENT_ONLY=kept", "SHARED_KEY=from-parent")}
}

func run(t *testing.T, c Command) (Result, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	c.Stdout, c.Stderr = &out, &errOut
	res, err := Run(c)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res, out.String(), errOut.String()
}

func TestChildSeesSecretsAndParentEnvironment(t *testing.T) {
	c := command(t, "printenv", "API_KEY", "SHARED_KEY", "PARENT_ONLY", "UNSET_KEY")
	c.Secrets = []Var{{"API_KEY", []byte("v=1 2")}, {"SHARED_KEY", []byte("from-vault")}}
	res, out, _ := run(t, c)
	want := "API_KEY=\"v=1 2\" true\nSHARED_KEY=\"from-vault\" true\nPARENT_ONLY=\"kept\" true\nUNSET_KEY=\"\" false\n"
	if out != want || res.ExitCode != 0 {
		t.Fatalf("got %q (exit %d), want %q", out, res.ExitCode, want)
	}
}

func TestSecretsNeverInArgv(t *testing.T) {
	c := command(t, "argv", "plain-arg")
	c.Secrets = []Var{{"API_KEY", []byte("sk-argv-check-123")}}
	_, out, _ := run(t, c)
	if !strings.Contains(out, "plain-arg") || strings.Contains(out, "sk-argv-check-123") {
		t.Fatalf("argv %q", out)
	}
}

func TestOutputIsRedacted(t *testing.T) {
	secret := "sk-live-4f9a8b7c6d5e"
	for _, masked := range []bool{true, false} {
		t.Run(fmt.Sprintf("masked=%v", masked), func(t *testing.T) {
			c := command(t, "leak", "API_KEY")
			c.Secrets = []Var{{"API_KEY", []byte(secret)}}
			if masked {
				c.Mask = redact.NewSet([]byte(secret))
			}
			res, out, errOut := run(t, c)
			b64 := base64.StdEncoding.EncodeToString([]byte(secret))
			leaked := strings.Contains(out+errOut, secret) || strings.Contains(out+errOut, b64)
			if leaked == masked {
				t.Fatalf("stdout %q stderr %q", out, errOut)
			}
			if !masked {
				return
			}
			for _, want := range []string{"raw: " + redact.Replacement + "\n", "basic: Basic "} {
				if !strings.Contains(out, want) {
					t.Errorf("stdout %q lacks %q", out, want)
				}
			}
			if errOut != "b64: "+redact.Replacement+"\n" || res.Redactions != 3 {
				t.Errorf("stderr %q, %d redactions", errOut, res.Redactions)
			}
		})
	}
}

func TestExitStatus(t *testing.T) {
	tests := []struct {
		mode   string
		args   []string
		code   int
		signal syscall.Signal
	}{
		{"exit", []string{"0"}, 0, 0},
		{"exit", []string{"3"}, 3, 0},
		{"exit", []string{"255"}, 255, 0},
		{"killself", nil, 128 + int(syscall.SIGTERM), syscall.SIGTERM},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.mode, tt.args), func(t *testing.T) {
			if tt.signal != 0 && runtime.GOOS == "windows" {
				t.Skip("no POSIX signals on windows")
			}
			res, _, _ := run(t, command(t, tt.mode, tt.args...))
			if res.ExitCode != tt.code || res.Signal != tt.signal {
				t.Fatalf("got %+v, want exit %d signal %v", res, tt.code, tt.signal)
			}
		})
	}
}

// A signal sent to the parent reaches the child, which handles it.
func TestSignalsAreForwarded(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no POSIX signals on windows")
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			pr, pw := io.Pipe()
			c := command(t, "trap")
			c.Stdout, c.Stderr = pw, io.Discard
			c.Mask = redact.NewSet([]byte("some-secret-value"))
			type ran struct {
				res Result
				err error
			}
			done := make(chan ran, 1)
			go func() {
				res, err := Run(c)
				pw.Close()
				done <- ran{res, err}
			}()
			lines := bufio.NewScanner(pr)
			if !lines.Scan() || lines.Text() != "ready" {
				t.Fatalf("child said %q", lines.Text())
			}
			if err := signalSelf(sig); err != nil {
				t.Fatal(err)
			}
			var rest []string
			for lines.Scan() {
				rest = append(rest, lines.Text())
			}
			r := <-done
			if r.err != nil || r.res.ExitCode != 7 || strings.Join(rest, "|") != "got "+sig.String() {
				t.Fatalf("result %+v %v, output %q", r.res, r.err, rest)
			}
		})
	}
}

// Output reaches the parent while the child still runs.
func TestOutputIsProgressive(t *testing.T) {
	pr, pw := io.Pipe()
	inR, inW := io.Pipe()
	c := command(t, "interactive")
	c.Stdin, c.Stdout, c.Stderr = inR, pw, io.Discard
	c.Mask = redact.NewSet([]byte("another-secret-value"))
	done := make(chan error, 1)
	go func() {
		_, err := Run(c)
		pw.Close()
		done <- err
	}()
	lines := bufio.NewScanner(pr)
	if !lines.Scan() || lines.Text() != "first" {
		t.Fatalf("first line %q", lines.Text())
	}
	// The child is blocked on stdin: "first" came through before it ended.
	fmt.Fprintln(inW, "go")
	inW.Close()
	if !lines.Scan() || lines.Text() != `second after "go"` {
		t.Fatalf("second line %q", lines.Text())
	}
	for lines.Scan() {
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestEnvironRefusesWhatNoEnvironmentHolds(t *testing.T) {
	for _, v := range []Var{{"A_KEY", []byte("a\x00b")}, {"", []byte("x")}, {"A=B", []byte("x")}} {
		if _, err := Environ(nil, []Var{v}); err == nil || strings.Contains(err.Error(), "a\x00b") {
			t.Errorf("%q: error %v", v.Name, err)
		}
		if _, err := Run(Command{Path: "/bin/true", Args: []string{"true"}, Secrets: []Var{v}}); err == nil {
			t.Errorf("%q: Run started", v.Name)
		}
	}
}

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	noexec := filepath.Join(dir, "noexec")
	if err := os.WriteFile(noexec, []byte("#!/bin/sh\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want error
	}{
		{"sh", nil},
		{self(t), nil},
		{"agentsecrets-no-such-command", ErrCommandNotFound},
		{filepath.Join(dir, "missing"), ErrCommandNotFound},
		{"", ErrCommandNotFound},
		{noexec, ErrNotExecutable},
		{dir, ErrNotExecutable},
	}
	for _, tt := range tests {
		p, err := LookPath(tt.name)
		if !errors.Is(err, tt.want) || (err == nil && !filepath.IsAbs(p)) {
			t.Errorf("LookPath(%q) = %q, %v; want %v", tt.name, p, err, tt.want)
		}
	}
}

// TestAbsorbedSignalsAreNotForwarded: a signal the terminal already
// delivered to the child is absorbed, the others are passed on, in order.
func TestAbsorbedSignalsAreNotForwarded(t *testing.T) {
	forwarded, absorbed := TerminalSignals()
	ch := make(chan os.Signal, 4)
	got := make(chan os.Signal, 4)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		forward(ch, func(s os.Signal) error { got <- s; return nil }, absorbed, done)
		close(finished)
	}()
	ch <- syscall.SIGINT
	ch <- syscall.SIGQUIT
	ch <- syscall.SIGTERM
	if s := <-got; s != syscall.SIGTERM {
		t.Fatalf("first signal passed on = %v, want SIGTERM (SIGINT and SIGQUIT absorbed)", s)
	}
	close(done)
	<-finished
	if len(got) != 0 {
		t.Fatalf("more signals passed on: %v", <-got)
	}
	if !slices.Contains(forwarded, os.Signal(syscall.SIGTERM)) || slices.Contains(forwarded, os.Signal(syscall.SIGINT)) {
		t.Fatalf("TerminalSignals forwarded = %v", forwarded)
	}
}

// TestJoinedOutputKeepsOrder: when stdout and stderr are one file (2>&1, a
// terminal) the masked child writes both through one pipe, so its lines
// keep their order.
func TestJoinedOutputKeepsOrder(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := command(t, "interleave")
	c.Stdout, c.Stderr, c.Mask = f, f, redact.NewSet([]byte("sk_live_never_printed_0123"))
	if _, err := Run(c); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for i := range 200 {
		fmt.Fprintf(&want, "out %d\nerr %d\n", i, i)
	}
	if string(got) != want.String() {
		t.Errorf("joined output out of order; first lines:\n%.80s", got)
	}
}

// TestRunDoesNotWaitForBackgroundProcesses: a process the child leaves
// running may hold the output pipe; Run returns once the child has exited
// (after OutputGrace), with what the child wrote.
func TestRunDoesNotWaitForBackgroundProcesses(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	t.Cleanup(func() {
		if b, err := os.ReadFile(pidFile); err == nil {
			if pid, err := strconv.Atoi(string(b)); err == nil {
				if p, err := os.FindProcess(pid); err == nil {
					_ = p.Kill()
				}
			}
		}
	})
	c := command(t, "background", pidFile)
	c.Mask = redact.NewSet([]byte("sk_live_never_printed_0123"))
	done := make(chan struct{})
	var res Result
	var out string
	go func() {
		defer close(done)
		res, out, _ = run(t, c)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second): // the grandchild holds the pipe for 60 s
		t.Fatal("Run waited for the background process")
	}
	if res.ExitCode != 0 || out != "started\n" {
		t.Errorf("exit %d, output %q", res.ExitCode, out)
	}
}

// TestStartErrorsAreShellLike: a file that is not a program is not
// executable (126 in env), a script whose interpreter is missing is not
// found (127).
func TestStartErrorsAreShellLike(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o700); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, content string
		want          error
	}{
		{"no-shebang", "echo hi\n", ErrNotExecutable},
		{"missing-interpreter", "#!/nonexistent/interpreter\necho hi\n", ErrCommandNotFound},
	} {
		p := write(tc.name, tc.content)
		_, err := Run(Command{Path: p, Args: []string{p}, Env: os.Environ()})
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

// slowWriter is a reader that takes its time: each Write waits delay
// first (a pager, a paused terminal, an agent reading its pipe late).
type slowWriter struct {
	delay time.Duration
	buf   bytes.Buffer
}

func (w *slowWriter) Write(p []byte) (int, error) {
	time.Sleep(w.delay)
	return w.buf.Write(p)
}

// TestOutputWrittenBeforeExitIsKept: what the child wrote before it exited
// reaches a slow reader whole, however long passing it on takes; only a
// background process's output is given up on after OutputGrace.
func TestOutputWrittenBeforeExitIsKept(t *testing.T) {
	t.Run("own streams", func(t *testing.T) {
		// More than two reads take, less than one read and a pipe hold:
		// each read after the exit is passed on slower than OutputGrace.
		const n = 80 << 10
		c := command(t, "bulk", strconv.Itoa(n))
		c.Mask = redact.NewSet([]byte("sk_live_never_printed_0123"))
		out := &slowWriter{delay: 2 * OutputGrace}
		c.Stdout, c.Stderr = out, io.Discard
		res, err := Run(c)
		if err != nil || res.ExitCode != 0 {
			t.Fatalf("Run: %+v, %v", res, err)
		}
		if out.buf.Len() != n {
			t.Fatalf("the reader got %d bytes of %d", out.buf.Len(), n)
		}
	})
	t.Run("joined", func(t *testing.T) {
		// stdout and stderr one pipe, not read until after OutputGrace:
		// the child's last bytes wait in its own pipe meanwhile.
		const n = 120 << 10
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer pr.Close()
		got := make(chan int, 1)
		go func() {
			time.Sleep(3 * OutputGrace)
			b, _ := io.ReadAll(pr)
			got <- len(b)
		}()
		c := command(t, "bulk", strconv.Itoa(n))
		c.Mask = redact.NewSet([]byte("sk_live_never_printed_0123"))
		c.Stdout, c.Stderr = pw, pw
		res, err := Run(c)
		pw.Close()
		if err != nil || res.ExitCode != 0 {
			t.Fatalf("Run: %+v, %v", res, err)
		}
		if m := <-got; m != n {
			t.Fatalf("the reader got %d bytes of %d", m, n)
		}
	})
}
