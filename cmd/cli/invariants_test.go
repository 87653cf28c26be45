package cli

import (
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
