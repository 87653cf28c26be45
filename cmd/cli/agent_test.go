package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/The-17/agentsecrets/runner/audit"
	"github.com/The-17/agentsecrets/runner/proxy"
	"github.com/The-17/agentsecrets/vault"
)

func (s *echoServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reqs)
}

// TestAgentTokenThroughProxy issues tokens with the CLI, uses them through a
// started proxy, revokes one and sees it refused after proxy sync and after
// a restart, with the token id (never the token) in the audit log.
func TestAgentTokenThroughProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	sb := callSandbox(t)
	stopDaemonOnCleanup(t, sb)
	api := newEchoServer(t)
	port := freePort(t)
	files := proxy.Files{Dir: sb.home}

	var first issuedJSON
	if err := json.Unmarshal([]byte(sb.mustRun("", "agent", "token", "issue", "billing-tool", "--json")), &first); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(first.Token, vault.TokenPrefix) || !strings.HasPrefix(first.ID, vault.TokenIDPrefix) {
		t.Fatalf("issued %q", first.ID)
	}
	start := func() string {
		t.Helper()
		sb.mustRun("", "proxy", "start", "--port", strconv.Itoa(port))
		tok, err := files.Token()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	session := start()
	call := func(path, agentToken string) (int, string) {
		t.Helper()
		return proxied(t, port, session, api.URL+path, "X-AS-Inject-Bearer", "API_KEY", "X-AS-Agent-Token", agentToken)
	}
	wantRefused := func(what, agentToken string) {
		t.Helper()
		before := api.count()
		status, body := call("/refused", agentToken)
		if status != 401 || !strings.Contains(body, `"agent_token_invalid"`) {
			t.Errorf("%s: %d %s", what, status, body)
		}
		if api.count() != before {
			t.Errorf("%s: the upstream was called", what)
		}
	}

	if status, body := call("/first", first.Token); status != 200 {
		t.Fatalf("issued token: %d %s", status, body)
	}
	wantRefused("unknown token", "ast_"+strings.Repeat("Q", 43))
	// A token issued while the proxy runs works without a sync.
	second := strings.TrimSpace(sb.mustRun("", "agent", "token", "issue", "billing-tool"))
	if status, body := call("/second", second); status != 200 {
		t.Fatalf("token issued while running: %d %s", status, body)
	}

	out := sb.mustRun("", "agent", "token", "revoke", "billing-tool", first.ID)
	if !strings.Contains(out, "proxy sync") {
		t.Errorf("revoke output: %q", out)
	}
	if out := sb.mustRun("", "proxy", "sync"); !strings.Contains(out, "agent tokens") {
		t.Errorf("sync output: %q", out)
	}
	wantRefused("revoked token after sync", first.Token)
	if status, _ := call("/second-after-sync", second); status != 200 {
		t.Errorf("the other token after sync: %d", status)
	}

	sb.mustRun("", "proxy", "stop")
	session = start()
	wantRefused("revoked token after a restart", first.Token)
	sb.mustRun("", "proxy", "stop")

	out = sb.mustRun("", "proxy", "logs", "--json", "--agent", "token:"+first.ID)
	var rows []logEntry
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Agent != "token:"+first.ID {
		t.Errorf("audit rows of token:%s: %s", first.ID, out)
	}

	// The agent's name finds the calls of all its tokens.
	out = sb.mustRun("", "proxy", "logs", "--json", "--agent", "billing-tool")
	rows = nil
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatal(err)
	}
	byToken := map[string]int{}
	for _, r := range rows {
		if !strings.HasPrefix(r.Agent, "token:"+vault.TokenIDPrefix) {
			t.Errorf("proxy logs --agent billing-tool returned a row of %q", r.Agent)
		}
		byToken[r.Agent]++
	}
	// The first token made one call; the second, issued later, several.
	if byToken["token:"+first.ID] != 1 || len(byToken) != 2 {
		t.Errorf("proxy logs --agent billing-tool: rows by identity %v", byToken)
	}

	var disk []byte
	for _, name := range []string{audit.FileName, audit.FileName + "-wal", vault.AgentsFile, proxy.LogFile} {
		b, err := os.ReadFile(filepath.Join(sb.home, name))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		disk = append(disk, b...)
	}
	if !bytes.Contains(disk, []byte(first.ID)) {
		t.Fatal("the audit database and agents file hold no token id")
	}
	for _, tok := range []string{first.Token, second} {
		if bytes.Contains(disk, []byte(tok)) || bytes.Contains(disk, []byte(tok[len(vault.TokenPrefix):][:16])) {
			t.Errorf("a raw agent token (%d bytes) is on disk", len(tok))
		}
	}
}
