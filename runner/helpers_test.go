package runner

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/The-17/agentsecrets/policies"
	"github.com/The-17/agentsecrets/runner/audit"
	"github.com/The-17/agentsecrets/runner/redact"
)

// testSecret has every character that an encoding treats specially: JSON
// (" \), base64 (+ / =), URL (& % + / =) and a non-ASCII letter.
const testSecret = `sk_live_Ab+/=&%"\é9xYz0123456789`

// fakeVault is an in-memory Vault that counts value reads, so tests can
// prove a refused call never touched a value.
type fakeVault struct {
	mu        sync.Mutex
	values    map[string][]byte
	bindings  map[string][]string
	allowlist []string
	reads     int
}

func newFakeVault(allowlist []string, values map[string]string) *fakeVault {
	v := &fakeVault{values: map[string][]byte{}, bindings: map[string][]string{}, allowlist: allowlist}
	for k, val := range values {
		v.values[k] = []byte(val)
	}
	return v
}

func (v *fakeVault) Secret(key string) ([]byte, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.reads++
	val, ok := v.values[key]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrSecretMissing, key)
	}
	return bytes.Clone(val), nil
}

func (v *fakeVault) Bindings(key string) ([]string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.values[key]; !ok {
		return nil, fmt.Errorf("%w: %q", ErrSecretMissing, key)
	}
	return v.bindings[key], nil
}

func (v *fakeVault) Allowlist() ([]string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.allowlist), nil
}

func (v *fakeVault) All() ([][]byte, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out [][]byte
	for _, val := range v.values {
		out = append(out, bytes.Clone(val))
	}
	return out, nil
}

func (v *fakeVault) Where() (string, string, string) { return "default", "billing", "development" }

func (v *fakeVault) valueReads() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.reads
}

var sharedEngine = sync.OnceValues(func() (*policies.Engine, error) {
	return policies.NewEngine(context.Background(), policies.Config{})
})

func testEngine(tb testing.TB) *policies.Engine {
	tb.Helper()
	e, err := sharedEngine()
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// newTestRunner returns a Runner on the shared engine with a memory sink and
// a transport that counts dials.
func newTestRunner(tb testing.TB, v Vault) (*Runner, *audit.MemorySink, *dialCounter) {
	tb.Helper()
	sink := &audit.MemorySink{}
	r := New(testEngine(tb), v, sink)
	t := NewTransport()
	dc := &dialCounter{inner: t.DialContext}
	t.DialContext = dc.DialContext
	r.Transport = t
	tb.Cleanup(t.CloseIdleConnections)
	return r, sink, dc
}

// dialCounter counts the connections the transport tries to open. Its
// resolve map stands in for DNS: a name in it dials the mapped IP, as a
// hostile resolver would answer.
type dialCounter struct {
	inner   func(ctx context.Context, network, addr string) (net.Conn, error)
	resolve map[string]string
	mu      sync.Mutex
	n       int
}

func (d *dialCounter) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.n++
	d.mu.Unlock()
	if host, port, err := net.SplitHostPort(addr); err == nil {
		if ip, ok := d.resolve[host]; ok {
			addr = net.JoinHostPort(ip, port)
		}
	}
	return d.inner(ctx, network, addr)
}

func (d *dialCounter) dials() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n
}

// received is one request as the upstream saw it.
type received struct {
	Method string
	URL    string
	Host   string
	Header http.Header
	Body   []byte
}

// upstream is a loopback HTTP server that records every request, parsed
// and as raw bytes on the wire.
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []received
	wire bytes.Buffer
}

// newUpstream starts a server on 127.0.0.1 that records each request and
// then calls h (nil: echo the request back, headers and body).
func newUpstream(tb testing.TB, h http.HandlerFunc) *upstream {
	tb.Helper()
	return newUpstreamOn(tb, "127.0.0.1:0", h)
}

func newUpstreamOn(tb testing.TB, addr string, h http.HandlerFunc) *upstream {
	tb.Helper()
	if h == nil {
		h = echoHandler
	}
	u := &upstream{}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	u.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		u.mu.Lock()
		u.reqs = append(u.reqs, received{Method: r.Method, URL: r.URL.String(), Host: r.Host, Header: r.Header.Clone(), Body: body})
		u.mu.Unlock()
		h(w, r)
	}))
	u.Server.Listener = &tapListener{Listener: ln, u: u}
	u.Start()
	tb.Cleanup(u.Close)
	return u
}

func (u *upstream) requests() []received {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.reqs)
}

func (u *upstream) rawWire() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.wire.String()
}

// hostPort is the upstream's address, e.g. "127.0.0.1:41234".
func (u *upstream) hostPort() string { return u.Listener.Addr().String() }

// tapListener copies every byte clients send into the upstream's wire log.
type tapListener struct {
	net.Listener
	u *upstream
}

func (l *tapListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &tapConn{Conn: c, u: l.u}, nil
}

type tapConn struct {
	net.Conn
	u *upstream
}

func (c *tapConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.u.mu.Lock()
	c.u.wire.Write(p[:n])
	c.u.mu.Unlock()
	return n, err
}

// echoHandler answers with everything the request carried: method, URL,
// every header and the body, so any credential comes straight back.
func echoHandler(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", r.Method, r.URL.String())
	names := make([]string, 0, len(r.Header))
	for k := range r.Header {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		for _, v := range r.Header[k] {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
			w.Header().Add("X-Echo-"+k, v)
		}
	}
	b.WriteString("\n")
	b.Write(body)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, b.String())
}

// output is everything a caller can see of a result: status, every header
// and the whole body.
func output(tb testing.TB, res *Result) string {
	tb.Helper()
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatalf("reading result body: %v", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "status %d\n", res.Status)
	for k, vs := range res.Header {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	b.WriteString("\n")
	b.Write(body)
	return b.String()
}

// leakedForms lists every encoding of secret (redact.Forms) and every run
// of redact.PartialRun bytes of it that occurs in text.
func leakedForms(text string, secret []byte) []string {
	var found []string
	for _, f := range redact.Forms(secret) {
		if strings.Contains(text, string(f)) {
			found = append(found, string(f))
		}
	}
	for i := 0; i+redact.PartialRun <= len(secret); i++ {
		if w := string(secret[i : i+redact.PartialRun]); strings.Contains(text, w) {
			found = append(found, w)
		}
	}
	return found
}

// assertNoLeak fails when text holds any encoding of any of the secrets.
func assertNoLeak(tb testing.TB, what, text string, secrets ...string) {
	tb.Helper()
	for _, s := range secrets {
		if found := leakedForms(text, []byte(s)); len(found) > 0 {
			tb.Errorf("%s leaks %d form(s) of a secret, e.g. %q", what, len(found), found[0])
		}
	}
}

// carriesCredential reports whether a received request holds the secret
// (raw, or in any encoding) anywhere: URL, headers or body.
func carriesCredential(r received, secret string) bool {
	var b strings.Builder
	b.WriteString(r.URL + "\n")
	for k, vs := range r.Header {
		b.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
	}
	b.Write(r.Body)
	return len(leakedForms(b.String(), []byte(secret))) > 0
}

func spec(name string, kv ...string) policies.Spec {
	p := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		p[kv[i]] = kv[i+1]
	}
	return policies.Spec{Name: name, Params: p}
}

// acceptEach serves every connection ln accepts with serve, each on its
// own goroutine, until ln is closed; wg counts the loop and each serve,
// which must call wg.Done when it returns.
func acceptEach(ln net.Listener, wg *sync.WaitGroup, serve func(net.Conn)) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go serve(c)
		}
	}()
}
