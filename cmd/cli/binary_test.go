package cli

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/The-17/agentsecrets/vault"
	"github.com/The-17/agentsecrets/vault/keychain"
)

// buildBinary returns an agentsecrets executable: the copy of this test
// binary that testscript.Main puts in $PATH (it runs Main, exactly as
// cmd/agentsecrets does), or else one built with go build.
func buildBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("agentsecrets"); err == nil && strings.Contains(p, "testscript-main") {
		return p
	}
	bin := filepath.Join(t.TempDir(), "agentsecrets")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/The-17/agentsecrets/cmd/agentsecrets").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// sandbox is a home and a project directory for one test.
type sandbox struct {
	t        *testing.T
	bin      string
	home     string
	project  string
	env      []string
	captured bytes.Buffer // every stdout and stderr seen
}

func newSandbox(t *testing.T) *sandbox {
	t.Helper()
	root := t.TempDir()
	sb := &sandbox{t: t, bin: buildBinary(t), home: filepath.Join(root, "home"), project: filepath.Join(root, "proj")}
	if err := os.Mkdir(sb.project, 0o700); err != nil {
		t.Fatal(err)
	}
	sb.env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + root, "AGENTSECRETS_HOME=" + sb.home,
		"AGENTSECRETS_BACKEND=file", "AGENTSECRETS_PASSPHRASE=" + testPassphrase}
	return sb
}

func (sb *sandbox) command(stdin string, args ...string) *exec.Cmd {
	cmd := exec.Command(sb.bin, args...)
	cmd.Dir = sb.project
	cmd.Env = sb.env
	cmd.Stdin = strings.NewReader(stdin)
	// A new session without a controlling terminal.
	cmd.SysProcAttr = detachedAttr()
	return cmd
}

// run runs the binary and returns stdout, stderr and the exit code.
func (sb *sandbox) run(stdin string, args ...string) (string, string, int) {
	sb.t.Helper()
	cmd := sb.command(stdin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		sb.t.Fatalf("run %v: %v", args, err)
	}
	sb.captured.Write(stdout.Bytes())
	sb.captured.Write(stderr.Bytes())
	return stdout.String(), stderr.String(), code
}

func (sb *sandbox) mustRun(stdin string, args ...string) string {
	sb.t.Helper()
	out, errOut, code := sb.run(stdin, args...)
	if code != 0 {
		sb.t.Fatalf("agentsecrets %v: exit %d\n%s%s", args, code, out, errOut)
	}
	return out
}

// tree lists every file under the dirs with its content.
func tree(t *testing.T, dirs ...string) string {
	t.Helper()
	var b strings.Builder
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, "%s %v\n", p, d.Type())
			if d.Type().IsRegular() {
				data, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				fmt.Fprintf(&b, "%x\n", data)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// readUntil reads r into buf until it contains want or the reader ends.
func readUntil(r io.Reader, buf *lockedBuffer, want string) bool {
	p := make([]byte, 4096)
	for !strings.Contains(buf.String(), want) {
		n, err := r.Read(p)
		buf.Write(p[:n])
		if err != nil {
			return strings.Contains(buf.String(), want)
		}
	}
	return true
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) { l.mu.Lock(); l.b.Write(p); l.mu.Unlock() }
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// runOnPTY runs the binary with a pseudo-terminal as its controlling
// terminal and stdio, answers the prompt, and returns the exit code and
// everything the terminal showed.
func (sb *sandbox) runOnPTY(answer string, args ...string) (int, string) {
	sb.t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		sb.t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	cmd := exec.Command(sb.bin, args...)
	cmd.Dir, cmd.Env = sb.project, sb.env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = terminalAttr()
	if err := cmd.Start(); err != nil {
		sb.t.Fatal(err)
	}
	tty.Close()
	var shown lockedBuffer
	if !readUntil(ptmx, &shown, "to confirm: ") {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		sb.t.Fatalf("no confirmation prompt; terminal showed:\n%s", shown.String())
	}
	if _, err := io.WriteString(ptmx, answer+"\n"); err != nil {
		sb.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _, _ = io.Copy(writerFunc(shown.Write), ptmx); close(done) }()
	err = cmd.Wait()
	// The child has exited and no one else holds the terminal's other end,
	// so the copy drains what is left and ends with EIO; closing ptmx
	// before that would drop the child's last words.
	<-done
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), shown.String()
	}
	if err != nil {
		sb.t.Fatal(err)
	}
	return 0, shown.String()
}

type writerFunc func([]byte)

func (w writerFunc) Write(p []byte) (int, error) { w(p); return len(p), nil }

func TestAllowlistConfirmedOnTerminal(t *testing.T) {
	sb := newSandbox(t)
	code, shown := sb.runOnPTY("example.com", "workspace", "allowlist", "add", "example.com")
	if code != 0 || !strings.Contains(shown, "About to ADD to the domain allowlist") || !strings.Contains(shown, "  example.com") {
		t.Fatalf("add on a terminal: exit %d\n%s", code, shown)
	}
	if out := sb.mustRun("", "workspace", "allowlist", "list"); out != "example.com\n" {
		t.Fatalf("allowlist after add = %q", out)
	}

	before := tree(t, sb.home)
	code, shown = sb.runOnPTY("exampel.com", "workspace", "allowlist", "add", "api.example.com")
	if code != ExitError || !strings.Contains(shown, "confirmation did not match; nothing changed") {
		t.Fatalf("mistyped confirmation: exit %d\n%s", code, shown)
	}
	if tree(t, sb.home) != before {
		t.Fatal("a mistyped confirmation changed the home directory")
	}

	// A wildcard over a top-level domain is refused before the human is
	// asked to confirm it.
	// (Without a terminal: it is refused as bad input, not for the lack of
	// one to confirm at.)
	if _, errOut, code := sb.run("", "workspace", "allowlist", "add", "*.com"); code != ExitUsage || !strings.Contains(errOut, "top-level domain") {
		t.Fatalf("add *.com: exit %d\n%s", code, errOut)
	}
	if tree(t, sb.home) != before {
		t.Fatal("a refused wildcard changed the home directory")
	}

	code, shown = sb.runOnPTY("yes", "workspace", "allowlist", "remove", "example.com")
	if code != 0 {
		t.Fatalf("remove with yes: exit %d\n%s", code, shown)
	}
	if out := sb.mustRun("", "workspace", "allowlist", "list", "--json"); !strings.Contains(out, `"domains": []`) {
		t.Fatalf("allowlist after remove = %s", out)
	}
}

func TestAllowlistRefusedWithoutTerminal(t *testing.T) {
	sb := newSandbox(t)
	sb.mustRun("", "init")
	before := tree(t, sb.home, sb.project)
	// stdin says yes, but there is no controlling terminal to confirm on.
	_, errOut, code := sb.run("yes\nexample.com\n", "workspace", "allowlist", "add", "example.com")
	if code != ExitAuth || !strings.Contains(errOut, "allowlist changes need a human at a terminal") {
		t.Fatalf("add without a terminal: exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = sb.run("", "workspace", "allowlist", "add", "--yes", "example.com")
	if code != ExitUsage || !strings.Contains(errOut, "unknown flag: --yes") {
		t.Fatalf("add --yes: exit %d, stderr %q", code, errOut)
	}
	if tree(t, sb.home, sb.project) != before {
		t.Fatal("a refused allowlist change modified files")
	}
}

// encodings returns the forms of v that must never appear anywhere.
func encodings(v string) map[string]string {
	b := []byte(v)
	js, _ := json.Marshal(v)
	return map[string]string{
		"raw":             v,
		"base64":          base64.StdEncoding.EncodeToString(b),
		"base64 unpadded": base64.RawStdEncoding.EncodeToString(b),
		"base64url":       base64.URLEncoding.EncodeToString(b),
		"base64url raw":   base64.RawURLEncoding.EncodeToString(b),
		"hex":             hex.EncodeToString(b),
		"HEX":             strings.ToUpper(hex.EncodeToString(b)),
		"url":             url.QueryEscape(v),
		"json":            strings.Trim(string(js), `"`),
	}
}

func TestNoSecretValueAnywhere(t *testing.T) {
	sb := newSandbox(t)
	rnd := make([]byte, 18)
	_, _ = rand.Read(rnd)
	secret := "sk_live_" + base64.RawURLEncoding.EncodeToString(rnd) + "/+\"x"
	other := "second-" + hex.EncodeToString(rnd)

	sb.mustRun("", "init", "--storage-mode", "1")
	sb.mustRun(secret+"\n", "secrets", "set", "STRIPE_KEY")
	sb.mustRun(other, "secrets", "set", "--env", "production", "STRIPE_KEY")
	sb.mustRun(secret, "secrets", "set", "--env", "staging", "STRIPE_KEY")
	for _, args := range [][]string{
		{"secrets", "list"}, {"secrets", "list", "--json"},
		{"secrets", "diff", "--from", "development", "--to", "production"},
		{"secrets", "diff", "--from", "development", "--to", "staging", "--json"},
		{"status"}, {"status", "--json"}, {"environment", "list", "--json"}, {"project", "list", "--json"},
		{"secrets", "get", "STRIPE_KEY"}, {"secrets", "diff"},
	} {
		sb.run("", args...)
	}
	if !strings.Contains(sb.captured.String(), "STRIPE_KEY") {
		t.Fatal("the session printed nothing useful")
	}
	places := map[string][]byte{"captured output": sb.captured.Bytes()}
	for _, dir := range []string{sb.home, sb.project} {
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				data, _ := os.ReadFile(p)
				places[p] = data
			}
			return nil
		})
	}
	if len(places) < 5 {
		t.Fatalf("expected the home and project files to be scanned, got %d places", len(places))
	}
	for _, value := range []string{secret, other} {
		for form, enc := range encodings(value) {
			for where, data := range places {
				if bytes.Contains(data, []byte(enc)) {
					t.Errorf("%s form of a secret found in %s", form, where)
				}
			}
		}
	}
	// The vault still has the values.
	out := sb.mustRun("", "secrets", "get", "STRIPE_KEY", "--reveal-to-pipe")
	if out != secret {
		t.Fatal("stored value differs from the value set")
	}
}

func keyCount(t *testing.T) int {
	if testing.Short() {
		return 20
	}
	return 100
}

func TestConcurrentWritersLoseNothing(t *testing.T) {
	sb := newSandbox(t)
	sb.mustRun("", "init")
	n := keyCount(t)
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for _, p := range []string{"A", "B"} {
		args := []string{"secrets", "set"}
		for i := 0; i < n; i++ {
			args = append(args, fmt.Sprintf("KEY_%s_%d=value-%s-%d", p, i, p, i))
		}
		cmd := sb.command("", args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		cmds, outs = append(cmds, cmd), append(outs, &out)
	}
	for _, c := range cmds {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("writer %d: %v\n%s", i, err, outs[i])
		}
	}
	var listed struct {
		Keys []vault.KeyStatus `json:"keys"`
	}
	if err := json.Unmarshal([]byte(sb.mustRun("", "secrets", "list", "--json")), &listed); err != nil {
		t.Fatal(err)
	}
	if len(listed.Keys) != 2*n {
		t.Fatalf("listed %d keys, want %d", len(listed.Keys), 2*n)
	}
	values := readAll(t, sb)
	for _, p := range []string{"A", "B"} {
		for i := 0; i < n; i++ {
			k := fmt.Sprintf("KEY_%s_%d", p, i)
			if want := fmt.Sprintf("value-%s-%d", p, i); values[k] != want {
				t.Errorf("%s = %q, want %q", k, values[k], want)
			}
		}
	}
}

// readAll reads every listed development value of the sandbox's project
// through the vault package.
func readAll(t *testing.T, sb *sandbox) map[string]string {
	t.Helper()
	env := map[string]string{"AGENTSECRETS_HOME": sb.home, "AGENTSECRETS_BACKEND": keychain.KindFile, "AGENTSECRETS_PASSPHRASE": testPassphrase}
	s, err := vault.Open(vault.Options{Cwd: sb.project, Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, err := s.Context()
	if err != nil {
		t.Fatal(err)
	}
	names, err := s.Names(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, k := range names {
		v, err := s.Get(ctx, k)
		if err != nil {
			t.Fatalf("listed key %s has no readable value: %v", k, err)
		}
		out[k] = string(v.Bytes())
	}
	return out
}

func TestKilledWriterKeepsPreviousState(t *testing.T) {
	sb := newSandbox(t)
	sb.mustRun("", "init")
	sb.mustRun("", "secrets", "set", "EARLY_A=alpha", "EARLY_B=beta", "EARLY_C=gamma")

	args := []string{"secrets", "set"}
	for i := 0; i < 5000; i++ {
		args = append(args, fmt.Sprintf("BULK_%d=bulk-value-%d", i, i))
	}
	cmd := sb.command("", args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait (bounded) until the writer has committed some keys, then kill it.
	index := filepath.Join(sb.home, vault.IndexFile)
	for i := 0; i < 3000; i++ {
		if data, _ := os.ReadFile(index); bytes.Contains(data, []byte("\"BULK_30\"")) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()

	out := sb.mustRun("", "secrets", "list", "--json")
	for _, k := range []string{"EARLY_A", "EARLY_B", "EARLY_C"} {
		if !strings.Contains(out, `"name": "`+k+`"`) {
			t.Fatalf("%s lost after the kill:\n%s", k, out)
		}
	}
	values := readAll(t, sb)
	if values["EARLY_A"] != "alpha" || values["EARLY_B"] != "beta" || values["EARLY_C"] != "gamma" {
		t.Fatal("an earlier value changed after the kill")
	}
	bulk := 0
	for k, v := range values {
		if strings.HasPrefix(k, "BULK_") {
			bulk++
		}
		if strings.HasPrefix(k, "BULK_") && v != "bulk-value-"+strings.TrimPrefix(k, "BULK_") {
			t.Fatalf("%s holds a wrong value after the kill", k)
		}
	}
	if bulk == 5000 {
		t.Fatal("the writer finished before it was killed; the kill was not exercised")
	}
	t.Logf("killed after %d of 5000 keys were committed", bulk)
	// The vault still takes writes.
	sb.mustRun("", "secrets", "set", "AFTER_KILL=ok")
}
