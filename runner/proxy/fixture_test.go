package proxy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/The-17/agentsecrets/policies"
	"github.com/The-17/agentsecrets/runner"
	"github.com/The-17/agentsecrets/runner/audit"
	"github.com/The-17/agentsecrets/vault"
)

const testPassphrase = "proxy test passphrase"

// testSecrets are the values the fixture stores; tests check that none of
// them (nor the session token) ever shows up where it must not.
var testSecrets = map[string]string{
	"TOKEN_A":     "sk_test_alpha_0123456789abcdef",
	"TOKEN_B":     "sk_test_bravo_fedcba9876543210",
	"TOKEN_C":     "sk_test_charlie_5555aaaa6666bbbb",
	"TOKEN_D":     "sk_test_delta_77778888ccccdddd",
	"BASIC_CREDS": "apiuser:basic-pass-31337-xyzzy",
}

// fixture is a real vault (encrypted file backend) with testSecrets and
// 127.0.0.1 on the allowlist, a real policy engine and audit store, a
// handler behind a loopback server, and a loopback upstream.
type fixture struct {
	t        testing.TB
	home     string
	store    *vault.Store
	vault    *runner.StoreVault
	audit    *audit.Store
	handler  *Handler
	proxy    *testProxy // nil when noProxy
	upstream *upstream
	// noProxy, set by a configure function, leaves the handler without a
	// server (and so without Serve's thread governor): for benchmarks
	// that call it directly.
	noProxy bool
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	return newFixtureWith(t, nil)
}

// newFixtureWith is newFixture with configure run on the fixture before
// its server starts (the handler is read by the server's goroutines).
func newFixtureWith(t testing.TB, configure func(*fixture)) *fixture {
	t.Helper()
	root := t.TempDir()
	home, project := filepath.Join(root, "home"), filepath.Join(root, "app")
	if err := os.MkdirAll(project, 0o700); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"AGENTSECRETS_BACKEND": "file", "AGENTSECRETS_PASSPHRASE": testPassphrase}
	s, err := vault.Open(vault.Options{Home: home, Cwd: project, Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	vctx, err := s.Init(vault.InitOptions{Dir: project, Project: "app"})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range testSecrets {
		if err := s.Set(vctx, k, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.AllowlistAdd([]string{"127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	engine, err := policies.NewEngine(context.Background(), policies.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { engine.Close(context.Background()) })
	as, err := audit.Open(filepath.Join(home, audit.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { as.Close() })
	sv := &runner.StoreVault{Store: s, Ctx: vctx, Cache: true}
	if _, err := sv.All(); err != nil { // open the backend before concurrent use
		t.Fatal(err)
	}
	r := runner.New(engine, NewBindingCache(sv), as)
	r.RedactAll = true
	token, err := NewSessionToken()
	if err != nil {
		t.Fatal(err)
	}
	h := NewHandler(r, token)
	h.Sync = func() error { sv.Refresh(); return nil }
	f := &fixture{t: t, home: home, store: s, vault: sv, audit: as, handler: h, upstream: newUpstream(t)}
	if configure != nil {
		configure(f)
	}
	if f.noProxy {
		t.Cleanup(func() { h.Close() })
		return f
	}
	f.proxy = startProxy(t, h)
	return f
}

// testProxy is the handler served by Serve on a loopback port, as the
// daemon serves it.
type testProxy struct {
	URL    string
	client *http.Client
	stop   context.CancelFunc
	served chan error
	once   sync.Once
}

func startProxy(t testing.TB, h *Handler) *testProxy {
	t.Helper()
	ln, err := Listen("127.0.0.1", 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &testProxy{URL: "http://" + ln.Addr().String(), stop: cancel, served: make(chan error, 1),
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	go func() { p.served <- Serve(ctx, ln, h) }()
	t.Cleanup(p.Close)
	return p
}

// Client is a client for the proxy.
func (p *testProxy) Client() *http.Client { return p.client }

// Close stops the server as the daemon does on SIGTERM (which also writes
// the pending audit rows) and waits for it.
func (p *testProxy) Close() {
	p.once.Do(func() {
		p.stop()
		<-p.served
		p.client.CloseIdleConnections()
	})
}

// request builds a proxied request with the session token and target path
// on the upstream.
func (f *fixture) request(method, path string, body io.Reader, headers ...string) *http.Request {
	f.t.Helper()
	req, err := http.NewRequest(method, f.proxy.URL+PathProxy, body)
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set(HeaderSessionToken, f.handler.Token)
	req.Header.Set(HeaderTargetURL, f.upstream.URL+path)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	return req
}

// do sends req and returns status and body.
func (f *fixture) do(req *http.Request) (int, http.Header, string) {
	f.t.Helper()
	resp, err := f.proxy.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// seen is what the upstream received.
type seen struct {
	Method string
	URL    string
	Header http.Header
	Body   string
}

// upstream is a loopback server that records every request and answers
// with handle (by default 200 "ok").
type upstream struct {
	*httptest.Server
	count  atomic.Int64
	mu     sync.Mutex
	last   []seen
	handle http.HandlerFunc
}

func newUpstream(t testing.TB) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.count.Add(1)
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.last = append(u.last, seen{Method: r.Method, URL: r.URL.String(), Header: r.Header.Clone(), Body: string(body)})
		h := u.handle
		u.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) setHandler(h http.HandlerFunc) {
	u.mu.Lock()
	u.handle = h
	u.mu.Unlock()
}

func (u *upstream) lastSeen(t *testing.T) seen {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.last) == 0 {
		t.Fatal("upstream saw no request")
	}
	return u.last[len(u.last)-1]
}

// noProtocolHeaders fails if any X-AS-* header reached the upstream.
func noProtocolHeaders(t *testing.T, h http.Header) {
	t.Helper()
	for name := range h {
		if strings.HasPrefix(strings.ToLower(name), "x-as-") {
			t.Errorf("upstream received protocol header %q", name)
		}
	}
}

// writeRaw answers on w's connection with raw bytes, as a hostile or
// broken upstream would, and closes it.
func writeRaw(t *testing.T, w http.ResponseWriter, raw string) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		t.Error(err)
		return
	}
	defer conn.Close()
	buf.WriteString(raw)
	buf.Flush()
}
