package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/The-17/agentsecrets/runner/audit"
	"github.com/The-17/agentsecrets/vault"
	"github.com/The-17/agentsecrets/vault/openclaw"
)

// execResponse is the exec reply as OpenClaw reads it.
type execResponse struct {
	ProtocolVersion *int                        `json:"protocolVersion"`
	Values          map[string]string           `json:"values"`
	Errors          map[string]openclaw.IDError `json:"errors"`
}

// execHome makes a home with project "app" active (development) holding
// OPENAI_KEY and STRIPE_KEY, production STRIPE_KEY, and project "other"
// (staging) holding DB_URL, through the vault as the CLI uses it.
func execHome(t *testing.T) (home string, getenv func(string) string) {
	t.Helper()
	home = filepath.Join(t.TempDir(), "home")
	dir := filepath.Join(t.TempDir(), "app")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"AGENTSECRETS_HOME": home, "AGENTSECRETS_BACKEND": "file", "AGENTSECRETS_PASSPHRASE": testPassphrase}
	getenv = func(k string) string { return env[k] }
	s, err := vault.Open(vault.Options{Cwd: dir, Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	ctx, err := s.Init(vault.InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.CreateProject("other", ""))
	must(s.Set(ctx, "OPENAI_KEY", []byte("sk-dev-openai-0001")))
	must(s.Set(ctx, "STRIPE_KEY", []byte("sk_test_stripe_0002")))
	must(s.Set(ctx.WithEnvironment(vault.Production), "STRIPE_KEY", []byte("sk_live_stripe_0003")))
	must(s.Set(ctx.WithProject("other").WithEnvironment(vault.Staging), "DB_URL", []byte(`postgres://u:"p"@db/0004`)))
	return home, getenv
}

// runExec runs `agentsecrets args...` in process with stdin.
func runExec(t *testing.T, getenv func(string) string, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Run(args, NewIOStreams(strings.NewReader(stdin), &out, &errOut, getenv), getenv)
	return out.String(), errOut.String(), code
}

func decodeExec(t *testing.T, out string) execResponse {
	t.Helper()
	var r execResponse
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("stdout %q: %v", out, err)
	}
	if r.ProtocolVersion == nil || *r.ProtocolVersion != 1 || r.Values == nil {
		t.Fatalf("stdout %q: protocolVersion 1 and values required", out)
	}
	return r
}

func TestExecProtocol(t *testing.T) {
	_, getenv := execHome(t)
	noPass := func(k string) string {
		if k == "AGENTSECRETS_PASSPHRASE" {
			return ""
		}
		return getenv(k)
	}
	tests := []struct {
		name       string
		args       []string
		getenv     func(string) string
		stdin      string
		wantValues map[string]string
		wantErrors map[string]string // id -> code
	}{
		{name: "every id form", stdin: `{"protocolVersion":1,"provider":"agentsecrets","ids":["OPENAI_KEY","production/STRIPE_KEY","other/staging/DB_URL","app/development/STRIPE_KEY"]}`,
			wantValues: map[string]string{"OPENAI_KEY": "sk-dev-openai-0001", "production/STRIPE_KEY": "sk_live_stripe_0003",
				"other/staging/DB_URL": `postgres://u:"p"@db/0004`, "app/development/STRIPE_KEY": "sk_test_stripe_0002"}},
		{name: "missing and invalid ids are per-id errors", stdin: `{"protocolVersion":1,"provider":"agentsecrets","ids":["OPENAI_KEY","MISSING_KEY","staging/OPENAI_KEY","nope/production/A_KEY","openai_key","qa/A_KEY","a/b/c/d","-x"]}`,
			wantValues: map[string]string{"OPENAI_KEY": "sk-dev-openai-0001"},
			wantErrors: map[string]string{"MISSING_KEY": "NOT_FOUND", "staging/OPENAI_KEY": "NOT_FOUND", "nope/production/A_KEY": "NOT_FOUND",
				"openai_key": "INVALID_ID", "qa/A_KEY": "INVALID_ID", "a/b/c/d": "INVALID_ID", "-x": "INVALID_ID"}},
		{name: "empty ids", stdin: `{"protocolVersion":1,"provider":"agentsecrets","ids":[]}`, wantValues: map[string]string{}},
		{name: "--project and --env", args: []string{"--project", "other", "--env", "staging"},
			stdin:      `{"protocolVersion":1,"ids":["DB_URL","OPENAI_KEY","app/development/OPENAI_KEY"]}`,
			wantValues: map[string]string{"DB_URL": `postgres://u:"p"@db/0004`, "app/development/OPENAI_KEY": "sk-dev-openai-0001"},
			wantErrors: map[string]string{"OPENAI_KEY": "NOT_FOUND"}},
		{name: "--env alone", args: []string{"--env", "production"}, stdin: `{"protocolVersion":1,"ids":["STRIPE_KEY"]}`,
			wantValues: map[string]string{"STRIPE_KEY": "sk_live_stripe_0003"}},
		{name: "no passphrase: locked, never a prompt", getenv: noPass, stdin: `{"protocolVersion":1,"ids":["OPENAI_KEY","STRIPE_KEY","MISSING_KEY"]}`,
			wantValues: map[string]string{}, wantErrors: map[string]string{"OPENAI_KEY": "VAULT_LOCKED", "STRIPE_KEY": "VAULT_LOCKED", "MISSING_KEY": "NOT_FOUND"}},
		{name: "unknown project in --project", args: []string{"--project", "ghost"}, stdin: `{"protocolVersion":1,"ids":["A_KEY"]}`,
			wantValues: map[string]string{}, wantErrors: map[string]string{"A_KEY": "NOT_FOUND"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := tt.getenv
			if env == nil {
				env = getenv
			}
			out, errOut, code := runExec(t, env, tt.stdin, append([]string{"exec"}, tt.args...)...)
			if code != 0 || errOut != "" {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			r := decodeExec(t, out)
			if fmt.Sprint(r.Values) != fmt.Sprint(tt.wantValues) {
				t.Errorf("values %v, want %v", r.Values, tt.wantValues)
			}
			got := map[string]string{}
			for id, e := range r.Errors {
				got[id] = e.Code
				if e.Message == "" {
					t.Errorf("%s: empty message", id)
				}
				for _, v := range []string{"sk-dev-openai-0001", "sk_test_stripe_0002", "sk_live_stripe_0003", "0004"} {
					if strings.Contains(e.Message, v) {
						t.Errorf("%s: message %q holds a value", id, e.Message)
					}
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.wantErrors) && !(len(got) == 0 && tt.wantErrors == nil) {
				t.Errorf("errors %v, want %v", got, tt.wantErrors)
			}
			if tt.wantErrors == nil && strings.Contains(out, `"errors"`) {
				t.Errorf("stdout %q has an errors member", out)
			}
		})
	}
}

// The hints name only what the provider config can lack on that system:
// the Secret Service's bus exists on Linux alone.
func TestAddExecHints(t *testing.T) {
	tests := []struct {
		name, goos, code string
		env              map[string]string
		want             string
	}{
		{"linux keychain without bus", "linux", openclaw.CodeUnavailable, nil, "add DBUS_SESSION_BUS_ADDRESS"},
		{"linux keychain with bus", "linux", openclaw.CodeUnavailable, map[string]string{"DBUS_SESSION_BUS_ADDRESS": "unix:path=/b"}, ""},
		{"macos keychain", "darwin", openclaw.CodeUnavailable, nil, ""},
		{"windows credential manager", "windows", openclaw.CodeUnavailable, nil, ""},
		{"file without passphrase", "darwin", openclaw.CodeLocked, nil, "add AGENTSECRETS_PASSPHRASE"},
		{"wrong passphrase", "linux", openclaw.CodeLocked, map[string]string{"AGENTSECRETS_PASSPHRASE": "x"}, ""},
		{"not found", "linux", openclaw.CodeNotFound, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := openclaw.Response{Errors: map[string]openclaw.IDError{"K": {Code: tt.code, Message: "m"}}}
			addExecHints(resp, func(k string) string { return tt.env[k] }, tt.goos)
			got := resp.Errors["K"].Message
			if tt.want == "" && got != "m" || tt.want != "" && !strings.Contains(got, tt.want) {
				t.Errorf("message %q, want %q", got, tt.want)
			}
		})
	}
}

// Unusable requests: a one-line error, nothing on stdout, exit 2.
func TestExecUnusableRequest(t *testing.T) {
	_, getenv := execHome(t)
	tests := []struct{ name, stdin, errText string }{
		{"empty stdin", "", "empty request"},
		{"blank stdin", "\n  \n", "empty request"},
		{"malformed JSON", `{"protocolVersion":1,"ids":[`, "malformed request"},
		{"not an object", `["OPENAI_KEY"]`, "malformed request: not a JSON object"},
		{"trailing garbage", `{"protocolVersion":1,"ids":[]}x`, "malformed request"},
		{"unknown protocol version", `{"protocolVersion":2,"ids":["OPENAI_KEY"]}`, "unsupported protocol version 2"},
		{"missing protocol version", `{"ids":["OPENAI_KEY"]}`, "protocolVersion is missing"},
		{"missing ids", `{"protocolVersion":1,"provider":"agentsecrets"}`, "ids is missing"},
		{"ids not an array", `{"protocolVersion":1,"ids":"OPENAI_KEY"}`, "ids is not an array"},
		{"id not a string", `{"protocolVersion":1,"ids":["OPENAI_KEY",{"id":1}]}`, "ids[1] is not a string"},
		{"oversize input", `{"protocolVersion":1,"ids":["` + strings.Repeat("K", openclaw.MaxRequestBytes) + `"]}`, "request too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runExec(t, getenv, tt.stdin, "exec")
			if code != ExitUsage || out != "" {
				t.Fatalf("exit %d, stdout %q", code, out)
			}
			if strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "agentsecrets: error: openclaw: ") || !strings.Contains(errOut, tt.errText) {
				t.Fatalf("stderr %q, want one line with %q", errOut, tt.errText)
			}
		})
	}
	// A provider config whose args can never work: one line too, the hint
	// inside it.
	for _, tt := range []struct {
		args    []string
		errText string // with the hint "agentsecrets exec --help" but for the vault's own errors
	}{
		{[]string{"exec", "--env", "bogus"}, "unknown environment"},
		{[]string{"exec", "--project", "../x"}, "invalid project name"},
		{[]string{"exec", "--env="}, "--env is empty"},
		{[]string{"exec", "extra"}, "takes no arguments"},
		{[]string{"exec", "--bogus"}, "unknown flag (7 characters)"},
		{[]string{"exec", "--project"}, "needs an argument"},
		{[]string{"exec", "--json"}, "unknown flag: --json"},
	} {
		out, errOut, code := runExec(t, getenv, `{"protocolVersion":1,"ids":["OPENAI_KEY"]}`, tt.args...)
		hinted := strings.Contains(errOut, "(agentsecrets exec --help)") || strings.Contains(errOut, "vault: ")
		if code != ExitUsage || out != "" || strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "agentsecrets: error: ") ||
			!strings.Contains(errOut, tt.errText) || !hinted {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2, nothing, one line with %q and the hint", tt.args, code, out, errOut, tt.errText)
		}
	}
}

// Every resolution is audited by key name; no value reaches the database.
func TestExecAudited(t *testing.T) {
	home, getenv := execHome(t)
	out, _, code := runExec(t, getenv, `{"protocolVersion":1,"provider":"agentsecrets","ids":["OPENAI_KEY","production/STRIPE_KEY","MISSING_KEY","bad id"]}`, "exec")
	if code != 0 || len(decodeExec(t, out).Values) != 2 {
		t.Fatalf("exit %d: %s", code, out)
	}
	st, err := audit.Open(filepath.Join(home, audit.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows, err := st.Query(context.Background(), audit.Filter{Source: audit.SourceExec})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		got = append(got, fmt.Sprintf("%s %s %s/%s %v %s %s", r.Agent, r.Workspace, r.Project, r.Environment, r.Keys, r.Decision, r.Reason))
	}
	want := []string{
		"openclaw:agentsecrets default app/development [OPENAI_KEY] ok ",
		"openclaw:agentsecrets default app/production [STRIPE_KEY] ok ",
		"openclaw:agentsecrets default app/development [MISSING_KEY] error NOT_FOUND",
		"openclaw:agentsecrets default / [(invalid id: 6 bytes, sha256:4b2d2ff66c98)] error INVALID_ID",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rows\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if v, err := st.Verify(context.Background()); err != nil || !v.OK {
		t.Fatalf("verify: %+v %v", v, err)
	}
	assertNoValueInFiles(t, home, "sk-dev-openai-0001", "sk_live_stripe_0003")
}

// The audit ends inside the answer budget: OpenClaw kills the provider at
// 5 s, so a resolution that took until the read deadline leaves the audit
// only what is left until execAnswerBy, not a full execAuditTimeout. Past
// the budget the audit fails at once (and values are withheld).
func TestExecAuditWithinAnswerBudget(t *testing.T) {
	_, getenv := execHome(t)
	f := &Factory{IO: NewIOStreams(strings.NewReader(""), io.Discard, io.Discard, getenv), Getenv: getenv}
	defer f.CloseAudit()
	outcomes := []openclaw.Outcome{{Workspace: "default", Project: "app", Environment: "development", Keys: []string{"OPENAI_KEY"}}}
	if err := f.execAuditor(time.Now())(context.Background(), "agentsecrets", outcomes); err != nil {
		t.Fatalf("audit within the budget: %v", err)
	}
	spent := time.Now().Add(-execAnswerBy - time.Millisecond)
	if err := f.execAuditor(spent)(context.Background(), "agentsecrets", outcomes); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("audit after the budget: %v, want a deadline error", err)
	}
	if d := execAuditDeadline(spent.Add(execDeadline), spent); !d.Equal(spent.Add(execAnswerBy)) {
		t.Errorf("deadline %v after start, want %v", d.Sub(spent), execAnswerBy)
	}
	if execDeadline+execAuditTimeout <= execAnswerBy || execAnswerBy >= 5*time.Second {
		t.Errorf("read deadline %v, audit timeout %v, answer budget %v: the budget must cut the audit short and end before OpenClaw's 5 s",
			execDeadline, execAuditTimeout, execAnswerBy)
	}
}

// assertNoValueInFiles greps every audit file under home for the values in
// every encoding (raw, base64, hex, URL, JSON-escaped).
func assertNoValueInFiles(t *testing.T, home string, values ...string) {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(home, audit.FileName+"*"))
	if len(matches) == 0 {
		t.Fatal("no audit database")
	}
	for _, p := range matches {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if found := valueFormsIn(data, values...); len(found) > 0 {
			t.Fatalf("%s holds a value (%s)", p, strings.Join(found, ", "))
		}
	}
}

// valueFormsIn names the encodings of the values found in data.
func valueFormsIn(data []byte, values ...string) []string {
	var found []string
	for _, v := range values {
		for form, enc := range encodings(v) {
			if bytes.Contains(data, []byte(enc)) {
				found = append(found, form)
			}
		}
	}
	sort.Strings(found)
	return found
}

// TestValueFormsInSeesEachEncoding: the audit-file check sees each form a
// value could be stored in, not only the raw one.
func TestValueFormsInSeesEachEncoding(t *testing.T) {
	const v = `sk_live_"q+/=&é9xYz`
	for form, enc := range encodings(v) {
		data := []byte("SQLite format 3\x00" + enc + "\x00rest")
		if found := valueFormsIn(data, "unrelated-value", v); !slices.Contains(found, form) {
			t.Errorf("%s form planted, found %v", form, found)
		}
	}
	if found := valueFormsIn([]byte("API_KEY [REDACTED_BY_AGENTSECRETS]"), v); len(found) > 0 {
		t.Errorf("false positive: %v", found)
	}
}

// agentsecretsBinary is the binary exec is spawned as: the copy of this test
// binary testscript puts in $PATH (it runs Main under that name), or a build.
func agentsecretsBinary(tb testing.TB) string {
	tb.Helper()
	if p, err := exec.LookPath("agentsecrets"); err == nil && strings.Contains(p, "testscript-main") {
		return p
	}
	bin := filepath.Join(tb.TempDir(), "agentsecrets")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/The-17/agentsecrets/cmd/agentsecrets").CombinedOutput()
	if err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// installCopy copies the binary into a folder of its own, as a regular file
// (OpenClaw refuses symlinks) writable by its owner only.
func installCopy(tb testing.TB, src string) string {
	tb.Helper()
	dst := filepath.Join(tb.TempDir(), "bin", "agentsecrets")
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		tb.Fatal(err)
	}
	in, err := os.Open(src)
	if err != nil {
		tb.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		tb.Fatal(err)
	}
	if err := out.Close(); err != nil {
		tb.Fatal(err)
	}
	return dst
}

// spawnLikeOpenClaw runs bin the way OpenClaw's exec provider does: absolute
// path, no shell, working directory the binary's folder, an environment of
// exactly env, stdin a pipe carrying the request, no terminal (a new
// session without a controlling one).
func spawnLikeOpenClaw(tb testing.TB, bin string, env []string, request string, args ...string) (string, string, int) {
	tb.Helper()
	if !filepath.IsAbs(bin) {
		tb.Fatalf("%s is not absolute", bin)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = filepath.Dir(bin)
	cmd.Env = env
	cmd.SysProcAttr = detachedAttr()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	_, _ = io.WriteString(stdin, request)
	stdin.Close()
	err = cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		tb.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

func TestExecSpawnedLikeOpenClaw(t *testing.T) {
	sb := newSandbox(t)
	sb.bin = agentsecretsBinary(t)
	// Set up through the CLI: init makes "proj" the active project in the
	// global config; a second project is then made active with project use.
	sb.mustRun("", "init")
	sb.mustRun("", "secrets", "set", "OPENAI_KEY=sk-proj-dev-9001", "STRIPE_KEY=sk_test_9002")
	sb.mustRun("", "secrets", "set", "--env", "production", "STRIPE_KEY=sk_live_9003")
	sb.mustRun("", "project", "create", "agents")
	sb.mustRun("", "secrets", "set", "--project", "agents", "ANTHROPIC_KEY=sk-ant-9004")
	sb.mustRun("", "project", "use", "agents")

	bin := installCopy(t, sb.bin)
	env := []string{"AGENTSECRETS_HOME=" + sb.home, "AGENTSECRETS_BACKEND=file", "AGENTSECRETS_PASSPHRASE=" + testPassphrase}
	request := `{"protocolVersion":1,"provider":"agentsecrets","ids":["ANTHROPIC_KEY","proj/development/OPENAI_KEY","proj/production/STRIPE_KEY","OPENAI_KEY"]}`
	out, errOut, code := spawnLikeOpenClaw(t, bin, env, request, "exec")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	r := decodeExec(t, out)
	want := map[string]string{"ANTHROPIC_KEY": "sk-ant-9004", "proj/development/OPENAI_KEY": "sk-proj-dev-9001", "proj/production/STRIPE_KEY": "sk_live_9003"}
	if fmt.Sprint(r.Values) != fmt.Sprint(want) || r.Errors["OPENAI_KEY"].Code != "NOT_FOUND" || len(r.Errors) != 1 {
		t.Fatalf("got %+v", r)
	}

	// The args a provider config can pin: exec --project P --env E.
	out, errOut, code = spawnLikeOpenClaw(t, bin, env, `{"protocolVersion":1,"provider":"agentsecrets","ids":["STRIPE_KEY"]}`,
		"exec", "--project", "proj", "--env", "production")
	if r := decodeExec(t, out); code != 0 || errOut != "" || r.Values["STRIPE_KEY"] != "sk_live_9003" {
		t.Fatalf("exit %d, stderr %q, %+v", code, errOut, r)
	}

	// Unusable request: one line on stderr, nothing on stdout.
	out, errOut, code = spawnLikeOpenClaw(t, bin, env, `{"protocolVersion":3,"ids":["STRIPE_KEY"]}`, "exec")
	if code == 0 || out != "" || strings.Count(errOut, "\n") != 1 {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	assertNoValueInFiles(t, sb.home, "sk-ant-9004", "sk-proj-dev-9001", "sk_live_9003")
}

// On the Secret Service (under scripts/with-keyring.sh) the provider needs
// only the bus address besides a non-default home: the backend kind is the
// one recorded at init.
func TestExecSpawnedLikeOpenClawKeychain(t *testing.T) {
	if os.Getenv("AGENTSECRETS_TEST_SECRET_SERVICE") != "1" {
		t.Skip("needs a Secret Service: run under scripts/with-keyring.sh")
	}
	sb := newSandbox(t)
	sb.bin = agentsecretsBinary(t)
	bus := "DBUS_SESSION_BUS_ADDRESS=" + os.Getenv("DBUS_SESSION_BUS_ADDRESS")
	sb.env = []string{"PATH=" + os.Getenv("PATH"), "AGENTSECRETS_HOME=" + sb.home, "AGENTSECRETS_BACKEND=keychain", bus}
	sb.mustRun("", "init")
	sb.mustRun("", "secrets", "set", "OPENAI_KEY=sk-keychain-exec-8001")
	bin := installCopy(t, sb.bin)
	out, errOut, code := spawnLikeOpenClaw(t, bin, []string{"AGENTSECRETS_HOME=" + sb.home, bus},
		`{"protocolVersion":1,"provider":"agentsecrets","ids":["OPENAI_KEY","MISSING_KEY"]}`, "exec")
	r := decodeExec(t, out)
	if code != 0 || errOut != "" || r.Values["OPENAI_KEY"] != "sk-keychain-exec-8001" || r.Errors["MISSING_KEY"].Code != "NOT_FOUND" {
		t.Fatalf("exit %d, stderr %q, %+v", code, errOut, r)
	}
}

// With neither HOME nor AGENTSECRETS_HOME the home comes from the user
// database. An empty batch touches nothing there, so the user's own home is
// only read; vault.TestHomeDir covers the lookup itself.
func TestExecWithoutHome(t *testing.T) {
	u, err := user.Current()
	if err != nil || u.HomeDir == "" {
		t.Skipf("no user database entry: %v", err)
	}
	bin := installCopy(t, agentsecretsBinary(t))
	out, errOut, code := spawnLikeOpenClaw(t, bin, []string{"AGENTSECRETS_BACKEND=file"}, `{"protocolVersion":1,"provider":"agentsecrets","ids":[]}`, "exec")
	if code != 0 || errOut != "" || out != `{"protocolVersion":1,"values":{}}`+"\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// BenchmarkExecProcess100 spawns the binary as OpenClaw does with a batch of
// 100 ids, on the encrypted file (whose Argon2id key derivation costs ~100 ms
// per process by design) and, under scripts/with-keyring.sh, on the Secret
// Service.
func BenchmarkExecProcess100(b *testing.B) {
	bin := installCopy(b, agentsecretsBinary(b))
	backends := []string{"file"}
	if os.Getenv("AGENTSECRETS_TEST_SECRET_SERVICE") == "1" {
		backends = append(backends, "keychain")
	}
	for _, backend := range backends {
		b.Run(backend, func(b *testing.B) {
			home, dir := filepath.Join(b.TempDir(), "home"), filepath.Join(b.TempDir(), "app")
			if err := os.Mkdir(dir, 0o700); err != nil {
				b.Fatal(err)
			}
			env := []string{"AGENTSECRETS_HOME=" + home, "AGENTSECRETS_BACKEND=" + backend, "AGENTSECRETS_PASSPHRASE=" + testPassphrase}
			for _, k := range []string{"DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR"} {
				if v := os.Getenv(k); v != "" {
					env = append(env, k+"="+v)
				}
			}
			setup := func(args ...string) {
				cmd := exec.Command(bin, args...)
				cmd.Dir, cmd.Env = dir, env
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("%v: %v\n%s", args, err, out)
				}
			}
			setup("init")
			args, ids := []string{"secrets", "set"}, make([]string, 0, 100)
			for i := range 100 {
				k := fmt.Sprintf("KEY_%03d", i)
				args = append(args, fmt.Sprintf("%s=value-%d-abcdefghijklmnop", k, i))
				ids = append(ids, k)
			}
			setup(args...)
			idsJSON, _ := json.Marshal(ids)
			request := `{"protocolVersion":1,"provider":"agentsecrets","ids":` + string(idsJSON) + `}`
			b.ResetTimer()
			for b.Loop() {
				out, errOut, code := spawnLikeOpenClaw(b, bin, env, request, "exec")
				if code != 0 || strings.Count(out, "value-") != 100 {
					b.Fatalf("exit %d, stderr %q", code, errOut)
				}
			}
		})
	}
}

// TestIsOpenClawProvider checks the written-out alias rule against
// OpenClaw's pattern on every short string of edge characters and around
// the length limit.
func TestIsOpenClawProvider(t *testing.T) {
	pattern := regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)
	chars := []string{"a", "z", "0", "9", "_", "-", "A", ".", " ", "é", "/"}
	var inputs []string
	for _, a := range append([]string{""}, chars...) {
		for _, b := range append([]string{""}, chars...) {
			for _, c := range append([]string{""}, chars...) {
				inputs = append(inputs, a+b+c)
			}
		}
	}
	for _, n := range []int{63, 64, 65} {
		inputs = append(inputs, strings.Repeat("a", n), "a"+strings.Repeat("-", n-1))
	}
	for _, s := range inputs {
		if got, want := isOpenClawProvider(s), pattern.MatchString(s); got != want {
			t.Errorf("isOpenClawProvider(%q) = %v, the pattern says %v", s, got, want)
		}
	}
}

// TestExecOddIDsInLogTable: whoever runs exec (OpenClaw, or an agent with
// a shell) chooses the ids. One that cannot be parsed is recorded by its
// length and hash only, so it can neither forge a row of the proxy logs
// table (a newline, a tab) nor drive the terminal of the human reading the
// log (ESC sequences that erase lines, a bidi override).
func TestExecOddIDsInLogTable(t *testing.T) {
	_, getenv := execHome(t)
	id := "A\n2026-01-01 00:00:00  forged  development  GET  https://api.example/  STRIPE_KEY\x1b[1A\x1b[2K\tX\u202e"
	req, err := json.Marshal(map[string]any{"protocolVersion": 1, "provider": "agentsecrets", "ids": []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	if out, _, code := runExec(t, getenv, string(req), "exec"); code != 0 || decodeExec(t, out).Errors[id].Code != openclaw.CodeInvalidID {
		t.Fatalf("exec exit %d: %s", code, out)
	}
	out, errOut, code := runExec(t, getenv, "", "proxy", "logs")
	if code != 0 {
		t.Fatalf("proxy logs exit %d: %s", code, errOut)
	}
	if lines := strings.Split(strings.TrimRight(out, "\n"), "\n"); len(lines) != 2 {
		t.Errorf("%d lines for one row:\n%s", len(lines), out)
	}
	if strings.ContainsAny(out, "\x1b\t\u202e") {
		t.Errorf("control characters reach the table: %q", out)
	}
	if !strings.Contains(out, openclaw.InvalidIDLabel(id)) || strings.Contains(out, "forged") {
		t.Errorf("the id is not named by its label alone: %q", out)
	}
}
