package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/The-17/agentsecrets/runner/audit"
	"github.com/The-17/agentsecrets/runner/childenv"
	"github.com/The-17/agentsecrets/runner/redact"
)

// envSandbox is a project with two secrets in development and one in
// production, set through the CLI.
func envSandbox(t *testing.T) *sandbox {
	t.Helper()
	sb := newSandbox(t)
	sb.mustRun("", "init")
	sb.mustRun("", "secrets", "set", "API_KEY=sk-env-test-7c1e9a", "DB_PASSWORD=hunter2-long-value")
	sb.mustRun("", "secrets", "set", "--env", "production", "API_KEY=sk-prod-env-5d2b")
	sb.env = append(sb.env, "PARENT_VAR=kept-from-parent")
	return sb
}

func TestEnvChildSeesSecrets(t *testing.T) {
	sb := envSandbox(t)
	show := `printf '%s|%s|%s\n' "${API_KEY-unset}" "${DB_PASSWORD-unset}" "$PARENT_VAR"`
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"env", "--no-mask", "--", "sh", "-c", show}, "sk-env-test-7c1e9a|hunter2-long-value|kept-from-parent\n"},
		{[]string{"env", "--no-mask", "--only", "API_KEY", "--", "sh", "-c", show}, "sk-env-test-7c1e9a|unset|kept-from-parent\n"},
		{[]string{"--env", "production", "env", "--no-mask", "sh", "-c", show}, "sk-prod-env-5d2b|unset|kept-from-parent\n"},
	}
	for _, tt := range tests {
		out, errOut, code := sb.run("", tt.args...)
		if code != 0 || out != tt.want || !strings.Contains(errOut, "--no-mask: the command's output is not redacted") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %q", tt.args, code, out, errOut, tt.want)
		}
	}
}

func TestEnvOutputRedacted(t *testing.T) {
	sb := envSandbox(t)
	script := `printf 'raw %s\n' "$API_KEY"; printf '%s' "$API_KEY" | base64; printf 'err %s\n' "$DB_PASSWORD" >&2; printf 'ok\n'`
	out, errOut, code := sb.run("", "env", "--", "sh", "-c", script)
	b64 := base64.StdEncoding.EncodeToString([]byte("sk-env-test-7c1e9a"))
	wantOut := "raw " + redact.Replacement + "\n" + redact.Replacement + "\nok\n"
	if code != 0 || out != wantOut || errOut != "err "+redact.Replacement+"\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	for _, leak := range []string{"sk-env-test-7c1e9a", b64, "hunter2-long-value"} {
		if strings.Contains(out+errOut, leak) {
			t.Fatalf("output holds %q", leak)
		}
	}
	// The injection is audited by key name, before the command ran.
	st, err := audit.Open(filepath.Join(sb.home, audit.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows, err := st.Query(context.Background(), audit.Filter{Source: audit.SourceEnv})
	if err != nil || len(rows) != 1 || strings.Join(rows[0].Keys, ",") != "API_KEY,DB_PASSWORD" || rows[0].Reason != "run sh" {
		t.Fatalf("rows %+v, %v", rows, err)
	}
	assertNoValueInFiles(t, sb.home, "sk-env-test-7c1e9a", "hunter2-long-value")
}

func TestEnvExitStatus(t *testing.T) {
	sb := envSandbox(t)
	tests := []struct {
		script string
		code   int
	}{
		{"exit 0", 0},
		{"exit 3", 3},
		{"kill -TERM $$", 128 + int(syscall.SIGTERM)},
		{"kill -KILL $$", 128 + int(syscall.SIGKILL)},
	}
	for _, tt := range tests {
		out, errOut, code := sb.run("", "env", "--", "sh", "-c", tt.script)
		if code != tt.code || out != "" || errOut != "" {
			t.Errorf("%q: exit %d, want %d; stdout %q, stderr %q", tt.script, code, tt.code, out, errOut)
		}
	}
}

// SIGINT and SIGTERM sent to agentsecrets reach the command.
func TestEnvForwardsSignals(t *testing.T) {
	sb := envSandbox(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			script := `trap 'echo "got signal"; exit 7' INT TERM; echo ready; i=0; while [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; exit 1`
			cmd := sb.command("", "env", "--", "sh", "-c", script)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var errOut bytes.Buffer
			cmd.Stderr = &errOut
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			lines := bufio.NewScanner(stdout)
			if !lines.Scan() || lines.Text() != "ready" {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
				t.Fatalf("first line %q, stderr %q", lines.Text(), errOut.String())
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			var rest []string
			for lines.Scan() {
				rest = append(rest, lines.Text())
			}
			err = cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 7 || strings.Join(rest, "|") != "got signal" {
				t.Fatalf("wait %v, output %q, stderr %q", err, rest, errOut.String())
			}
		})
	}
}

// The command reads agentsecrets' own stdin.
func TestEnvStdinPassesThrough(t *testing.T) {
	sb := envSandbox(t)
	out, _, code := sb.run("line one\nline two\n", "env", "--", "sh", "-c", "wc -l")
	if code != 0 || strings.TrimSpace(out) != "2" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
}

// TestEnvSlowReaderGetsAllOutput: a reader that takes its time (a pager,
// a paused terminal, an agent reading the pipe late) gets all the command
// wrote before it exited, and exit 0, however long after the exit it
// reads the end.
func TestEnvSlowReaderGetsAllOutput(t *testing.T) {
	sb := envSandbox(t)
	const n = 110000 // more than the pipe to the reader and one read hold
	cmd := sb.command("", "env", "--", "sh", "-c", fmt.Sprintf("head -c %d /dev/zero; echo; echo end", n))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(4 * childenv.OutputGrace) // the command has long exited
	out, err := io.ReadAll(stdout)
	if err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if err != nil || len(out) != n+5 || !bytes.HasSuffix(out, []byte("\nend\n")) {
		t.Fatalf("wait %v, %d bytes of %d (ending %q), stderr %q", err, len(out), n+5, out[max(0, len(out)-8):], errOut.String())
	}
}

// TestEnvKeepsTheVaultClosed: the command gets the secrets asked for and
// never the vault passphrase, which would open every other secret; an
// empty --only is refused rather than read as "everything"; a value no
// environment variable can hold is skipped with a warning.
func TestEnvKeepsTheVaultClosed(t *testing.T) {
	sb := envSandbox(t)
	out, errOut, code := sb.run("", "env", "--no-mask", "--only", "API_KEY", "--", "sh", "-c", `printf '%s|%s\n' "${AGENTSECRETS_PASSPHRASE-unset}" "${DB_PASSWORD-unset}"`)
	if code != 0 || out != "unset|unset\n" {
		t.Errorf("the command saw %q (exit %d, %s)", out, code, errOut)
	}
	out, errOut, code = sb.run("", "env", "--only", "", "--", "sh", "-c", `echo "${API_KEY-unset}"`)
	if code != ExitUsage || out != "" || !strings.Contains(errOut, "--only is empty") {
		t.Errorf("--only \"\": exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	sb.mustRun("a\x00b-nul-value", "secrets", "set", "NUL_VALUE")
	out, errOut, code = sb.run("", "env", "--no-mask", "--", "sh", "-c", `printf '%s|%s\n' "${API_KEY-unset}" "${NUL_VALUE-unset}"`)
	if code != 0 || out != "sk-env-test-7c1e9a|unset\n" || !strings.Contains(errOut, "NUL_VALUE is not injected") {
		t.Errorf("with a NUL value: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	_, errOut, code = sb.run("", "env", "--only", "NUL_VALUE", "--", "true")
	if code != ExitUsage || !strings.Contains(errOut, "NUL byte") {
		t.Errorf("--only a NUL value: exit %d, stderr %q", code, errOut)
	}
}

// TestEnvSignalsWithTerminalStdin: a Ctrl-C typed on the controlling
// terminal reaches the command; a SIGINT sent to agentsecrets alone, when
// its stdin is a terminal that is not its controlling one (a new session,
// as a supervisor spawns it), is passed on rather than swallowed.
func TestEnvSignalsWithTerminalStdin(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no POSIX signals on windows")
	}
	sb := envSandbox(t)
	script := `trap 'echo "got signal"; exit 7' INT; echo ready; i=0; while [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; echo "no signal"; exit 1`
	tests := []struct {
		name       string
		controlled bool // the pty is the controlling terminal, and ^C is typed on it
	}{
		{"controlling terminal, ^C typed", true},
		{"terminal stdin in a new session, SIGINT sent", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ptmx, tty, err := pty.Open()
			if err != nil {
				t.Skipf("no pseudo-terminal: %v", err)
			}
			defer ptmx.Close()
			cmd := exec.Command(sb.bin, "env", "--", "sh", "-c", script)
			cmd.Dir, cmd.Env = sb.project, sb.env
			var shown lockedBuffer
			var out io.Reader = ptmx
			cmd.Stdin, cmd.Stdout, cmd.Stderr, cmd.SysProcAttr = tty, tty, tty, terminalAttr()
			if !tt.controlled {
				pr, pw := io.Pipe()
				cmd.Stdout, cmd.Stderr, cmd.SysProcAttr, out = pw, pw, detachedAttr(), pr
				defer pw.Close()
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			tty.Close()
			if !readUntil(out, &shown, "ready") {
				killHard(cmd.Process.Pid)
				_ = cmd.Wait()
				t.Fatalf("no ready line; output %q", shown.String())
			}
			if tt.controlled {
				_, err = ptmx.Write([]byte{3}) // ^C
			} else {
				err = cmd.Process.Signal(syscall.SIGINT)
			}
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { _, _ = io.Copy(writerFunc(shown.Write), out); close(done) }()
			err = cmd.Wait()
			if pw, ok := cmd.Stdout.(*io.PipeWriter); ok {
				pw.Close()
			}
			<-done
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 7 || !strings.Contains(shown.String(), "got signal") {
				t.Fatalf("wait %v, output %q", err, shown.String())
			}
		})
	}
}

// TestEnvRefusesVariablesThatChangeWhatRuns: a vault key named after a
// variable that decides which program, library or startup code the
// command runs (LD_PRELOAD, PATH, NODE_OPTIONS, ...) does not replace the
// command's own without --allow-override naming it; the refusal names the
// keys, never a value, and runs nothing. Allowed, each is named in a
// warning.
func TestEnvRefusesVariablesThatChangeWhatRuns(t *testing.T) {
	sb := envSandbox(t)
	const preload, nodeOpts, path = "/tmp/evil-preload-4b1d.so", "--require /tmp/evil-node-4b1d.js", "/tmp/evil-bin-4b1d"
	sb.mustRun("", "secrets", "set", "LD_PRELOAD="+preload, "NODE_OPTIONS="+nodeOpts, "PATH="+path)
	noValue := func(args []string, out, errOut string) {
		t.Helper()
		if strings.Contains(out+errOut, "4b1d") {
			t.Errorf("%v: a value is shown: stdout %q, stderr %q", args, out, errOut)
		}
	}
	refused := []struct {
		args    []string
		named   []string
		allowed string
	}{
		{[]string{"env", "--", "sh", "-c", "echo ran"}, []string{"LD_PRELOAD", "NODE_OPTIONS", "PATH"}, ""},
		{[]string{"env", "--only", "API_KEY,PATH", "--", "sh", "-c", "echo ran"}, []string{"PATH"}, ""},
		{[]string{"env", "--allow-override", "PATH", "--", "sh", "-c", "echo ran"}, []string{"LD_PRELOAD", "NODE_OPTIONS"}, "PATH"},
	}
	for _, tt := range refused {
		out, errOut, code := sb.run("", tt.args...)
		noValue(tt.args, out, errOut)
		if code != ExitUsage || out != "" || !strings.HasPrefix(errOut, "agentsecrets: error: ") ||
			!strings.Contains(errOut, "hint: ") || !strings.Contains(errOut, "--allow-override") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2, nothing run, an error and a hint", tt.args, code, out, errOut)
		}
		for _, k := range tt.named {
			if !strings.Contains(errOut, k) {
				t.Errorf("%v: the refusal does not name %s: %q", tt.args, k, errOut)
			}
		}
		if tt.allowed != "" && strings.Contains(strings.SplitN(errOut, "\n", 2)[0], tt.allowed) {
			t.Errorf("%v: the refusal names %s, which --allow-override accepted: %q", tt.args, tt.allowed, errOut)
		}
	}

	args := []string{"env", "--only", "NODE_OPTIONS,PATH", "--allow-override", "NODE_OPTIONS,PATH", "--", "/bin/sh", "-c", `echo "$PATH"`}
	out, errOut, code := sb.run("", args...)
	noValue(args, out, errOut)
	if code != 0 || out != redact.Replacement+"\n" {
		t.Fatalf("%v: exit %d, stdout %q, stderr %q; want the command run", args, code, out, errOut)
	}
	for _, k := range []string{"NODE_OPTIONS", "PATH"} {
		if !strings.Contains(errOut, "agentsecrets: warning: "+k+" replaces the command's own") {
			t.Errorf("%v: no warning naming %s: %q", args, k, errOut)
		}
	}
}
