package proxy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/The-17/agentsecrets/runner/audit"
)

// leakCore is in every value-like string below: an error that quotes any
// of them, whole, truncated, lower-cased or escaped, holds it.
const leakCore = "51HxQ9zLEAKED"

// The value-like strings sent where a name goes, each invalid in its place
// so that the request is refused.
const (
	// leakKey is a value sent for KEY: no '=' and no ',', so it stays one
	// item and the part after the last '='; '"' '<' '>' '&' are escaped
	// by JSON.
	leakKey = `sk_live_` + leakCore + `"<b>&c/d+e`
	// leakHeaderName is a value sent as a header name (the name=KEY form):
	// not an HTTP token.
	leakHeaderName = `sk_live_` + leakCore + `/<b>"c`
	// leakComponent is a value sent as a query parameter or form field:
	// '#' and '&' are refused there (and are token characters, so a seed
	// header's name may hold them).
	leakComponent = `sk_live_` + leakCore + `#b&c`
	// leakPath is a value sent as a body path: '*' and '|' are refused
	// there (and are token characters).
	leakPath = `sk_live_` + leakCore + `*b|c`
	// leakNonToken is a value sent in a seed header's name that is not an
	// HTTP token: the server keeps such a name as sent (a space is the one
	// such character it reads; others make the request unreadable).
	leakNonToken = `sk_live_` + leakCore + ` b c`
	// leakPolicy is a value sent as a policy name: upper case is refused.
	leakPolicy = `sk_live_` + leakCore
)

// TestRefusedNameIsNotEchoed: a value sent where a key name, header name,
// parameter, path, field, policy name or agent id goes is refused with 400
// bad_header that says which header is wrong and what is wrong with it,
// and neither the answer (body or headers), the log nor the audit store
// holds the value, in any form; nothing reaches the upstream. The client
// is often the agent's tool, whose output the agent reads.
func TestRefusedNameIsNotEchoed(t *testing.T) {
	var logged bytes.Buffer
	log.SetOutput(&logged)
	t.Cleanup(func() { log.SetOutput(os.Stderr) })
	f := newFixture(t)
	tests := []struct {
		name  string
		lines []string // header lines beside the token and target
		want  []string // what the message says (case-insensitive)
	}{
		{"bearer KEY", []string{"X-AS-Inject-Bearer: " + leakKey},
			[]string{"X-AS-Inject-Bearer", "secret name", chars(leakKey)}},
		{"basic KEY", []string{"X-AS-Inject-Basic: " + leakKey},
			[]string{"X-AS-Inject-Basic", "secret name", chars(leakKey)}},
		{"bearer KEY among others", []string{"X-AS-Inject-Bearer: TOKEN_A, " + leakKey},
			[]string{"X-AS-Inject-Bearer", "item 2", "secret name", chars(leakKey)}},

		{"seed header KEY", []string{"X-AS-Inject-Header-X-Api-Key: " + leakKey},
			[]string{"X-AS-Inject-Header-", "secret name", chars(leakKey)}},
		{"seed header name", []string{"X-AS-Inject-Header-" + leakNonToken + ": TOKEN_A"},
			[]string{"X-AS-Inject-Header-", "HTTP token"}},
		{"seed query KEY", []string{"X-AS-Inject-Query-api_key: " + leakKey},
			[]string{"X-AS-Inject-Query-", "secret name", chars(leakKey)}},
		{"seed query param", []string{"X-AS-Inject-Query-" + leakComponent + ": TOKEN_A"},
			[]string{"X-AS-Inject-Query-", "invalid param", chars(leakComponent)}},
		{"seed query param not a token", []string{"X-AS-Inject-Query-" + leakNonToken + ": TOKEN_A"},
			[]string{"X-AS-Inject-Query-", "HTTP token"}},
		{"seed body KEY", []string{"X-AS-Inject-Body-user.token: " + leakKey},
			[]string{"X-AS-Inject-Body-", "secret name", chars(leakKey)}},
		{"seed body path", []string{"X-AS-Inject-Body-" + leakPath + ": TOKEN_A"},
			[]string{"X-AS-Inject-Body-", "invalid path", chars(leakPath)}},
		{"seed body path not a token", []string{"X-AS-Inject-Body-" + leakNonToken + ": TOKEN_A"},
			[]string{"X-AS-Inject-Body-", "HTTP token"}},
		{"seed form KEY", []string{"X-AS-Inject-Form-client_secret: " + leakKey},
			[]string{"X-AS-Inject-Form-", "secret name", chars(leakKey)}},
		{"seed form field", []string{"X-AS-Inject-Form-" + leakComponent + ": TOKEN_A"},
			[]string{"X-AS-Inject-Form-", "invalid field", chars(leakComponent)}},
		{"seed form field not a token", []string{"X-AS-Inject-Form-" + leakNonToken + ": TOKEN_A"},
			[]string{"X-AS-Inject-Form-", "HTTP token"}},

		{"header KEY", []string{"X-AS-Inject-Header: X-Api-Key=" + leakKey},
			[]string{"X-AS-Inject-Header", "secret name", chars(leakKey)}},
		{"header name", []string{"X-AS-Inject-Header: " + leakHeaderName + "=TOKEN_A"},
			[]string{"X-AS-Inject-Header", "invalid header name", chars(leakHeaderName)}},
		{"header without =", []string{"X-AS-Inject-Header: " + leakKey},
			[]string{"X-AS-Inject-Header", "Header-Name=KEY", "no '='", chars(leakKey)}},
		{"query KEY", []string{"X-AS-Inject-Query: api_key=" + leakKey},
			[]string{"X-AS-Inject-Query", "secret name", chars(leakKey)}},
		{"query param", []string{"X-AS-Inject-Query: " + leakComponent + "=TOKEN_A"},
			[]string{"X-AS-Inject-Query", "invalid param", chars(leakComponent)}},
		{"query without =", []string{"X-AS-Inject-Query: " + leakKey},
			[]string{"X-AS-Inject-Query", "param=KEY", "no '='", chars(leakKey)}},
		{"body KEY", []string{"X-AS-Inject-Body: user.token=" + leakKey},
			[]string{"X-AS-Inject-Body", "secret name", chars(leakKey)}},
		{"body path", []string{"X-AS-Inject-Body: " + leakPath + "=TOKEN_A"},
			[]string{"X-AS-Inject-Body", "invalid path", chars(leakPath)}},
		{"body without =", []string{"X-AS-Inject-Body: " + leakKey},
			[]string{"X-AS-Inject-Body", "path=KEY", "no '='", chars(leakKey)}},
		{"form KEY", []string{"X-AS-Inject-Form: client_secret=" + leakKey},
			[]string{"X-AS-Inject-Form", "secret name", chars(leakKey)}},
		{"form field", []string{"X-AS-Inject-Form: " + leakComponent + "=TOKEN_A"},
			[]string{"X-AS-Inject-Form", "invalid field", chars(leakComponent)}},
		{"form without =", []string{"X-AS-Inject-Form: " + leakKey},
			[]string{"X-AS-Inject-Form", "field=KEY", "no '='", chars(leakKey)}},

		{"policy name", []string{"X-AS-Policy: " + leakPolicy},
			[]string{"X-AS-Policy", "registered policy name", chars(leakPolicy)}},
		{"param without =", []string{"X-AS-Policy: hmac-sign", "X-AS-Param: " + leakKey},
			[]string{"X-AS-Param", "name=value"}},
		{"param name twice", []string{"X-AS-Policy: hmac-sign", "X-AS-Param: " + leakComponent + "=1, " + leakComponent + "=2"},
			[]string{"X-AS-Param", "name=value", "once"}},
		{"seed param name", []string{"X-AS-Policy: hmac-sign", "X-AS-Param-" + leakNonToken + ": 1"},
			[]string{"X-AS-Param-", "HTTP token"}},
		{"param key", []string{"X-AS-Policy: hmac-sign", "X-AS-Param: key=" + leakKey},
			[]string{"X-AS-Param", "secret name", chars(leakKey)}},
		{"seed param key", []string{"X-AS-Policy: hmac-sign", "X-AS-Param-Key: " + leakKey},
			[]string{"X-AS-Param", "secret name", chars(leakKey)}},
		{"seed param name twice", []string{"X-AS-Policy: hmac-sign", "X-AS-Param-" + leakPolicy + ": 1", "X-AS-Param: " + strings.ToLower(leakPolicy) + "=2"},
			[]string{"X-AS-Param", "name=value", "once"}},
		{"agent id too long", []string{"X-AS-Agent-ID: " + strings.Repeat(leakPolicy, 7)},
			[]string{"X-AS-Agent-ID", "printable characters"}},
		{"agent id spoofing a token", []string{"X-AS-Agent-ID: token:" + leakPolicy},
			[]string{"X-AS-Agent-ID", `"token:"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := f.rawExchange(t, "GET /proxy HTTP/1.1\r\nHost: 127.0.0.1\r\n"+
				"X-AS-Session-Token: "+f.handler.Token+"\r\nX-AS-Target-URL: "+f.upstream.URL+"/\r\n"+
				strings.Join(tc.lines, "\r\n")+"\r\nConnection: close\r\n\r\n")
			var e Error
			if resp.StatusCode != http.StatusBadRequest || json.Unmarshal(body, &e) != nil || e.Code != CodeBadHeader {
				t.Fatalf("status %d %s, want 400 %s", resp.StatusCode, body, CodeBadHeader)
			}
			if leaks(body) {
				t.Errorf("the error quotes the refused text: %s", body)
			}
			for name, values := range resp.Header {
				for _, v := range values {
					if leaks([]byte(v)) {
						t.Errorf("response header %s quotes the refused text: %q", name, v)
					}
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(strings.ToLower(e.Message), strings.ToLower(w)) {
					t.Errorf("message %q does not say %q", e.Message, w)
				}
			}
		})
	}
	if n := f.upstream.count.Load(); n != 0 {
		t.Errorf("upstream received %d requests, want 0", n)
	}

	// Whatever was audited (the store and its file) holds none of it.
	f.proxy.Close()
	if err := f.handler.Wait(); err != nil {
		t.Fatal(err)
	}
	entries, err := f.audit.Query(context.Background(), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if b, _ := json.Marshal(e); leaks(b) {
			t.Errorf("audit row holds the refused text: %s", b)
		}
	}
	for _, name := range []string{audit.FileName, audit.FileName + "-wal"} {
		b, err := os.ReadFile(filepath.Join(f.home, name))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if leaks(b) {
			t.Errorf("%s holds the refused text", name)
		}
	}
	if leaks(logged.Bytes()) {
		t.Errorf("the log holds the refused text: %s", logged.Bytes())
	}
}

// chars is how a message gives the length of s.
func chars(s string) string { return fmt.Sprintf("(%d characters)", len(s)) }

// leaks reports whether b holds leakCore in any case (a seed header's
// name arrives lower-cased), or one of the value-like strings in the form
// JSON escapes it.
func leaks(b []byte) bool {
	if bytes.Contains(bytes.ToLower(b), bytes.ToLower([]byte(leakCore))) {
		return true
	}
	for _, s := range []string{leakKey, leakHeaderName, leakComponent, leakPath, leakNonToken, leakPolicy} {
		j, _ := json.Marshal(s)
		if bytes.Contains(b, bytes.Trim(j, `"`)) {
			return true
		}
	}
	return false
}

// rawExchange writes raw to the proxy over a fresh connection and returns
// the answer, its body read.
func (f *fixture) rawExchange(t *testing.T, raw string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(f.proxy.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}
