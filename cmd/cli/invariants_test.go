package cli

import (
	"fmt"
	"strconv"

	"github.com/The-17/agentsecrets/runner/proxy"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoValueAcrossFrontEnds is DESIGN §7 invariant 1 over a whole session:
// every agent-facing command (call in each style, refusals, policy test,
// env, proxy logs) runs against an API that echoes the credential in every
// encoding; then every output, every file under the home and project
// directories, the audit database, and every temporary file the processes
// left behind are searched for any form of the value.
func TestNoValueAcrossFrontEnds(t *testing.T) {
	sb := callSandbox(t)
	tmp := t.TempDir()
	sb.env = append(sb.env, "TMPDIR="+tmp)
	api := newEchoServer(t)

	for _, args := range [][]string{
		{"call", "--url", api.URL + "/a", "--bearer", "API_KEY"},
		{"call", "--url", api.URL + "/b?x=1", "--query", "api_key=API_KEY", "--json"},
		{"call", "--url", api.URL + "/c", "--method", "POST", "--body", `{"a":1}`, "--body-field", "client_secret=API_KEY"},
		{"call", "--url", api.URL + "/d", "--method", "POST", "--form-field", "client_secret=API_KEY", "--json"},
		{"call", "--url", api.URL + "/e", "--header", "X-Api-Key=API_KEY", "--basic", "BASIC_KEY", "--json"},
		{"call", "--url", api.URL + "/fail", "--bearer", "API_KEY"},
		{"call", "--url", "https://not-allowed.example/x", "--bearer", "API_KEY"},
		{"call", "--url", api.URL + "/g", "--bearer", "MISSING_KEY"},
		{"policy", "test", "--url", api.URL + "/h", "--header", "X-Api-Key=API_KEY", "--basic", "BASIC_KEY"},
		{"secrets", "list", "--json"},
		{"status", "--json"},
	} {
		if _, stderr, code := sb.run("", args...); code != 0 {
			t.Logf("agentsecrets %s: exit %d: %s", strings.Join(args[:2], " "), code, stderr)
		}
	}
	_, _, code := sb.run("", "env", "--", "sh", "-c",
		`echo "raw $API_KEY"; printf %s "$API_KEY" | base64; printf %s "$API_KEY" | od -An -tx1 | tr -d ' \n'; echo; echo "err $API_KEY" >&2`)
	if code != 0 {
		t.Fatalf("env exited %d", code)
	}
	proxyOutput := runProxySession(t, sb, api.URL)
	sb.run("", "proxy", "logs", "--last", "50")
	sb.run("", "proxy", "logs", "--json")

	reqs, _ := api.requests()
	if len(reqs) < 6 {
		t.Fatalf("the API saw %d requests; the session did not run", len(reqs))
	}
	out := sb.captured.String()
	for _, want := range []string{"[REDACTED_BY_AGENTSECRETS]", "[SECRET:API_KEY]", "API_KEY", "not-allowed.example"} {
		if !strings.Contains(out, want) {
			t.Errorf("the session's output lacks %q", want)
		}
	}
	noLeak(t, "command output", out, callSecret, "svc:"+callSecret)
	noLeak(t, "proxy responses", proxyOutput, callSecret, "svc:"+callSecret)
	files := 0
	for _, dir := range []string{sb.home, sb.project, tmp} {
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return nil
			}
			data, err := os.ReadFile(p)
			if err != nil {
				t.Errorf("read %s: %v", p, err)
				return nil
			}
			files++
			noLeak(t, p, string(data), callSecret, "svc:"+callSecret)
			return nil
		})
	}
	if _, err := os.Stat(filepath.Join(sb.home, "audit.db")); err != nil {
		t.Fatalf("no audit database was written: %v", err)
	}
	if files < 6 {
		t.Fatalf("scanned only %d files", files)
	}
}

// runProxySession starts the proxy daemon, checks that its argv holds no
// value, sends it requests in several injection styles and a refused one,
// stops it, and returns every response body.
func runProxySession(t *testing.T, sb *sandbox, api string) string {
	t.Helper()
	stopDaemonOnCleanup(t, sb)
	port := freePort(t)
	sb.mustRun("", "proxy", "start", "--port", strconv.Itoa(port))
	files := proxy.Files{Dir: sb.home}
	st, err := files.Read()
	if err != nil {
		t.Fatal(err)
	}
	argv, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", st.PID))
	if err != nil {
		t.Fatalf("daemon argv: %v", err)
	}
	noLeak(t, "the daemon's argv", string(argv), callSecret, "svc:"+callSecret)
	environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", st.PID))
	if err == nil {
		noLeak(t, "the daemon's environment", string(environ), callSecret, "svc:"+callSecret)
	}
	token, err := files.Token()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for _, headers := range [][]string{
		{"X-AS-Inject-Bearer", "API_KEY"},
		{"X-AS-Inject-Query", "api_key=API_KEY", "X-AS-Inject-Header", "X-Api-Key=API_KEY"},
		{"X-AS-Inject-Basic", "BASIC_KEY"},
		{"X-AS-Inject-Bearer", "MISSING_KEY"},
	} {
		_, body := proxied(t, port, token, api+"/p", headers...)
		out.WriteString(body)
	}
	_, body := proxied(t, port, token, "https://not-allowed.example/", "X-AS-Inject-Bearer", "API_KEY")
	out.WriteString(body)
	if !strings.Contains(out.String(), "domain_not_allowed") || !strings.Contains(out.String(), "[REDACTED_BY_AGENTSECRETS]") {
		t.Fatalf("unexpected proxy answers: %s", out.String())
	}
	sb.mustRun("", "proxy", "stop")
	return out.String()
}
