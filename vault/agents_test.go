package vault

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// newAgentStore returns a store over an empty home; agents need no project
// and no backend.
func newAgentStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(Options{Home: filepath.Join(t.TempDir(), "home"), Cwd: t.TempDir(),
		Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func issue(t *testing.T, s *Store, agent string) IssuedToken {
	t.Helper()
	tok, err := s.IssueToken(agent)
	if err != nil {
		t.Fatalf("IssueToken(%q): %v", agent, err)
	}
	return tok
}

func TestValidateAgentName(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ok    bool
		fault string // in the error: the length and what is wrong, never the name
	}{
		{"billing-tool", true, ""},
		{"ci_bot", true, ""},
		{"a", true, ""},
		{"0", true, ""},
		{strings.Repeat("a", 64), true, ""},
		{"", false, "invalid agent name (0 characters): it is empty"},
		{strings.Repeat("a", 65), false, "invalid agent name (65 characters): it is longer than 64 bytes"},
		{"Billing", false, "invalid agent name (7 characters): it holds characters other than lower-case letters, digits, '-' and '_'"},
		{"billing tool", false, "invalid agent name (12 characters): it holds characters other than"},
		{"billing.tool", false, "(12 characters): it holds characters other than"},
		{"billing/tool", false, "(12 characters): it holds characters other than"},
		{"émile", false, "(5 characters): it holds characters other than"},
		{"sk_live_4eC39HqLyjWDarjtT1zdp7dc", false, "(32 characters): it holds characters other than"},
		{"ast_abc", false, "it looks like an agent token"},
		{"fast_" + strings.Repeat("a", 43), true, ""},
		{" " + testToken, false, "it holds an agent token"},
		{"Bearer " + testToken, false, "it holds an agent token"},
		{"'" + testToken + "'", false, "it holds an agent token"},
	} {
		err := ValidateAgentName(tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateAgentName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err == nil {
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidateAgentName(%q) = %v, not ErrInvalid", tc.name, err)
		}
		if !strings.Contains(err.Error(), tc.fault) {
			t.Errorf("ValidateAgentName(%q) = %v, want %q", tc.name, err, tc.fault)
		}
		// A value typed where an agent name goes is not printed.
		var ve *Error
		if len(tc.name) >= 4 && (strings.Contains(err.Error(), tc.name) || errors.As(err, &ve) && strings.Contains(ve.Hint(), tc.name)) {
			t.Errorf("ValidateAgentName(%q): the error repeats the name: %v", tc.name, err)
		}
		if strings.Contains(err.Error(), testToken) {
			t.Errorf("ValidateAgentName(%q): the error repeats a token", tc.name)
		}
	}
}

// testToken is shaped like an issued token (TokenPrefix and 43 base64url
// characters).
var testToken = TokenPrefix + "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde"

func TestValidateTokenID(t *testing.T) {
	for _, tc := range []struct {
		id    string
		ok    bool
		fault string // in the error: the length and what is wrong, never the id
	}{
		{"tok_0123456789ab", true, ""},
		{"tok_0123456789AB", false, "invalid token id (16 characters): not tok_ and 12 lower-case hex digits"},
		{"tok_0123456789a", false, "(15 characters): not tok_ and 12"},
		{"tok_0123456789abc", false, "(17 characters): not tok_ and 12"},
		{"0123456789ab", false, "(12 characters): not tok_ and 12"},
		{"", false, "(0 characters)"},
		{"sk_live_4eC39HqLyjWDarjtT1zdp7dc", false, "(32 characters)"},
		{strings.Repeat("x", 65), false, "(65 characters)"},
		{"ast_" + strings.Repeat("x", 43), false, "that is a token, not its id"},
		{" " + testToken, false, "it holds a token, not its id"},
		{"tok_" + testToken, false, "it holds a token, not its id"},
	} {
		err := ValidateTokenID(tc.id)
		if (err == nil) != tc.ok || err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidateTokenID(%q) = %v, want ok=%v", tc.id, err, tc.ok)
		}
		if err == nil {
			continue
		}
		if !strings.Contains(err.Error(), tc.fault) {
			t.Errorf("ValidateTokenID(%q) = %v, want %q", tc.id, err, tc.fault)
		}
		if strings.Contains(tc.id, TokenPrefix) && strings.Contains(err.Error(), tc.id[strings.Index(tc.id, TokenPrefix):]) {
			t.Errorf("ValidateTokenID(%q): the error repeats a token", tc.id)
		}
		// Nor anything else typed where a token id goes.
		if len(tc.id) >= 4 && strings.Contains(err.Error(), tc.id) {
			t.Errorf("ValidateTokenID(%q): the error repeats the id: %v", tc.id, err)
		}
	}
}

// TestValidateDeclaredAgent: an identity a caller declares (X-AS-Agent-ID,
// call --agent) can pass neither for a verified token identity nor carry a
// token into the audit log; the error never repeats it.
func TestValidateDeclaredAgent(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"billing-tool", true},
		{"Claude Desktop", true},
		{"fast_api", true},
		{"tokens-bot", true},
		{"token:tok_0123456789ab", false},
		{"Token:tok_0123456789ab", false},
		{"TOKEN:tok_0123456789ab", false},
		{testToken, false},
		{"ast_short", false},
		{"bot " + testToken, false},
		{"Bearer " + testToken, false},
	} {
		err := ValidateDeclaredAgent(tc.id)
		if (err == nil) != tc.ok || err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidateDeclaredAgent(%q) = %v, want ok=%v", tc.id, err, tc.ok)
		}
		if err != nil && strings.Contains(err.Error(), tc.id) {
			t.Errorf("ValidateDeclaredAgent(%q): the error repeats the id", tc.id)
		}
	}
}

func TestIssueVerifyRevoke(t *testing.T) {
	s := newAgentStore(t)
	a1 := issue(t, s, "billing-tool")
	a2 := issue(t, s, "billing-tool")
	b1 := issue(t, s, "ci_bot")
	raw := string(a1.Token.Bytes())
	if !strings.HasPrefix(raw, TokenPrefix) || len(raw) != tokenLen {
		t.Fatalf("token shape: prefix %v, length %d", strings.HasPrefix(raw, TokenPrefix), len(raw))
	}
	if !strings.HasPrefix(a1.ID, TokenIDPrefix) || len(a1.ID) != len(TokenIDPrefix)+12 {
		t.Fatalf("token id %q", a1.ID)
	}
	if a1.ID == a2.ID || raw == string(a2.Token.Bytes()) {
		t.Fatal("two issues gave the same id or token")
	}

	for _, tok := range []IssuedToken{a1, a2, b1} {
		agent, id, err := s.VerifyToken(string(tok.Token.Bytes()))
		if err != nil || agent != tok.Agent || id != tok.ID {
			t.Errorf("VerifyToken(%s) = %q %q %v", tok.ID, agent, id, err)
		}
	}
	for _, bad := range []string{"", "ast_", raw[:len(raw)-1], raw + "x", strings.ToUpper(raw), "not a token"} {
		if _, _, err := s.VerifyToken(bad); !errors.Is(err, ErrTokenUnknown) {
			t.Errorf("VerifyToken(bad %d bytes) = %v, want ErrTokenUnknown", len(bad), err)
		}
	}

	was, err := s.RevokeToken("billing-tool", a1.ID)
	if err != nil || was {
		t.Fatalf("RevokeToken = %v %v", was, err)
	}
	agent, id, err := s.VerifyToken(raw)
	if !errors.Is(err, ErrTokenRevoked) || agent != "billing-tool" || id != a1.ID {
		t.Errorf("revoked token: %q %q %v", agent, id, err)
	}
	if strings.Contains(err.Error(), raw) {
		t.Error("the error holds the token")
	}
	if _, _, err := s.VerifyToken(string(a2.Token.Bytes())); err != nil {
		t.Errorf("the agent's other token: %v", err)
	}
	if was, err := s.RevokeToken("billing-tool", a1.ID); err != nil || !was {
		t.Errorf("second revoke = %v %v, want already revoked", was, err)
	}

	toks, err := s.Tokens("billing-tool")
	if err != nil || len(toks) != 2 || toks[0].ID != a1.ID || toks[0].Revoked == nil || toks[1].Revoked != nil {
		t.Fatalf("Tokens = %+v %v", toks, err)
	}
	list, err := s.Agents()
	if err != nil || len(list) != 2 || list[0].Name != "billing-tool" || list[0].Active != 1 || list[0].Revoked != 1 ||
		list[1].Name != "ci_bot" || list[1].Active != 1 {
		t.Fatalf("Agents = %+v %v", list, err)
	}
}

func TestAgentErrorsChangeNothing(t *testing.T) {
	s := newAgentStore(t)
	tok := issue(t, s, "billing-tool")
	path := filepath.Join(s.Home(), AgentsFile)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, revokeUnknownAgent := s.RevokeToken("nobody", tok.ID)
	_, revokeUnknownID := s.RevokeToken("billing-tool", "tok_000000000000")
	_, revokeOthersID := s.RevokeToken("nobody-else", tok.ID)
	_, revokeWithToken := s.RevokeToken("billing-tool", string(tok.Token.Bytes()))
	_, tokensUnknown := s.Tokens("nobody")
	_, issueBad := s.IssueToken("Bad Name")
	for _, tc := range []struct {
		what string
		err  error
		want error
	}{
		{"revoke, unknown agent", revokeUnknownAgent, ErrAgentNotFound},
		{"revoke, unknown id", revokeUnknownID, ErrTokenUnknown},
		{"revoke, another agent's id", revokeOthersID, ErrAgentNotFound},
		{"revoke, a token for an id", revokeWithToken, ErrInvalid},
		{"tokens, unknown agent", tokensUnknown, ErrAgentNotFound},
		{"delete, unknown agent", s.DeleteAgent("nobody"), ErrAgentNotFound},
		{"delete, bad name", s.DeleteAgent("../x"), ErrInvalid},
		{"issue, bad name", issueBad, ErrInvalid},
		{"create, existing", s.CreateAgent("billing-tool"), ErrExists},
		{"create, bad name", s.CreateAgent(""), ErrInvalid},
	} {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.what, tc.err, tc.want)
		}
	}
	after, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(before, after) {
		t.Errorf("a refused change rewrote %s", AgentsFile)
	}
}

func TestDeleteAgentRevokesItsTokens(t *testing.T) {
	s := newAgentStore(t)
	must(t, s.CreateAgent("empty"))
	gone := issue(t, s, "gone")
	kept := issue(t, s, "kept")
	must(t, s.DeleteAgent("gone"))
	if _, _, err := s.VerifyToken(string(gone.Token.Bytes())); !errors.Is(err, ErrTokenUnknown) {
		t.Errorf("token of a deleted agent: %v", err)
	}
	if _, _, err := s.VerifyToken(string(kept.Token.Bytes())); err != nil {
		t.Errorf("token of another agent: %v", err)
	}
	if _, err := s.Tokens("gone"); !errors.Is(err, ErrAgentNotFound) {
		t.Errorf("Tokens of a deleted agent: %v", err)
	}
	list, err := s.Agents()
	if err != nil || len(list) != 2 || list[0].Name != "empty" || list[0].Active != 0 || list[1].Name != "kept" {
		t.Errorf("Agents = %+v %v", list, err)
	}
	// A new agent of the same name does not inherit the old tokens.
	issue(t, s, "gone")
	if _, _, err := s.VerifyToken(string(gone.Token.Bytes())); !errors.Is(err, ErrTokenUnknown) {
		t.Errorf("old token after the name was reused: %v", err)
	}
}

func TestAgentsFileHoldsNoToken(t *testing.T) {
	s := newAgentStore(t)
	var raws [][]byte
	for _, name := range []string{"a", "b", "b"} {
		raws = append(raws, issue(t, s, name).Token.Bytes())
	}
	path := filepath.Join(s.Home(), AgentsFile)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("%s mode %v, want 0600", AgentsFile, info.Mode().Perm())
	}
	if dir, _ := os.Stat(s.Home()); dir.Mode().Perm() != 0o700 {
		t.Errorf("home mode %v, want 0700", dir.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range raws {
		body := raw[len(TokenPrefix):]
		if bytes.Contains(data, raw) || bytes.Contains(data, body[:16]) {
			t.Errorf("%s holds a token or a part of one", AgentsFile)
		}
	}
	if !bytes.Contains(data, []byte(`"sha256"`)) {
		t.Errorf("%s lacks the token hashes:\n%s", AgentsFile, data)
	}
}

func TestConcurrentIssueKeepsEveryToken(t *testing.T) {
	const perWriter = 10
	home := filepath.Join(t.TempDir(), "home")
	open := func() *Store {
		s, err := Open(Options{Home: home, Cwd: t.TempDir(), Getenv: func(string) string { return "" }})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// Two Stores, as two processes would have, writing at once.
	stores := []*Store{open(), open()}
	issued := make([][]IssuedToken, len(stores))
	var wg sync.WaitGroup
	for w, s := range stores {
		wg.Go(func() {
			for range perWriter {
				tok, err := s.IssueToken("shared")
				if err != nil {
					t.Error(err)
					return
				}
				issued[w] = append(issued[w], tok)
			}
		})
	}
	wg.Wait()
	s := open()
	toks, err := s.Tokens("shared")
	if err != nil || len(toks) != len(stores)*perWriter {
		t.Fatalf("%d tokens after concurrent issues, want %d (%v)", len(toks), len(stores)*perWriter, err)
	}
	for _, list := range issued {
		for _, tok := range list {
			if _, id, err := s.VerifyToken(string(tok.Token.Bytes())); err != nil || id != tok.ID {
				t.Errorf("token %s: %q %v", tok.ID, id, err)
			}
		}
	}
}

func TestAgentTokensSnapshotKeepsUntilReread(t *testing.T) {
	s := newAgentStore(t)
	tok := issue(t, s, "bot")
	snap, err := s.AgentTokens()
	if err != nil || snap.Len() != 1 {
		t.Fatalf("AgentTokens: %v", err)
	}
	if _, err := s.RevokeToken("bot", tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := snap.Verify(string(tok.Token.Bytes())); err != nil {
		t.Errorf("the snapshot taken before the revocation: %v", err)
	}
	fresh, err := s.AgentTokens()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := fresh.Verify(string(tok.Token.Bytes())); !errors.Is(err, ErrTokenRevoked) {
		t.Errorf("a snapshot taken after: %v", err)
	}
}

func TestMalformedAgentsFile(t *testing.T) {
	for _, tc := range []struct{ name, content string }{
		{"not json", "{"},
		{"unknown version", `{"version": 9, "workspaces": {}}`},
		{"bad hash", `{"version": 1, "workspaces": {"default": {"bot": {"created": "2025-01-01T00:00:00Z",
			"tokens": [{"id": "tok_000000000000", "sha256": "zz", "created": "2025-01-01T00:00:00Z"}]}}}}`},
		{"null agent", `{"version": 1, "workspaces": {"default": {"bot": null}}}`},
		{"null token", `{"version": 1, "workspaces": {"default": {"bot": {"created": "2025-01-01T00:00:00Z", "tokens": [null]}}}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newAgentStore(t)
			path := filepath.Join(s.Home(), AgentsFile)
			must(t, os.MkdirAll(s.Home(), 0o700))
			must(t, os.WriteFile(path, []byte(tc.content), 0o600))
			if _, _, err := s.VerifyToken("ast_x"); !errors.Is(err, ErrInvalid) {
				t.Errorf("VerifyToken: %v, want ErrInvalid", err)
			}
			if tc.name != "bad hash" {
				if _, err := s.IssueToken("bot"); !errors.Is(err, ErrInvalid) {
					t.Errorf("IssueToken: %v, want ErrInvalid", err)
				}
			}
			if _, err := s.Agents(); tc.name != "bad hash" && !errors.Is(err, ErrInvalid) {
				t.Errorf("Agents: %v, want ErrInvalid", err)
			}
			if _, err := s.Tokens("bot"); tc.name != "bad hash" && !errors.Is(err, ErrInvalid) {
				t.Errorf("Tokens: %v, want ErrInvalid", err)
			}
			if data, _ := os.ReadFile(path); string(data) != tc.content {
				t.Error("the malformed file was rewritten")
			}
		})
	}
}

func TestTokenTimesComeFromTheClock(t *testing.T) {
	at := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	s, err := Open(Options{Home: filepath.Join(t.TempDir(), "home"), Cwd: t.TempDir(),
		Getenv: func(string) string { return "" }, Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	tok := issue(t, s, "bot")
	if _, err := s.RevokeToken("bot", tok.ID); err != nil {
		t.Fatal(err)
	}
	toks, err := s.Tokens("bot")
	if err != nil || len(toks) != 1 || !toks[0].Created.Equal(at) || toks[0].Revoked == nil || !toks[0].Revoked.Equal(at) {
		t.Errorf("Tokens = %+v %v", toks, err)
	}
}

func BenchmarkAgentTokensVerify(b *testing.B) {
	s, err := Open(Options{Home: filepath.Join(b.TempDir(), "home"), Cwd: b.TempDir(), Getenv: func(string) string { return "" }})
	if err != nil {
		b.Fatal(err)
	}
	var last IssuedToken
	for range 20 {
		if last, err = s.IssueToken("bot"); err != nil {
			b.Fatal(err)
		}
	}
	snap, err := s.AgentTokens()
	if err != nil {
		b.Fatal(err)
	}
	raw := string(last.Token.Bytes())
	for b.Loop() {
		if _, _, err := snap.Verify(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzVerifyToken: any presented string is matched or refused without a
// panic, and the refusal says nothing of what was presented.
func FuzzVerifyToken(f *testing.F) {
	s, err := Open(Options{Home: filepath.Join(f.TempDir(), "home"), Cwd: f.TempDir(), Getenv: func(string) string { return "" }})
	if err != nil {
		f.Fatal(err)
	}
	tok, err := s.IssueToken("bot")
	if err != nil {
		f.Fatal(err)
	}
	snap, err := s.AgentTokens()
	if err != nil {
		f.Fatal(err)
	}
	raw := string(tok.Token.Bytes())
	for _, seed := range []string{raw, raw[:len(raw)-1], "", "ast_", "tok_" + tok.ID, "\x00\xff"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, presented string) {
		agent, id, err := snap.Verify(presented)
		if presented == raw {
			if err != nil || agent != "bot" || id != tok.ID {
				t.Fatalf("the issued token: %q %q %v", agent, id, err)
			}
			return
		}
		if !errors.Is(err, ErrTokenUnknown) {
			t.Fatalf("a token nobody issued: %v", err)
		}
		if err.Error() != "vault: unknown agent token" {
			t.Fatalf("the error says more than that the token is unknown: %q", err)
		}
	})
}
