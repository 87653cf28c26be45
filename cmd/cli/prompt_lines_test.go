//go:build linux

package cli

import (
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// typed is what a human types at a prompt, in one write (as a terminal
// delivers a paste).
type typed struct{ prompt, input string }

// typeOnPTY runs the binary with a pseudo-terminal as its controlling
// terminal and stdio, waits for prompt, types input there, and returns the
// exit code, what the terminal showed and how many bytes of typed input
// were left unread on the terminal when the command ended: what the shell
// would read next.
func (sb *sandbox) typeOnPTY(prompt, input string, args ...string) (code int, shown string, left int) {
	sb.t.Helper()
	return sb.typeAllOnPTY([]typed{{prompt, input}}, args...)
}

// typeAllOnPTY is typeOnPTY with several prompts answered in turn.
func (sb *sandbox) typeAllOnPTY(steps []typed, args ...string) (code int, shown string, left int) {
	sb.t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		sb.t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	cmd := exec.Command(sb.bin, args...)
	cmd.Dir, cmd.Env = sb.project, sb.env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = terminalAttr()
	if err := cmd.Start(); err != nil {
		sb.t.Fatal(err)
	}
	var out lockedBuffer
	for _, st := range steps {
		if !readUntil(ptmx, &out, st.prompt) {
			killHard(cmd.Process.Pid)
			_ = cmd.Wait()
			sb.t.Fatalf("no prompt %q; terminal showed:\n%s", st.prompt, out.String())
		}
		// A human answers once the prompt has turned echo off.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			tio, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
			if err != nil {
				sb.t.Fatal(err)
			}
			if tio.Lflag&unix.ECHO == 0 {
				break
			}
			if time.Now().After(deadline) {
				killHard(cmd.Process.Pid)
				_ = cmd.Wait()
				sb.t.Fatalf("echo still on after prompt %q", st.prompt)
			}
		}
		if _, err := io.WriteString(ptmx, st.input); err != nil {
			sb.t.Fatal(err)
		}
	}
	go func() { _, _ = io.Copy(writerFunc(out.Write), ptmx) }()
	timer := time.AfterFunc(20*time.Second, func() { killHard(cmd.Process.Pid) })
	werr := cmd.Wait()
	timer.Stop()
	// Typed input still queued on the terminal, a last line without its
	// newline included: what the shell the command returns to reads next.
	tio, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		sb.t.Fatal(err)
	}
	tio.Lflag &^= unix.ICANON | unix.ECHO
	tio.Cc[unix.VMIN], tio.Cc[unix.VTIME] = 0, 0
	if err := unix.IoctlSetTermios(int(tty.Fd()), unix.TCSETS, tio); err != nil {
		sb.t.Fatal(err)
	}
	for p := make([]byte, 256); ; {
		n, err := unix.Read(int(tty.Fd()), p)
		if n <= 0 || err != nil {
			break
		}
		left += n
	}
	time.Sleep(100 * time.Millisecond) // the last output
	var ee *exec.ExitError
	if errors.As(werr, &ee) {
		return ee.ExitCode(), out.String(), left
	}
	if werr != nil {
		sb.t.Fatal(werr)
	}
	return 0, out.String(), left
}

// TestHiddenPromptRefusesSeveralLines: a value pasted at the hidden prompt
// of secrets set that holds more than one line (a PEM key, JSON) is
// refused and stores nothing; its first line was stored as the whole value
// while the other lines were left on the terminal for the shell to run as
// commands (into its history).
func TestHiddenPromptRefusesSeveralLines(t *testing.T) {
	sb := newSandbox(t)
	sb.mustRun("", "init")
	for _, paste := range []string{"pem-first\npem-second\npem-third\n", "pem-first\npem-last-without-newline"} {
		code, shown, left := sb.typeOnPTY("(hidden): ", paste, "secrets", "set", "PEM_KEY")
		if code != ExitUsage || !strings.Contains(shown, "more than one line") {
			t.Errorf("%q pasted: exit %d, want %d and an error; terminal showed:\n%s", paste, code, ExitUsage, shown)
		}
		if left != 0 {
			t.Errorf("%q pasted: %d bytes of it were left on the terminal for the shell", paste, left)
		}
		if out := sb.mustRun("", "secrets", "list"); strings.Contains(out, "PEM_KEY") {
			t.Errorf("%q pasted: its first line was stored:\n%s", paste, out)
		}
		if strings.Contains(shown, "pem-") {
			t.Errorf("%q pasted: the terminal showed it:\n%s", paste, shown)
		}
	}

	// One line, as typed: stored.
	code, shown, left := sb.typeOnPTY("(hidden): ", "one line  \n", "secrets", "set", "ONE_KEY")
	if code != 0 || left != 0 {
		t.Fatalf("one line: exit %d, %d bytes left; terminal showed:\n%s", code, left, shown)
	}
	if out := sb.mustRun("", "secrets", "get", "ONE_KEY", "--reveal-to-pipe"); out != "one line  " {
		t.Fatalf("stored %q, want %q", out, "one line  ")
	}
}

// TestMergeRefusesSeveralLines: environment merge asks for each key in
// turn; a value of several lines pasted for one key gave it the first line
// and the next keys the following ones, each stored without a word. It is
// refused, nothing more is asked or stored, and the keys set before it are
// named.
func TestMergeRefusesSeveralLines(t *testing.T) {
	sb := newSandbox(t)
	sb.mustRun("", "init")
	sb.mustRun("", "secrets", "set", "A_KEY=a-dev", "B_KEY=b-dev", "C_KEY=c-dev")
	code, shown, left := sb.typeAllOnPTY([]typed{
		{"A_KEY value in production (empty to skip): ", "a-prod\n"},
		{"B_KEY value in production (empty to skip): ", "b-line-1\nb-line-2\n"},
	}, "environment", "merge", "development", "production")
	if code == 0 || !strings.Contains(shown, "more than one line") {
		t.Errorf("multi-line paste: exit %d, want an error; terminal showed:\n%s", code, shown)
	}
	if !strings.Contains(shown, "Set 1 secret in production (A_KEY)") {
		t.Errorf("the keys set before the error are not named; terminal showed:\n%s", shown)
	}
	if left != 0 {
		t.Errorf("%d bytes of the pasted value were left on the terminal for the shell", left)
	}
	if out := sb.mustRun("", "secrets", "get", "--env", "production", "A_KEY", "--reveal-to-pipe"); out != "a-prod" {
		t.Errorf("production A_KEY = %q, want a-prod", out)
	}
	for _, k := range []string{"B_KEY", "C_KEY"} {
		if _, _, code := sb.run("", "secrets", "get", "--env", "production", k, "--reveal-to-pipe"); code != ExitNotFound {
			t.Errorf("production %s was stored from a line of another key's paste (get exit %d)", k, code)
		}
	}
}

// TestNoTTYNeverReadsValueFromTerminal: AGENTSECRETS_NO_TTY=1 turns the
// hidden prompt off, and may only make commands refuse more. With a
// terminal on stdin, secrets set read the value from it as from a pipe:
// with echo on, with no prompt, the value shown on the screen as it was
// typed. It refuses instead, and stores nothing.
func TestNoTTYNeverReadsValueFromTerminal(t *testing.T) {
	sb := newSandbox(t)
	sb.mustRun("", "init")
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	cmd := exec.Command(sb.bin, "secrets", "set", "TYPED_KEY")
	cmd.Dir, cmd.Env = sb.project, append(append([]string{}, sb.env...), "AGENTSECRETS_NO_TTY=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = terminalAttr()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	var out lockedBuffer
	go func() { _, _ = io.Copy(writerFunc(out.Write), ptmx) }()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var werr error
	select {
	case werr = <-exited:
	case <-time.After(20 * time.Second):
		// Still waiting for stdin: type a value, as the human would.
		if _, err := io.WriteString(ptmx, "typed-value\n\x04"); err != nil {
			t.Fatal(err)
		}
		select {
		case werr = <-exited:
		case <-time.After(20 * time.Second):
			killHard(cmd.Process.Pid)
			werr = <-exited
		}
	}
	time.Sleep(100 * time.Millisecond) // the last output
	if werr == nil || !strings.Contains(out.String(), "AGENTSECRETS_NO_TTY") {
		t.Errorf("secrets set with AGENTSECRETS_NO_TTY=1 and a terminal on stdin: %v, want a refusal naming AGENTSECRETS_NO_TTY; the terminal showed:\n%s", werr, out.String())
	}
	if strings.Contains(out.String(), "typed-value") {
		t.Errorf("the value was shown on the terminal as it was typed:\n%s", out.String())
	}
	if list := sb.mustRun("", "secrets", "list"); strings.Contains(list, "TYPED_KEY") {
		t.Errorf("a value was read from the terminal and stored:\n%s", list)
	}
}

// TestHiddenPromptTakesLongValues: the terminal's line discipline keeps
// at most 4095 bytes of a line being typed (1023 on macOS) and drops the
// rest; a longer value (a JWT, a base64 key) typed or pasted at the
// hidden prompt was stored cut short, without a word. It is stored whole,
// and what a terminal sends when a line is edited or ended still works.
func TestHiddenPromptTakesLongValues(t *testing.T) {
	sb := newSandbox(t)
	sb.mustRun("", "init")
	for _, tc := range []struct{ name, typed, want string }{
		{"1500 bytes", strings.Repeat("j", 1500) + "\n", strings.Repeat("j", 1500)},
		{"5000 bytes", strings.Repeat("x", 4999) + "y\n", strings.Repeat("x", 4999) + "y"},
		{"20000 bytes ended by CR LF", strings.Repeat("z", 20000) + "\r\n", strings.Repeat("z", 20000)},
		{"backspace and ^U", "wrong\x15abX\x7fc\n", "abc"},
	} {
		code, shown, left := sb.typeOnPTY("(hidden): ", tc.typed, "secrets", "set", "LONG_KEY")
		if code != 0 || left != 0 {
			t.Errorf("%s: exit %d, %d bytes left on the terminal; it showed:\n%s", tc.name, code, left, shown)
			continue
		}
		if out := sb.mustRun("", "secrets", "get", "LONG_KEY", "--reveal-to-pipe"); out != tc.want {
			t.Errorf("%s: stored %d bytes, want %d (%q...)", tc.name, len(out), len(tc.want), out[:min(len(out), 20)])
		}
	}
}

// TestHiddenPromptInterruptRestoresEcho: ^C at a hidden prompt ends the
// command and leaves the terminal as it was, echoing; it was left without
// echo (what is typed next at a program reading the terminal not shown).
func TestHiddenPromptInterruptRestoresEcho(t *testing.T) {
	sb := newSandbox(t)
	sb.mustRun("", "init")
	sb.mustRun("", "secrets", "set", "A_KEY=a-dev")
	for _, args := range [][]string{
		{"secrets", "set", "NEW_KEY"},
		{"environment", "merge", "development", "production"},
	} {
		ptmx, tty, err := pty.Open()
		if err != nil {
			t.Skipf("no pseudo-terminal: %v", err)
		}
		before, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(sb.bin, args...)
		cmd.Dir, cmd.Env = sb.project, sb.env
		cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
		cmd.SysProcAttr = terminalAttr()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var out lockedBuffer
		readUntil(ptmx, &out, ": ")
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			tio, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
			if err != nil {
				t.Fatal(err)
			}
			if tio.Lflag&unix.ECHO == 0 {
				break
			}
		}
		go func() { _, _ = io.Copy(writerFunc(out.Write), ptmx) }()
		if _, err := ptmx.Write([]byte{3}); err != nil { // ^C
			t.Fatal(err)
		}
		timer := time.AfterFunc(20*time.Second, func() { killHard(cmd.Process.Pid) })
		werr := cmd.Wait()
		timer.Stop()
		after, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
		if err != nil {
			t.Fatal(err)
		}
		if werr == nil {
			t.Errorf("%v: ^C at the prompt, and the command succeeded", args)
		}
		if after.Lflag != before.Lflag || after.Iflag != before.Iflag {
			t.Errorf("%v: ^C at the hidden prompt left the terminal changed (echo on: %v); it showed:\n%s",
				args, after.Lflag&unix.ECHO != 0, out.String())
		}
		tty.Close()
		ptmx.Close()
	}
}
