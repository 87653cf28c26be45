package proxy

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// rawRequest writes raw to the proxy over a fresh connection and returns
// the status and body of the answer.
func (f *fixture) rawRequest(t *testing.T, raw string) (int, string) {
	t.Helper()
	resp, body := f.rawExchange(t, raw)
	return resp.StatusCode, string(body)
}

// TestSessionTokenNeverForwarded: the session token reaches the upstream
// in no header, whatever form or copy of a header carried it, and the
// client's other headers still pass.
func TestSessionTokenNeverForwarded(t *testing.T) {
	f := newFixture(t)
	tok := f.handler.Token
	tests := []struct {
		name    string
		headers []string
		keep    string // a header value that must still arrive
	}{
		{"Authorization twice", []string{"Authorization", "Bearer " + tok, "Authorization", "Basic Zm9vOmJhcg=="}, "Basic Zm9vOmJhcg=="},
		{"tab after Bearer", []string{"Authorization", "Bearer\t" + tok, "X-Keep", "1"}, "1"},
		{"other scheme", []string{"Authorization", "Token " + tok, "X-Keep", "1"}, "1"},
		{"another header", []string{"X-Api-Key", tok, "X-Keep", "1"}, "1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := f.request("GET", "/", nil, tc.headers...)
			if status, _, body := f.do(req); status != http.StatusOK {
				t.Fatalf("status %d: %s", status, body)
			}
			got := f.upstream.lastSeen(t).Header
			kept := false
			for name, values := range got {
				for _, v := range values {
					if strings.Contains(v, tok) {
						t.Errorf("upstream received the session token in %s", name)
					}
					kept = kept || v == tc.keep
				}
			}
			if !kept {
				t.Errorf("upstream did not receive %q: %v", tc.keep, got)
			}
		})
	}
}

// TestHostHeaderCheckedInAbsoluteForm: a request line in absolute form
// does not stand in for the Host header; both must name loopback.
func TestHostHeaderCheckedInAbsoluteForm(t *testing.T) {
	f := newFixture(t)
	tests := []struct{ name, target, host string }{
		{"loopback target, foreign Host", "http://127.0.0.1/proxy", "attacker.example"},
		{"foreign target, loopback Host", "http://attacker.example/proxy", "127.0.0.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := f.rawRequest(t, "GET "+tc.target+" HTTP/1.1\r\nHost: "+tc.host+"\r\n"+
				"X-AS-Session-Token: "+f.handler.Token+"\r\nX-AS-Target-URL: "+f.upstream.URL+"/\r\n"+
				"X-AS-Inject-Bearer: TOKEN_A\r\nConnection: close\r\n\r\n")
			var e Error
			if status != http.StatusForbidden || json.Unmarshal([]byte(body), &e) != nil || e.Code != CodeHostNotLoopback {
				t.Errorf("status %d %s, want 403 %s", status, body, CodeHostNotLoopback)
			}
		})
	}
	if n := f.upstream.count.Load(); n != 0 {
		t.Errorf("upstream received %d requests, want 0", n)
	}
}

// TestMalformedHeaderNameIsBadHeader: a header name the server keeps as
// sent because it is not a token (here a misspelt injection with a space)
// is refused as bad_header before anything leaves, not reported as an
// unreachable upstream.
func TestMalformedHeaderNameIsBadHeader(t *testing.T) {
	f := newFixture(t)
	for _, name := range []string{"X-AS-Inject Bearer", "x-as-inject-bearer x", "X-Api Key"} {
		t.Run(name, func(t *testing.T) {
			status, body := f.rawRequest(t, "GET /proxy HTTP/1.1\r\nHost: 127.0.0.1\r\n"+
				"X-AS-Session-Token: "+f.handler.Token+"\r\nX-AS-Target-URL: "+f.upstream.URL+"/\r\n"+
				name+": TOKEN_A\r\nConnection: close\r\n\r\n")
			var e Error
			if status != http.StatusBadRequest || json.Unmarshal([]byte(body), &e) != nil || e.Code != CodeBadHeader {
				t.Errorf("status %d %s, want 400 %s", status, body, CodeBadHeader)
			}
		})
	}
	if n := f.upstream.count.Load(); n != 0 {
		t.Errorf("upstream received %d requests, want 0", n)
	}
}

// TestProtocolLookalikeHeadersRefused: a header spelt like a protocol
// header but with underscores (X_AS_Inject_Bearer, as environment-variable
// habits write it) is not an X-AS-* header to the server, which keeps its
// name; it is refused as bad_header rather than forwarded, so the request
// never leaves without its credential and the header, which may carry the
// agent token, never reaches the upstream.
func TestProtocolLookalikeHeadersRefused(t *testing.T) {
	f := newFixture(t)
	for _, line := range []string{
		"X_AS_Inject_Bearer: TOKEN_A",
		"x-as_inject-bearer: TOKEN_A",
		"X_AS-Inject-Header: X-Api-Key=TOKEN_A",
		"x_as_agent_token: agent-token-value",
	} {
		t.Run(line, func(t *testing.T) {
			status, body := f.rawRequest(t, "GET /proxy HTTP/1.1\r\nHost: 127.0.0.1\r\n"+
				"X-AS-Session-Token: "+f.handler.Token+"\r\nX-AS-Target-URL: "+f.upstream.URL+"/\r\n"+
				line+"\r\nConnection: close\r\n\r\n")
			var e Error
			if status != http.StatusBadRequest || json.Unmarshal([]byte(body), &e) != nil || e.Code != CodeBadHeader {
				t.Errorf("status %d %s, want 400 %s", status, body, CodeBadHeader)
			}
			if strings.Contains(body, "TOKEN_A") || strings.Contains(body, "agent-token-value") {
				t.Errorf("error quotes the header's value: %s", body)
			}
		})
	}
	if n := f.upstream.count.Load(); n != 0 {
		t.Errorf("upstream received %d requests, want 0", n)
	}
}

// TestAllowlistHintIsSafeToPaste: the domain_not_allowed hint is a
// command for the human to type. The target's host is the caller's text,
// and a URL's host may hold ; & $ ( ) < > ' and more: such a host is left
// out of the command, so pasting the hint can run nothing else; a plain
// name is still given.
func TestAllowlistHintIsSafeToPaste(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		target, host string
		plain        bool // the hint gives the command with the host
	}{
		{"http://x;touch$IFS$HOME$IFS.pwned/", "x;touch$IFS$HOME$IFS.pwned", false},
		{"http://a&&id>x/", "a&&id>x", false},
		{"http://a$(id)/", "a$(id)", false},
		{"http://'a'/", "'a'", false},
		{"http://-rf/", "-rf", false},
		{"http://*.example.com/", "*.example.com", false},
		{"http://evil\u202emoc.example/", "evil\u202emoc.example", false},
		{"http://api.example.com/v1", "api.example.com", true},
		{"http://[2001:db8::1]:8443/", "2001:db8::1", true},
	}
	for _, tc := range tests {
		t.Run(tc.target, func(t *testing.T) {
			req := f.request("GET", "/", nil)
			req.Header.Set(HeaderTargetURL, tc.target)
			status, _, body := f.do(req)
			var e Error
			if status != http.StatusForbidden || json.Unmarshal([]byte(body), &e) != nil || e.Code != CodeDomainNotAllowed {
				t.Fatalf("status %d %s, want 403 %s", status, body, CodeDomainNotAllowed)
			}
			cmd := "agentsecrets workspace allowlist add " + tc.host
			if tc.plain != strings.Contains(e.Hint, cmd) {
				t.Errorf("hint %q: contains %q is %v, want %v", e.Hint, cmd, !tc.plain, tc.plain)
			}
			if !tc.plain && strings.Contains(e.Hint, tc.host) {
				t.Errorf("hint %q names the host %q", e.Hint, tc.host)
			}
		})
	}
	if n := f.upstream.count.Load(); n != 0 {
		t.Errorf("upstream received %d requests, want 0", n)
	}
}
