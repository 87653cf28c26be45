package runner

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/The-17/agentsecrets/policies"
	"github.com/The-17/agentsecrets/runner/audit"
)

// TestFailClosed: each refusal is an error naming what was refused, the
// upstream receives no request carrying a credential, and refusals decided
// before the policies run read no value at all.
func TestFailClosed(t *testing.T) {
	bearer := []policies.Spec{spec("bearer", "key", "API_KEY")}
	tests := []struct {
		name      string
		allowlist []string
		bindings  map[string][]string
		target    string // "" = the upstream; else a URL (UPSTREAM_PORT is replaced)
		specs     []policies.Spec
		resolve   map[string]string
		want      error
		decision  audit.Decision
		noReads   bool // refused before any value is read
		noDial    bool // refused before any connection is attempted
		mention   string
	}{
		{name: "missing key", allowlist: []string{"127.0.0.1"},
			specs: []policies.Spec{spec("bearer", "key", "NO_SUCH_KEY")}, want: ErrSecretMissing,
			decision: audit.DecisionError, noDial: true, mention: "NO_SUCH_KEY"},
		{name: "missing key after a present one", allowlist: []string{"127.0.0.1"},
			specs: []policies.Spec{spec("bearer", "key", "API_KEY"), spec("header", "name", "X-Api-Key", "key", "NO_SUCH_KEY")},
			want:  ErrSecretMissing, decision: audit.DecisionError, noDial: true, mention: "NO_SUCH_KEY"},
		{name: "host not on the allowlist", allowlist: []string{"api.stripe.com"}, specs: bearer,
			want: ErrNotAllowed, decision: audit.DecisionBlockedAllowlist, noReads: true, noDial: true, mention: "127.0.0.1"},
		{name: "empty allowlist", allowlist: nil, specs: bearer,
			want: ErrNotAllowed, decision: audit.DecisionBlockedAllowlist, noReads: true, noDial: true},
		{name: "secret bound to another domain", allowlist: []string{"127.0.0.1"},
			bindings: map[string][]string{"API_KEY": {"api.stripe.com"}}, specs: bearer,
			want: ErrNotBound, decision: audit.DecisionDeniedBinding, noReads: true, noDial: true, mention: "API_KEY"},
		{name: "one of two secrets bound elsewhere", allowlist: []string{"127.0.0.1"},
			bindings: map[string][]string{"OTHER_KEY": {"*.stripe.com"}},
			specs:    []policies.Spec{spec("bearer", "key", "API_KEY"), spec("query", "param", "k", "key", "OTHER_KEY")},
			want:     ErrNotBound, decision: audit.DecisionDeniedBinding, noDial: true, mention: "OTHER_KEY"},
		{name: "metadata IP allowlisted exactly", allowlist: []string{"169.254.169.254"},
			target: "http://169.254.169.254/latest/meta-data/", specs: bearer,
			want: ErrSSRF, decision: audit.DecisionBlockedAllowlist, noReads: true, noDial: true},
		{name: "metadata IP with a port", allowlist: []string{"169.254.169.254"},
			target: "http://169.254.169.254:80/latest/meta-data/", specs: bearer,
			want: ErrSSRF, decision: audit.DecisionBlockedAllowlist, noReads: true, noDial: true},
		{name: "IPv4-mapped metadata IP", allowlist: []string{"::ffff:169.254.169.254"},
			target: "http://[::ffff:169.254.169.254]/", specs: bearer,
			want: ErrSSRF, decision: audit.DecisionBlockedAllowlist, noReads: true, noDial: true},
		{name: "link-local IP allowlisted exactly", allowlist: []string{"169.254.10.10"},
			target: "http://169.254.10.10/", specs: bearer,
			want: ErrSSRF, decision: audit.DecisionBlockedAllowlist, noReads: true, noDial: true},
		{name: "metadata host name", allowlist: []string{"metadata.google.internal"},
			target: "http://metadata.google.internal/computeMetadata/v1/", specs: bearer,
			want: ErrSSRF, decision: audit.DecisionBlockedAllowlist, noReads: true, noDial: true},
		{name: "loopback name through a wildcard entry", allowlist: []string{"*.example.test"},
			target: "http://api.example.test:UPSTREAM_PORT/", resolve: map[string]string{"api.example.test": "127.0.0.1"},
			specs: bearer, want: ErrSSRF, decision: audit.DecisionBlockedAllowlist},
		{name: "literal wildcard name through a wildcard entry", allowlist: []string{"*.example.test"},
			target: "http://*.example.test:UPSTREAM_PORT/", resolve: map[string]string{"*.example.test": "127.0.0.1"},
			specs: bearer, want: ErrSSRF, decision: audit.DecisionBlockedAllowlist},
		{name: "IP through a wildcard entry", allowlist: []string{"*.0.0.1"},
			target: "http://127.0.0.1:UPSTREAM_PORT/", specs: bearer, want: ErrNotAllowed,
			decision: audit.DecisionBlockedAllowlist, noReads: true, noDial: true},
		{name: "policy deny", allowlist: []string{"127.0.0.1"},
			specs: []policies.Spec{spec("header", "name", "Bad Name", "key", "API_KEY")},
			want:  ErrPolicyDenied, decision: audit.DecisionPolicyDenied, noDial: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newUpstream(t, nil)
			v := newFakeVault(tt.allowlist, map[string]string{"API_KEY": testSecret, "OTHER_KEY": otherSecret})
			for k, d := range tt.bindings {
				v.bindings[k] = d
			}
			r, sink, dc := newTestRunner(t, v)
			dc.resolve = tt.resolve
			target := up.URL + "/v1/charges"
			if tt.target != "" {
				_, port, _ := net.SplitHostPort(up.hostPort())
				target = strings.ReplaceAll(tt.target, "UPSTREAM_PORT", port)
			}
			res, err := r.Do(context.Background(), &Call{URL: target, Policies: tt.specs, Source: "call"})
			if err == nil {
				res.Body.Close()
				t.Fatal("call was not refused")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error %v does not wrap %v", err, tt.want)
			}
			if tt.mention != "" && !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("error %q does not name %q", err, tt.mention)
			}
			assertNoLeak(t, "error message", err.Error(), testSecret, otherSecret)
			for _, rq := range up.requests() {
				if carriesCredential(rq, testSecret) || carriesCredential(rq, otherSecret) {
					t.Errorf("the upstream received a credential: %s %s", rq.Method, rq.URL)
				}
			}
			if n := len(up.requests()); n != 0 {
				t.Errorf("the upstream received %d requests", n)
			}
			if tt.noReads && v.valueReads() != 0 {
				t.Errorf("%d secret values read before the refusal", v.valueReads())
			}
			if tt.noDial && dc.dials() != 0 {
				t.Errorf("%d connections attempted before the refusal", dc.dials())
			}
			evs := sink.Events()
			if len(evs) != 1 {
				t.Fatalf("%d audit events, want 1", len(evs))
			}
			if evs[0].Decision != tt.decision {
				t.Errorf("audit decision %q, want %q", evs[0].Decision, tt.decision)
			}
		})
	}
}

// TestLoopbackReachableWhenExact is the control for the wildcard cases
// above: the same name, allowlisted exactly, reaches the upstream.
func TestLoopbackReachableWhenExact(t *testing.T) {
	up := newUpstream(t, nil)
	v := newFakeVault([]string{"api.example.test"}, map[string]string{"API_KEY": testSecret})
	r, _, dc := newTestRunner(t, v)
	dc.resolve = map[string]string{"api.example.test": "127.0.0.1"}
	_, port, _ := net.SplitHostPort(up.hostPort())
	res, err := r.Do(context.Background(), &Call{URL: "http://api.example.test:" + port + "/", Policies: []policies.Spec{spec("bearer", "key", "API_KEY")}})
	if err != nil {
		t.Fatal(err)
	}
	assertNoLeak(t, "output", output(t, res), testSecret)
	if reqs := up.requests(); len(reqs) != 1 || reqs[0].Header.Get("Authorization") != "Bearer "+testSecret {
		t.Errorf("upstream requests: %d", len(reqs))
	}
}

// TestCrossHostRedirect: upstream A redirects to upstream B on another
// host or port; B receives nothing and the caller gets A's redirect.
func TestCrossHostRedirect(t *testing.T) {
	styles := map[string][]policies.Spec{
		"bearer": {spec("bearer", "key", "API_KEY")},
		"query":  {spec("query", "param", "api_key", "key", "API_KEY")},
		"header": {spec("header", "name", "X-Api-Key", "key", "API_KEY")},
	}
	for _, code := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		for _, other := range []string{"127.0.0.1:0", "localhost"} {
			for style, specs := range styles {
				t.Run(http.StatusText(code)+"/"+other+"/"+style, func(t *testing.T) {
					b := newUpstream(t, nil)
					target := b.URL + "/collect"
					if other == "localhost" {
						target = "http://localhost:" + portOf(b) + "/collect"
					}
					a := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
						http.Redirect(w, r, target+"?"+r.URL.RawQuery, code)
					})
					v := newFakeVault([]string{"127.0.0.1", "localhost"}, map[string]string{"API_KEY": testSecret})
					r, _, _ := newTestRunner(t, v)
					res, err := r.Do(context.Background(), &Call{Method: http.MethodPost, URL: a.URL + "/start",
						Body: []byte(`{"x":1}`), Policies: specs})
					if err != nil {
						t.Fatal(err)
					}
					out := output(t, res)
					if res.Status != code {
						t.Errorf("status %d, want the redirect %d itself", res.Status, code)
					}
					if n := len(b.requests()); n != 0 {
						t.Errorf("host B received %d requests", n)
					}
					if len(a.requests()) != 1 {
						t.Errorf("host A received %d requests, want 1", len(a.requests()))
					}
					assertNoLeak(t, "output", out, testSecret)
				})
			}
		}
	}
}

func portOf(u *upstream) string {
	_, port, _ := net.SplitHostPort(u.hostPort())
	return port
}

// TestSameHostRedirectFollowed: a redirect on the same host and port is
// followed, with the credential.
func TestSameHostRedirectFollowed(t *testing.T) {
	var up *upstream
	up = newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/old" {
			http.Redirect(w, r, "/new", http.StatusMovedPermanently)
			return
		}
		echoHandler(w, r)
	})
	v := newFakeVault([]string{"127.0.0.1"}, map[string]string{"API_KEY": testSecret})
	r, _, _ := newTestRunner(t, v)
	res, err := r.Do(context.Background(), &Call{URL: up.URL + "/old", Policies: []policies.Spec{spec("bearer", "key", "API_KEY")}})
	if err != nil {
		t.Fatal(err)
	}
	out := output(t, res)
	if res.Status != http.StatusOK {
		t.Errorf("status %d, want 200 after the redirect", res.Status)
	}
	reqs := up.requests()
	if len(reqs) != 2 || reqs[1].URL != "/new" {
		t.Fatalf("requests: %+v", len(reqs))
	}
	if reqs[1].Header.Get("Authorization") != "Bearer "+testSecret {
		t.Error("credential dropped on a same-host redirect")
	}
	assertNoLeak(t, "output", out, testSecret)
}

// TestRedirectLoopBounded: a same-host redirect loop ends with an error.
func TestRedirectLoopBounded(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Path, http.StatusFound)
	})
	v := newFakeVault([]string{"127.0.0.1"}, map[string]string{"API_KEY": testSecret})
	r, _, _ := newTestRunner(t, v)
	res, err := r.Do(context.Background(), &Call{URL: up.URL + "/loop", Policies: []policies.Spec{spec("bearer", "key", "API_KEY")}})
	if err == nil {
		res.Body.Close()
		t.Fatal("redirect loop did not fail")
	}
	if n := len(up.requests()); n > maxRedirects+1 {
		t.Errorf("%d requests, more than the bound", n)
	}
}

// TestBadTargets: malformed calls are ErrBadRequest and send nothing.
func TestBadTargets(t *testing.T) {
	v := newFakeVault([]string{"127.0.0.1"}, map[string]string{"API_KEY": testSecret})
	r, _, dc := newTestRunner(t, v)
	// An AWS key id and its secret pasted as the URL parse as scheme and
	// opaque part: the scheme is not repeated, only its length.
	const pasted = "AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI"
	for _, target := range []string{"", "ftp://127.0.0.1/", "http://", "http://user:pw@127.0.0.1/", "::not a url", "/relative", pasted} {
		res, err := r.Do(context.Background(), &Call{URL: target, Policies: []policies.Spec{spec("bearer", "key", "API_KEY")}})
		if !errors.Is(err, ErrBadRequest) {
			if res != nil {
				res.Body.Close()
			}
			t.Errorf("Do(%q) = %v, want ErrBadRequest", target, err)
		}
		if target == pasted && (err == nil || strings.Contains(strings.ToLower(err.Error()), "akiaiosfodnn7example") ||
			!strings.Contains(err.Error(), "must be http or https: its scheme (20 characters) is neither")) {
			t.Errorf("Do(%q) = %v, want the scheme's length, not the scheme", target, err)
		}
	}
	if v.valueReads() != 0 || dc.dials() != 0 {
		t.Errorf("bad targets read %d values and dialled %d times", v.valueReads(), dc.dials())
	}
}

// TestRedirectMethods: after a POST, 301, 302 and 303 are followed with a
// GET without the body (or its Content-Type); 307 and 308 repeat the POST
// and its body. The credential goes along on the same host every time.
func TestRedirectMethods(t *testing.T) {
	for _, tc := range []struct {
		code       int
		wantMethod string
		wantBody   string
	}{
		{http.StatusMovedPermanently, "GET", ""},
		{http.StatusFound, "GET", ""},
		{http.StatusSeeOther, "GET", ""},
		{http.StatusTemporaryRedirect, "POST", `{"x":1}`},
		{http.StatusPermanentRedirect, "POST", `{"x":1}`},
	} {
		t.Run(http.StatusText(tc.code), func(t *testing.T) {
			up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/old" {
					http.Redirect(w, r, "/new", tc.code)
					return
				}
				echoHandler(w, r)
			})
			v := newFakeVault([]string{"127.0.0.1"}, map[string]string{"API_KEY": testSecret})
			r, _, _ := newTestRunner(t, v)
			res, err := r.Do(context.Background(), &Call{Method: "POST", URL: up.URL + "/old",
				Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"x":1}`),
				Policies: []policies.Spec{spec("bearer", "key", "API_KEY")}})
			if err != nil {
				t.Fatal(err)
			}
			output(t, res)
			reqs := up.requests()
			if len(reqs) != 2 {
				t.Fatalf("%d requests, want 2", len(reqs))
			}
			got := reqs[1]
			if got.Method != tc.wantMethod || string(got.Body) != tc.wantBody {
				t.Errorf("followed with %s %q, want %s %q", got.Method, got.Body, tc.wantMethod, tc.wantBody)
			}
			if tc.wantBody == "" && got.Header.Get("Content-Type") != "" {
				t.Errorf("Content-Type %q went along without a body", got.Header.Get("Content-Type"))
			}
			if got.Header.Get("Authorization") != "Bearer "+testSecret {
				t.Error("credential dropped on a same-host redirect")
			}
		})
	}
}
