package runner

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/The-17/agentsecrets/policies"
)

// basicUser is the user half of the Basic-auth secret ("user:password").
const basicUser = "svc-user"

// TestInjectionStyles runs each auth style through Runner.Do against a
// loopback upstream that echoes everything it receives: the upstream must
// get exactly the credential in the right place, names with their case,
// and the caller must see no encoding of it.
func TestInjectionStyles(t *testing.T) {
	basicValue := basicUser + ":" + testSecret
	tests := []struct {
		name   string
		method string
		body   string
		header http.Header
		specs  []policies.Spec
		check  func(t *testing.T, r received, wire string)
	}{
		{
			name:  "bearer",
			specs: []policies.Spec{spec("bearer", "key", "API_KEY")},
			check: func(t *testing.T, r received, wire string) {
				wantHeader(t, r, "Authorization", "Bearer "+testSecret)
				wantWire(t, wire, "\r\nAuthorization: Bearer "+testSecret+"\r\n")
			},
		},
		{
			name:  "header",
			specs: []policies.Spec{spec("header", "name", "X-Api-Key", "key", "API_KEY")},
			check: func(t *testing.T, r received, wire string) {
				wantHeader(t, r, "X-Api-Key", testSecret)
				wantWire(t, wire, "\r\nX-Api-Key: "+testSecret+"\r\n")
				noHeader(t, r, "Authorization")
			},
		},
		{
			name:  "header name case kept on the wire",
			specs: []policies.Spec{spec("header", "name", "X-API-KEY", "key", "API_KEY")},
			check: func(t *testing.T, r received, wire string) {
				wantHeader(t, r, "X-Api-Key", testSecret)
				wantWire(t, wire, "\r\nX-API-KEY: "+testSecret+"\r\n")
			},
		},
		{
			// fasthttp would re-write a Cookie header, dropping a value
			// with '"' or '\' and adding a space after each ';'.
			name:  "cookie header byte for byte",
			specs: []policies.Spec{spec("header", "name", "Cookie", "key", "COOKIE_KEY")},
			check: func(t *testing.T, r received, wire string) {
				wantHeader(t, r, "Cookie", cookieValue)
				wantWire(t, wire, "\r\nCookie: "+cookieValue+"\r\n")
			},
		},
		{
			name:  "query",
			specs: []policies.Spec{spec("query", "param", "api_key", "key", "API_KEY")},
			check: func(t *testing.T, r received, wire string) {
				q := wantQuery(t, r)
				if got := q["api_key"]; len(got) != 1 || got[0] != testSecret {
					t.Errorf("query api_key = %q, want the secret once", got)
				}
				if q.Get("address") != "Lagos" {
					t.Errorf("existing parameter lost: %q", r.URL)
				}
				wantWire(t, wire, "&api_key=")
			},
		},
		{
			name:  "query name case kept",
			specs: []policies.Spec{spec("query", "param", "apiKey", "key", "API_KEY")},
			check: func(t *testing.T, r received, wire string) {
				q := wantQuery(t, r)
				if q.Get("apiKey") != testSecret {
					t.Errorf("query apiKey = %q", q.Get("apiKey"))
				}
				if q.Has("apikey") || q.Has("APIKEY") {
					t.Errorf("parameter name case changed: %q", r.URL)
				}
			},
		},
		{
			name:  "basic",
			specs: []policies.Spec{spec("basic", "key", "BASIC_KEY")},
			check: func(t *testing.T, r received, wire string) {
				req := &http.Request{Header: r.Header}
				user, pass, ok := req.BasicAuth()
				if !ok || user != basicUser || pass != testSecret {
					t.Errorf("basic auth = %q, %q, %v; want the stored user and password", user, pass, ok)
				}
				wantWire(t, wire, "\r\nAuthorization: Basic "+base64.StdEncoding.EncodeToString([]byte(basicValue))+"\r\n")
			},
		},
		{
			name:   "body-field",
			method: http.MethodPost,
			body:   `{"grant_type":"client_credentials","auth":{"scope":"read"}}`,
			specs: []policies.Spec{
				spec("body-field", "path", "client_secret", "key", "API_KEY"),
				spec("body-field", "path", "auth.client_Secret", "key", "API_KEY"),
			},
			check: func(t *testing.T, r received, wire string) {
				if !json.Valid(r.Body) {
					t.Fatalf("upstream got invalid JSON: %q", r.Body)
				}
				for path, want := range map[string]string{
					"client_secret":      testSecret,
					"auth.client_Secret": testSecret,
					"grant_type":         "client_credentials",
					"auth.scope":         "read",
				} {
					if got := gjson.GetBytes(r.Body, path).String(); got != want {
						t.Errorf("body %s = %q, want %q", path, got, want)
					}
				}
				if gjson.GetBytes(r.Body, "auth.client_secret").Exists() {
					t.Error("body-field path case changed")
				}
				wantHeader(t, r, "Content-Type", "application/json")
			},
		},
		{
			name:   "body-field on an empty body",
			method: http.MethodPost,
			specs:  []policies.Spec{spec("body-field", "path", "client_secret", "key", "API_KEY")},
			check: func(t *testing.T, r received, wire string) {
				if got := gjson.GetBytes(r.Body, "client_secret").String(); got != testSecret {
					t.Errorf("body client_secret = %q in %q", got, r.Body)
				}
			},
		},
		{
			name:   "form-field",
			method: http.MethodPost,
			body:   "grant_type=client_credentials&scope=read+write",
			header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
			specs:  []policies.Spec{spec("form-field", "field", "client_secret", "key", "API_KEY")},
			check: func(t *testing.T, r received, wire string) {
				form, err := url.ParseQuery(string(r.Body))
				if err != nil {
					t.Fatalf("form body %q: %v", r.Body, err)
				}
				if got := form["client_secret"]; len(got) != 1 || got[0] != testSecret {
					t.Errorf("form client_secret = %q", got)
				}
				if form.Get("grant_type") != "client_credentials" || form.Get("scope") != "read write" {
					t.Errorf("other form fields changed: %q", r.Body)
				}
			},
		},
		{
			name:   "form-field sets the content type",
			method: http.MethodPost,
			specs:  []policies.Spec{spec("form-field", "field", "Client_Secret", "key", "API_KEY")},
			check: func(t *testing.T, r received, wire string) {
				form, err := url.ParseQuery(string(r.Body))
				if err != nil || form.Get("Client_Secret") != testSecret {
					t.Errorf("form body %q: %v", r.Body, err)
				}
				if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
					t.Errorf("Content-Type = %q", ct)
				}
			},
		},
		{
			name:   "several at once",
			method: http.MethodPost,
			body:   `{"amount":100}`,
			specs: []policies.Spec{
				spec("bearer", "key", "API_KEY"),
				spec("header", "name", "X-Api-Key", "key", "OTHER_KEY"),
				spec("query", "param", "api_key", "key", "API_KEY"),
				spec("body-field", "path", "client_secret", "key", "OTHER_KEY"),
			},
			check: func(t *testing.T, r received, wire string) {
				wantHeader(t, r, "Authorization", "Bearer "+testSecret)
				wantHeader(t, r, "X-Api-Key", otherSecret)
				if q := wantQuery(t, r); q.Get("api_key") != testSecret {
					t.Errorf("query api_key = %q", q.Get("api_key"))
				}
				if got := gjson.GetBytes(r.Body, "client_secret").String(); got != otherSecret {
					t.Errorf("body client_secret = %q", got)
				}
				if gjson.GetBytes(r.Body, "amount").Int() != 100 {
					t.Errorf("body lost its fields: %q", r.Body)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newUpstream(t, nil)
			v := newFakeVault([]string{"127.0.0.1"}, map[string]string{
				"API_KEY": testSecret, "OTHER_KEY": otherSecret, "BASIC_KEY": basicValue,
				"COOKIE_KEY": cookieValue,
			})
			r, sink, _ := newTestRunner(t, v)
			call := &Call{Method: tt.method, URL: up.URL + "/v1/charges?address=Lagos", Header: tt.header,
				Body: []byte(tt.body), Policies: tt.specs, Source: "call"}
			res, err := r.Do(context.Background(), call)
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			out := output(t, res)
			reqs := up.requests()
			if len(reqs) != 1 {
				t.Fatalf("upstream got %d requests, want 1", len(reqs))
			}
			tt.check(t, reqs[0], up.rawWire())
			if res.Status != http.StatusOK {
				t.Errorf("status %d", res.Status)
			}
			assertNoLeak(t, "caller output", out, testSecret, otherSecret, basicValue, cookieValue)
			if !strings.Contains(out, "[REDACTED_BY_AGENTSECRETS]") {
				t.Errorf("echoed credential not replaced:\n%s", out)
			}
			if len(call.Header) != len(tt.header) {
				t.Errorf("the caller's header map was changed: %v", call.Header)
			}
			evs := sink.Events()
			if len(evs) != 1 || evs[0].Decision != "ok" {
				t.Errorf("audit events = %+v, want one ok", evs)
			}
		})
	}
}

// cookieValue is a session cookie as a policy puts it in a Cookie header;
// the ';' without a space is part of the credential.
const cookieValue = "session=" + testSecret + ";v=2"

// otherSecret is a second credential for calls that inject several.
const otherSecret = `whsec_Q9&z=%2F"\\ü/+0987654321abcd`

func wantHeader(t *testing.T, r received, name, want string) {
	t.Helper()
	if got := r.Header.Values(name); len(got) != 1 || got[0] != want {
		t.Errorf("header %s = %q, want exactly one value (the expected credential)", name, got)
	}
}

func noHeader(t *testing.T, r received, name string) {
	t.Helper()
	if got := r.Header.Values(name); len(got) != 0 {
		t.Errorf("unexpected header %s", name)
	}
}

func wantWire(t *testing.T, wire, want string) {
	t.Helper()
	if !strings.Contains(wire, want) {
		t.Errorf("raw request does not contain %q", strings.ReplaceAll(want, testSecret, "<secret>"))
	}
}

func wantQuery(t *testing.T, r received) url.Values {
	t.Helper()
	u, err := url.Parse(r.URL)
	if err != nil {
		t.Fatalf("upstream URL %q: %v", r.URL, err)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		t.Fatalf("upstream query %q: %v", u.RawQuery, err)
	}
	return q
}
