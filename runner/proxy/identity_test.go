package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/The-17/agentsecrets/runner/audit"
	"github.com/The-17/agentsecrets/vault"
)

// withTokens makes the fixture's handler verify agent tokens against its
// vault, refreshed by POST /sync.
func withTokens(f *fixture) {
	c := NewTokenCache(f.store)
	f.handler.Identify = c.Identify
	f.handler.Sync = func() error { f.vault.Refresh(); return c.Refresh() }
}

func (f *fixture) sync(t *testing.T) {
	t.Helper()
	if err := RequestSync(context.Background(), strings.TrimPrefix(f.proxy.URL, "http://"), f.handler.Token); err != nil {
		t.Fatal(err)
	}
}

func issueToken(t *testing.T, s *vault.Store, agent string) vault.IssuedToken {
	t.Helper()
	tok, err := s.IssueToken(agent)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// wantRefused checks a 401 agent_token_invalid that never reached the
// upstream.
func wantRefused(t *testing.T, f *fixture, what, token string) {
	t.Helper()
	before := f.upstream.count.Load()
	status, _, body := f.do(f.request("GET", "/refused", nil, "X-AS-Inject-Bearer", "TOKEN_A", "X-AS-Agent-Token", token))
	var e Error
	_ = json.Unmarshal([]byte(body), &e)
	if status != http.StatusUnauthorized || e.Code != CodeAgentTokenInvalid || e.Hint == "" {
		t.Errorf("%s: %d %s, want 401 %s", what, status, body, CodeAgentTokenInvalid)
	}
	if strings.Contains(body, token) {
		t.Errorf("%s: the error repeats the token", what)
	}
	if n := f.upstream.count.Load(); n != before {
		t.Errorf("%s: the upstream received %d request(s)", what, n-before)
	}
}

func TestAgentTokensVerifiedRevokedOnSync(t *testing.T) {
	f := newFixtureWith(t, withTokens)
	billing := issueToken(t, f.store, "billing-tool")
	other := issueToken(t, f.store, "ci-bot")
	raw := string(billing.Token.Bytes())

	call := func(path string, headers ...string) int {
		t.Helper()
		status, _, body := f.do(f.request("GET", path, nil, append([]string{"X-AS-Inject-Bearer", "TOKEN_A"}, headers...)...))
		if status != http.StatusOK && status != http.StatusUnauthorized {
			t.Fatalf("%s: %d %s", path, status, body)
		}
		return status
	}
	if s := call("/valid", "X-AS-Agent-Token", raw, "X-AS-Agent-ID", "ignored-when-a-token-is-given"); s != http.StatusOK {
		t.Fatalf("valid token: %d", s)
	}
	noProtocolHeaders(t, f.upstream.lastSeen(t).Header)
	if s := call("/declared", "X-AS-Agent-ID", "declared-bot"); s != http.StatusOK {
		t.Fatalf("declared id: %d", s)
	}
	wantRefused(t, f, "unknown token", "ast_"+strings.Repeat("A", 43))
	wantRefused(t, f, "not a token at all", "hello")

	// Issued while the proxy runs: found without a sync.
	late := issueToken(t, f.store, "late-bot")
	if s := call("/late", "X-AS-Agent-Token", string(late.Token.Bytes())); s != http.StatusOK {
		t.Errorf("token issued after the first request: %d", s)
	}

	// A revocation is read at the next sync.
	if _, err := f.store.RevokeToken("billing-tool", billing.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.store.DeleteAgent("ci-bot"); err != nil {
		t.Fatal(err)
	}
	if s := call("/before-sync", "X-AS-Agent-Token", raw); s != http.StatusOK {
		t.Errorf("revoked token before sync: %d (revocations apply at sync)", s)
	}
	f.sync(t)
	wantRefused(t, f, "revoked token after sync", raw)
	wantRefused(t, f, "token of a deleted agent after sync", string(other.Token.Bytes()))
	if s := call("/still-valid", "X-AS-Agent-Token", string(late.Token.Bytes())); s != http.StatusOK {
		t.Errorf("an unrevoked token after sync: %d", s)
	}

	f.proxy.Close()
	f.handler.Wait()
	entries, err := f.audit.Query(context.Background(), audit.Filter{Source: audit.SourceProxy})
	if err != nil {
		t.Fatal(err)
	}
	agents := map[string]string{}
	for _, e := range entries {
		agents[strings.SplitN(e.URL, "?", 2)[0][len(f.upstream.URL):]] = e.Agent
	}
	want := map[string]string{
		"/valid":       "token:" + billing.ID,
		"/declared":    "declared-bot",
		"/late":        "token:" + late.ID,
		"/before-sync": "token:" + billing.ID,
		"/still-valid": "token:" + late.ID,
	}
	if len(agents) != len(want) {
		t.Errorf("audit rows for %v, want %d (refused requests leave none)", agents, len(want))
	}
	for path, agent := range want {
		if agents[path] != agent {
			t.Errorf("audit agent of %s = %q, want %q", path, agents[path], agent)
		}
	}

	var db []byte
	for _, name := range []string{audit.FileName, audit.FileName + "-wal"} {
		b, err := os.ReadFile(filepath.Join(f.home, name))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		db = append(db, b...)
	}
	if !bytes.Contains(db, []byte(billing.ID)) {
		t.Fatal("the audit database does not hold the token id")
	}
	for _, tok := range []vault.IssuedToken{billing, other, late} {
		body := tok.Token.Bytes()[len(vault.TokenPrefix):]
		if bytes.Contains(db, tok.Token.Bytes()) || bytes.Contains(db, body[:16]) {
			t.Errorf("the audit database holds agent token %s", tok.ID)
		}
	}
}

// TestIdentifyFailsClosed: a token that cannot be checked (the agents file
// is malformed) is refused, not let through.
func TestIdentifyFailsClosed(t *testing.T) {
	f := newFixtureWith(t, withTokens)
	if err := os.WriteFile(filepath.Join(f.home, vault.AgentsFile), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := f.upstream.count.Load()
	status, _, body := f.do(f.request("GET", "/", nil, "X-AS-Inject-Bearer", "TOKEN_A", "X-AS-Agent-Token", "ast_whatever"))
	if status != http.StatusInternalServerError || !strings.Contains(body, CodeInternal) {
		t.Errorf("malformed agents file: %d %s", status, body)
	}
	if f.upstream.count.Load() != before {
		t.Error("a request whose token could not be verified reached the upstream")
	}
}

func TestTokenCacheConcurrentIdentify(t *testing.T) {
	f := newFixture(t)
	c := NewTokenCache(f.store)
	tok := issueToken(t, f.store, "bot")
	raw := string(tok.Token.Bytes())
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 20 {
				id, err := c.Identify(raw)
				if err != nil || id != tok.ID {
					t.Errorf("Identify: %q %v", id, err)
					return
				}
				if _, err := c.Identify("ast_unknown"); err == nil {
					t.Error("an unknown token verified")
					return
				}
				if i == 0 {
					if err := c.Refresh(); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkTokenCacheIdentify(b *testing.B) {
	f := newFixture(b)
	c := NewTokenCache(f.store)
	var tok vault.IssuedToken
	for range 10 {
		var err error
		if tok, err = f.store.IssueToken("bot"); err != nil {
			b.Fatal(err)
		}
	}
	raw := string(tok.Token.Bytes())
	for b.Loop() {
		if _, err := c.Identify(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// TestTokenCacheKeepsTheServedWorkspace: the proxy serves the workspace it
// started in, so a token of another workspace is refused even after the
// active workspace changes under it, by an edit of project.json or a sync.
func TestTokenCacheKeepsTheServedWorkspace(t *testing.T) {
	f := newFixtureWith(t, withTokens)
	served := issueToken(t, f.store, "bot")
	wantOK := func(what, raw string) {
		t.Helper()
		status, _, body := f.do(f.request("GET", "/ok", nil, "X-AS-Inject-Bearer", "TOKEN_A", "X-AS-Agent-Token", raw))
		if status != http.StatusOK {
			t.Errorf("%s: %d %s", what, status, body)
		}
	}
	wantOK("a token of the served workspace", string(served.Token.Bytes()))

	activateWorkspace(t, f, "other")
	foreign := issueToken(t, f.store, "bot") // issued in workspace "other"

	for _, step := range []struct {
		name string
		sync bool
	}{{"before sync", false}, {"after sync", true}} {
		if step.sync {
			f.sync(t)
		}
		wantRefused(t, f, "a token of another workspace "+step.name, string(foreign.Token.Bytes()))
		wantOK("a token of the served workspace "+step.name, string(served.Token.Bytes()))
	}
}

// activateWorkspace makes ws the active workspace of the fixture's project,
// as a hand edit of project.json (or project use) would while the proxy runs.
func activateWorkspace(t *testing.T, f *fixture, ws string) {
	t.Helper()
	st, err := f.store.Status()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(st.ProjectFile)
	if err != nil {
		t.Fatal(err)
	}
	moved := bytes.Replace(data, []byte(`"workspace": "default"`), []byte(`"workspace": "`+ws+`"`), 1)
	if bytes.Equal(moved, data) {
		t.Fatalf("project.json names no workspace: %s", data)
	}
	if err := os.WriteFile(st.ProjectFile, moved, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestAllowlistKeepsTheServedWorkspace: after the active workspace changes
// and the proxy syncs, the allowlist that applies is still the one of the
// workspace the proxy serves, as for its keys and tokens.
func TestAllowlistKeepsTheServedWorkspace(t *testing.T) {
	f := newFixture(t)
	activateWorkspace(t, f, "other") // whose allowlist is empty
	f.sync(t)
	if status, _, body := f.do(f.request("GET", "/ok", nil, "X-AS-Inject-Bearer", "TOKEN_A")); status != http.StatusOK {
		t.Errorf("after the switch and a sync: %d %s", status, body)
	}
}

// TestUnreadableAgentsFileRefusesTokens: a sync that cannot read the agents
// file leaves no token valid (one revoked before it might be among the old
// snapshot's), until a read succeeds again.
func TestUnreadableAgentsFileRefusesTokens(t *testing.T) {
	f := newFixtureWith(t, withTokens)
	tok := string(issueToken(t, f.store, "bot").Token.Bytes())
	req := func() *http.Request {
		return f.request("GET", "/ok", nil, "X-AS-Inject-Bearer", "TOKEN_A", "X-AS-Agent-Token", tok)
	}
	if status, _, body := f.do(req()); status != http.StatusOK {
		t.Fatalf("before: %d %s", status, body)
	}
	path := filepath.Join(f.store.Home(), vault.AgentsFile)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := RequestSync(context.Background(), strings.TrimPrefix(f.proxy.URL, "http://"), f.handler.Token); err == nil {
		t.Error("a sync that could not read the agents file reported no error")
	}
	before := f.upstream.count.Load()
	if status, _, body := f.do(req()); status == http.StatusOK {
		t.Errorf("a token was accepted while the agents file is unreadable: %s", body)
	}
	if n := f.upstream.count.Load(); n != before {
		t.Errorf("upstream received %d requests", n-before)
	}
	if err := os.WriteFile(path, good, 0o600); err != nil {
		t.Fatal(err)
	}
	f.sync(t)
	if status, _, body := f.do(req()); status != http.StatusOK {
		t.Errorf("after the file is readable again: %d %s", status, body)
	}
}

// TestDeclaredAgentIDCannotCarryOrForgeAToken: an X-AS-Agent-ID holding an
// agent token (which the audit log would record as is, for any agent
// reading proxy logs to reuse) or passing for a verified token identity in
// another case ("Token:tok_…") is refused before anything leaves, whether
// or not the proxy verifies tokens, and the error does not repeat it.
func TestDeclaredAgentIDCannotCarryOrForgeAToken(t *testing.T) {
	for _, verify := range []bool{true, false} {
		var configure func(*fixture)
		if verify {
			configure = withTokens
		}
		f := newFixtureWith(t, configure)
		tok := issueToken(t, f.store, "billing-tool")
		raw := string(tok.Token.Bytes())
		for i, id := range []string{raw, "bot " + raw, "Token:" + tok.ID, "TOKEN:" + tok.ID} {
			before := f.upstream.count.Load()
			status, _, body := f.do(f.request("GET", "/declared", nil, "X-AS-Inject-Bearer", "TOKEN_A", "X-AS-Agent-ID", id))
			var e Error
			_ = json.Unmarshal([]byte(body), &e)
			if status != http.StatusBadRequest || e.Code != CodeBadHeader {
				t.Errorf("verify=%v: X-AS-Agent-ID #%d: %d %s, want 400 %s", verify, i, status, body, CodeBadHeader)
			}
			if strings.Contains(body, raw) || strings.Contains(body, id) {
				t.Errorf("verify=%v: the error of X-AS-Agent-ID #%d repeats it", verify, i)
			}
			if n := f.upstream.count.Load(); n != before {
				t.Errorf("verify=%v: X-AS-Agent-ID #%d: the upstream received %d request(s)", verify, i, n-before)
			}
		}
		f.proxy.Close()
		f.handler.Wait()
		entries, err := f.audit.Query(context.Background(), audit.Filter{Source: audit.SourceProxy})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if strings.Contains(e.Agent, raw) || strings.EqualFold(e.Agent, "token:"+tok.ID) {
				t.Errorf("verify=%v: an audit row records a token or a token identity as the declared agent", verify)
			}
		}
	}
}
