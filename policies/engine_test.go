package policies

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/The-17/agentsecrets/hostfns"
	"github.com/The-17/agentsecrets/wasm"
)

// testSecret holds characters that every encoding treats specially.
const testSecret = `sk_live"q\w+e/r=t&y%zé-Q7vXk2Lm9PzR4tWb`

// fakeSecrets is the secret gate for tests: values by name, and names
// that exist but are not bound to the request's host.
type fakeSecrets struct {
	values map[string]string
	denied map[string]bool
	opened []string
}

func (f *fakeSecrets) Open(name string) ([]byte, error) {
	f.opened = append(f.opened, name)
	if f.denied[name] {
		return nil, fmt.Errorf("%w: %q", hostfns.ErrSecretDenied, name)
	}
	v, ok := f.values[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", hostfns.ErrSecretNotFound, name)
	}
	return []byte(v), nil
}

func newTestEngine(t testing.TB, cfg Config) *Engine {
	t.Helper()
	e, err := NewEngine(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	return e
}

func newCall(t testing.TB, rawURL string, secrets map[string]string) *hostfns.Call {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return &hostfns.Call{
		Req:     &hostfns.Request{Method: "POST", URL: u, Header: http.Header{}},
		Secrets: &fakeSecrets{values: secrets},
	}
}

func spec(t testing.TB, style, arg string) Spec {
	t.Helper()
	s, err := ParseInjection(style, arg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestBuiltinPlacement(t *testing.T) {
	e := newTestEngine(t, Config{})
	ctx := context.Background()
	tests := []struct {
		name  string
		specs []Spec
		body  string
		ctype string
		check func(t *testing.T, r *hostfns.Request)
	}{
		{"bearer", []Spec{spec(t, "bearer", "API_KEY")}, "", "", func(t *testing.T, r *hostfns.Request) {
			wantHeader(t, r, "Authorization", "Bearer "+testSecret)
		}},
		{"header keeps case", []Spec{spec(t, "header", "x-Custom-KEY=API_KEY")}, "", "", func(t *testing.T, r *hostfns.Request) {
			wantHeader(t, r, "x-Custom-KEY", testSecret)
		}},
		{"header X-Api-Key", []Spec{spec(t, "header", "X-Api-Key=API_KEY")}, "", "", func(t *testing.T, r *hostfns.Request) {
			wantHeader(t, r, "X-Api-Key", testSecret)
		}},
		{"query api_key", []Spec{spec(t, "query", "api_key=API_KEY")}, "", "", func(t *testing.T, r *hostfns.Request) {
			q := r.URL.Query()
			if q.Get("api_key") != testSecret || q.Get("page") != "2" || q.Get("Api_Key") != "old" {
				t.Errorf("query = %q", r.URL.RawQuery)
			}
			if !strings.HasPrefix(r.URL.RawQuery, "page=2&Api_Key=old&") {
				t.Errorf("other parameters not kept in order: %q", r.URL.RawQuery)
			}
		}},
		{"basic user:pass", []Spec{spec(t, "basic", "LOGIN")}, "", "", func(t *testing.T, r *hostfns.Request) {
			wantHeader(t, r, "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("alice:p@ss:w0rd")))
		}},
		{"basic user only", []Spec{spec(t, "basic", "API_KEY")}, "", "", func(t *testing.T, r *hostfns.Request) {
			wantHeader(t, r, "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(testSecret+":")))
		}},
		{"body-field client_secret", []Spec{spec(t, "body-field", "client_secret=API_KEY")}, `{"grant_type":"client_credentials"}`, "", func(t *testing.T, r *hostfns.Request) {
			if got := gjson.GetBytes(r.Body, "client_secret").String(); got != testSecret {
				t.Errorf("client_secret = %q", got)
			}
			if gjson.GetBytes(r.Body, "grant_type").String() != "client_credentials" {
				t.Errorf("other fields lost: %s", r.Body)
			}
		}},
		{"body-field nested in empty body", []Spec{spec(t, "body-field", "auth.api_key=API_KEY")}, "", "", func(t *testing.T, r *hostfns.Request) {
			if got := gjson.GetBytes(r.Body, "auth.api_key").String(); got != testSecret {
				t.Errorf("auth.api_key = %q in %s", got, r.Body)
			}
			wantHeader(t, r, "Content-Type", "application/json")
		}},
		{"form-field client_secret", []Spec{spec(t, "form-field", "client_secret=API_KEY")}, "grant_type=client_credentials&scope=a+b", "", func(t *testing.T, r *hostfns.Request) {
			f, err := url.ParseQuery(string(r.Body))
			if err != nil || f.Get("client_secret") != testSecret || f.Get("scope") != "a b" || f.Get("grant_type") != "client_credentials" {
				t.Errorf("form body = %q (%v)", r.Body, err)
			}
			wantHeader(t, r, "Content-Type", "application/x-www-form-urlencoded")
		}},
		{"several styles at once", []Spec{
			spec(t, "bearer", "API_KEY"), spec(t, "header", "X-Login=LOGIN"),
			spec(t, "query", "api_key=API_KEY"), spec(t, "body-field", "client_secret=LOGIN"),
		}, "", "", func(t *testing.T, r *hostfns.Request) {
			wantHeader(t, r, "Authorization", "Bearer "+testSecret)
			wantHeader(t, r, "X-Login", "alice:p@ss:w0rd")
			if r.URL.Query().Get("api_key") != testSecret {
				t.Errorf("query = %q", r.URL.RawQuery)
			}
			if gjson.GetBytes(r.Body, "client_secret").String() != "alice:p@ss:w0rd" {
				t.Errorf("body = %s", r.Body)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call := newCall(t, "https://api.example.com/v1/charges?page=2&Api_Key=old", map[string]string{"API_KEY": testSecret, "LOGIN": "alice:p@ss:w0rd"})
			call.Req.Body = []byte(tt.body)
			if err := e.Run(ctx, tt.specs, call); err != nil {
				t.Fatal(err)
			}
			tt.check(t, call.Req)
			if len(call.RedactSet()) == 0 {
				t.Error("RedactSet is empty after opening a secret")
			}
		})
	}
}

func wantHeader(t *testing.T, r *hostfns.Request, name, want string) {
	t.Helper()
	got, ok := r.Header[name]
	if !ok || len(got) != 1 || got[0] != want {
		t.Errorf("header %q = %q, want exactly [%q] (headers %v)", name, got, want, keys(r.Header))
	}
}

func keys(h http.Header) []string {
	var out []string
	for k := range h {
		out = append(out, k)
	}
	return out
}

func TestRedactPolicy(t *testing.T) {
	e := newTestEngine(t, Config{})
	call := newCall(t, "https://api.example.com/", map[string]string{"API_KEY": testSecret})
	if err := e.Run(context.Background(), []Spec{spec(t, "redact", "API_KEY")}, call); err != nil {
		t.Fatal(err)
	}
	if len(call.Req.Header) != 0 || call.Req.URL.RawQuery != "" || len(call.Req.Body) != 0 {
		t.Errorf("redact changed the request: %+v", call.Req)
	}
	set := call.RedactSet()
	if len(set) != 1 || string(set[0]) != testSecret {
		t.Errorf("RedactSet = %d values, want the secret", len(set))
	}
	if got := call.Redacted(); len(got) != 1 || got[0] != "API_KEY" {
		t.Errorf("Redacted() = %v", got)
	}
}

func TestBasicUserOnlyIsRedactedWithColon(t *testing.T) {
	e := newTestEngine(t, Config{})
	call := newCall(t, "https://api.example.com/", map[string]string{"API_KEY": testSecret})
	if err := e.Run(context.Background(), []Spec{spec(t, "basic", "API_KEY")}, call); err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, v := range call.RedactSet() {
		found = found || string(v) == testSecret+":"
	}
	if !found {
		t.Error("the user:password form actually sent is not in the redaction set")
	}
}

func TestMissingAndUnboundSecretsDeny(t *testing.T) {
	e := newTestEngine(t, Config{})
	for _, tt := range []struct {
		name string
		want error
	}{{"MISSING", hostfns.ErrSecretNotFound}, {"ELSEWHERE", hostfns.ErrSecretDenied}} {
		for _, style := range []string{"bearer", "basic", "redact"} {
			call := newCall(t, "https://api.example.com/", nil)
			call.Secrets = &fakeSecrets{denied: map[string]bool{"ELSEWHERE": true}}
			err := e.Run(context.Background(), []Spec{spec(t, style, tt.name)}, call)
			var d *DeniedError
			if !errors.As(err, &d) || !errors.Is(err, ErrDenied) || !errors.Is(err, tt.want) || d.Secret != tt.name {
				t.Errorf("%s %s: err = %v, want a denial wrapping %v", style, tt.name, err, tt.want)
			}
			if len(call.Req.Header) != 0 {
				t.Errorf("%s %s: request changed after denial: %v", style, tt.name, call.Req.Header)
			}
		}
	}
}

func TestBadPlacementDenies(t *testing.T) {
	e := newTestEngine(t, Config{})
	tests := []struct {
		name  string
		spec  Spec
		ctype string
		body  string
	}{
		{"json into a form body", spec(t, "body-field", "k=API_KEY"), "application/x-www-form-urlencoded", "a=b"},
		{"json into invalid json", spec(t, "body-field", "k=API_KEY"), "", "{not json"},
		{"form into a json body", spec(t, "form-field", "k=API_KEY"), "application/json", "{}"},
		{"missing param", Spec{Name: "header", Params: map[string]string{"key": "API_KEY"}}, "", ""},
		{"header with a newline", Spec{Name: "header", Params: map[string]string{"key": "NL", "name": "X-A"}}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call := newCall(t, "https://api.example.com/", map[string]string{"API_KEY": testSecret, "NL": "a\r\nInjected: yes"})
			if tt.ctype != "" {
				call.Req.Header.Set("Content-Type", tt.ctype)
			}
			call.Req.Body = []byte(tt.body)
			err := e.Run(context.Background(), []Spec{tt.spec}, call)
			if !errors.Is(err, ErrDenied) {
				t.Fatalf("err = %v, want denial", err)
			}
			if string(call.Req.Body) != tt.body || len(call.Req.Header) > 1 {
				t.Errorf("request modified: body %q headers %v", call.Req.Body, call.Req.Header)
			}
			if strings.Contains(err.Error(), testSecret) {
				t.Error("error contains the secret")
			}
		})
	}
}

// TestGuestMemoryHoldsNoSecret reads each built-in's whole memory after a
// call and looks for the secret in every encoding.
func TestGuestMemoryHoldsNoSecret(t *testing.T) {
	e := newTestEngine(t, Config{})
	for _, name := range wasm.BuiltinNames() {
		t.Run(name, func(t *testing.T) {
			s := Spec{Name: name, Params: map[string]string{"key": "API_KEY", "name": "X-Key", "param": "api_key", "path": "a.b", "field": "f"}}
			call := newCall(t, "https://api.example.com/", map[string]string{"API_KEY": testSecret})
			if err := e.Run(context.Background(), []Spec{s}, call); err != nil {
				t.Fatal(err)
			}
			mem := idleMemory(t, e, name)
			assertNoSecret(t, mem, testSecret)
		})
	}
}

func idleMemory(t *testing.T, e *Engine, name string) []byte {
	t.Helper()
	p, err := e.load(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.idle) == 0 {
		t.Fatal("no idle instance after a successful call")
	}
	m := p.idle[len(p.idle)-1].mod.Memory()
	b, ok := m.Read(0, m.Size())
	if !ok || len(b) == 0 {
		t.Fatal("cannot read guest memory")
	}
	return bytes.Clone(b)
}

func assertNoSecret(t *testing.T, mem []byte, secret string) {
	t.Helper()
	for _, what := range leaks(mem, secret) {
		t.Errorf("guest memory holds the secret (%s)", what)
	}
}

// leaks lists the encodings of secret found in mem, including any run of
// 16 consecutive bytes of the raw value.
func leaks(mem []byte, secret string) []string {
	forms := map[string]string{
		"raw":       secret,
		"hex":       hex.EncodeToString([]byte(secret)),
		"HEX":       strings.ToUpper(hex.EncodeToString([]byte(secret))),
		"base64":    base64.StdEncoding.EncodeToString([]byte(secret)),
		"base64url": base64.RawURLEncoding.EncodeToString([]byte(secret)),
		"basic":     base64.StdEncoding.EncodeToString([]byte(secret + ":")),
		"query":     url.QueryEscape(secret),
	}
	var found []string
	for what, form := range forms {
		if bytes.Contains(mem, []byte(form)) {
			found = append(found, what)
		}
	}
	for i := 0; i+16 <= len(secret); i++ {
		if bytes.Contains(mem, []byte(secret[i:i+16])) {
			found = append(found, fmt.Sprintf("16 bytes at %d", i))
			break
		}
	}
	return found
}

func TestLeaksDetectsEachEncoding(t *testing.T) {
	for _, planted := range []string{
		testSecret,
		base64.StdEncoding.EncodeToString([]byte(testSecret)),
		strings.ToUpper(hex.EncodeToString([]byte(testSecret))),
		testSecret[3:19],
	} {
		mem := append(append(make([]byte, 100), planted...), make([]byte, 100)...)
		if len(leaks(mem, testSecret)) == 0 {
			t.Errorf("leaks missed a planted %q", planted)
		}
	}
	if got := leaks(make([]byte, 4096), testSecret); len(got) != 0 {
		t.Errorf("leaks found %v in zeroed memory", got)
	}
}

func TestCompileCacheOnDisk(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	e := newTestEngine(t, Config{CacheDir: dir})
	call := newCall(t, "https://api.example.com/", nil)
	if err := e.Run(context.Background(), []Spec{{Name: guest("deny")}}, call); !errors.Is(err, ErrDenied) {
		t.Fatal(err)
	}
	st, err := os.Stat(dir)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("cache dir: %v %v", st, err)
	}
	var files int
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, _ error) error {
		if d != nil && !d.IsDir() {
			files++
		}
		return nil
	})
	if files == 0 {
		t.Error("no compiled code written to the cache directory")
	}
}
