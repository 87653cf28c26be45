package proxy

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/The-17/agentsecrets/hostfns"
	"github.com/The-17/agentsecrets/runner"
)

func TestInjectionForms(t *testing.T) {
	f := newFixture(t)
	a, b := testSecrets["TOKEN_A"], testSecrets["TOKEN_B"]
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(testSecrets["BASIC_CREDS"]))
	tests := []struct {
		name    string
		method  string
		body    string
		headers []string
		check   func(t *testing.T, s seen)
	}{
		{"bearer", "GET", "", []string{"X-AS-Inject-Bearer", "TOKEN_A"}, func(t *testing.T, s seen) {
			wantHeader(t, s, "Authorization", "Bearer "+a)
		}},
		{"basic", "GET", "", []string{"X-AS-Inject-Basic", "BASIC_CREDS"}, func(t *testing.T, s seen) {
			wantHeader(t, s, "Authorization", basic)
		}},
		{"header seed form", "GET", "", []string{"X-AS-Inject-Header-X-Api-Key", "TOKEN_A"}, func(t *testing.T, s seen) {
			wantHeader(t, s, "X-Api-Key", a)
		}},
		{"header case-keeping form", "GET", "", []string{"X-AS-Inject-Header", "X-Org-Secret=TOKEN_B"}, func(t *testing.T, s seen) {
			wantHeader(t, s, "X-Org-Secret", b)
		}},
		{"query seed form is lower case", "GET", "", []string{"X-AS-Inject-Query-api_key", "TOKEN_A"}, func(t *testing.T, s seen) {
			wantQuery(t, s, "api_key", a)
		}},
		{"query case-keeping form", "GET", "", []string{"X-AS-Inject-Query", "apiKey=TOKEN_A"}, func(t *testing.T, s seen) {
			wantQuery(t, s, "apiKey", a)
			wantQuery(t, s, "apikey", "")
		}},
		{"query comma-separated", "GET", "", []string{"X-AS-Inject-Query", "one=TOKEN_A, Two=TOKEN_B"}, func(t *testing.T, s seen) {
			wantQuery(t, s, "one", a)
			wantQuery(t, s, "Two", b)
		}},
		{"query repeated", "GET", "", []string{"X-AS-Inject-Query", "one=TOKEN_A", "X-AS-Inject-Query", "Two=TOKEN_B"}, func(t *testing.T, s seen) {
			wantQuery(t, s, "one", a)
			wantQuery(t, s, "Two", b)
		}},
		{"body seed form", "POST", `{"amount":1}`, []string{"X-AS-Inject-Body-token", "TOKEN_A", "Content-Type", "application/json"}, func(t *testing.T, s seen) {
			wantJSON(t, s, map[string]any{"amount": 1.0, "token": a})
		}},
		{"body case-keeping form", "POST", `{"amount":1}`, []string{"X-AS-Inject-Body", "auth.clientSecret=TOKEN_B", "Content-Type", "application/json"}, func(t *testing.T, s seen) {
			wantJSON(t, s, map[string]any{"amount": 1.0, "auth": map[string]any{"clientSecret": b}})
		}},
		{"form seed form", "POST", "grant_type=client_credentials", []string{"X-AS-Inject-Form-client_secret", "TOKEN_A", "Content-Type", "application/x-www-form-urlencoded"}, func(t *testing.T, s seen) {
			wantForm(t, s, "client_secret", a)
			wantForm(t, s, "grant_type", "client_credentials")
		}},
		{"form case-keeping form", "POST", "grant_type=x", []string{"X-AS-Inject-Form", "clientSecret=TOKEN_B", "Content-Type", "application/x-www-form-urlencoded"}, func(t *testing.T, s seen) {
			wantForm(t, s, "clientSecret", b)
		}},
		{"several styles at once", "GET", "", []string{"X-AS-Inject-Bearer", "TOKEN_A", "X-AS-Inject-Header", "X-Org=TOKEN_B", "X-AS-Inject-Query", "k=TOKEN_C"}, func(t *testing.T, s seen) {
			wantHeader(t, s, "Authorization", "Bearer "+a)
			wantHeader(t, s, "X-Org", b)
			wantQuery(t, s, "k", testSecrets["TOKEN_C"])
		}},
		{"X-AS-Method overrides the method", "POST", "", []string{"X-AS-Method", "delete", "X-AS-Inject-Bearer", "TOKEN_A"}, func(t *testing.T, s seen) {
			if s.Method != "DELETE" {
				t.Errorf("method %s, want DELETE", s.Method)
			}
		}},
		{"plain headers pass through", "GET", "", []string{"X-Trace-Id", "trace-1", "Accept", "application/json"}, func(t *testing.T, s seen) {
			wantHeader(t, s, "X-Trace-Id", "trace-1")
			wantHeader(t, s, "Accept", "application/json")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			headers := append([]string{"X-AS-Agent-ID", "tester", "Connection", "X-Hop", "X-Hop", "1"}, tc.headers...)
			status, _, out := f.do(f.request(tc.method, "/path?keep=1", body, headers...))
			if status != http.StatusOK || out != "ok" {
				t.Fatalf("status %d body %q", status, out)
			}
			s := f.upstream.lastSeen(t)
			noProtocolHeaders(t, s.Header)
			if s.Header.Get("X-Hop") != "" {
				t.Error("a header named by Connection reached the upstream")
			}
			wantQuery(t, s, "keep", "1")
			for name, values := range s.Header {
				if strings.Contains(strings.Join(values, ","), f.handler.Token) {
					t.Errorf("session token reached the upstream in %s", name)
				}
			}
			tc.check(t, s)
		})
	}
}

func wantHeader(t *testing.T, s seen, name, want string) {
	t.Helper()
	if got := s.Header.Get(name); got != want {
		t.Errorf("upstream header %s = %q, want %q", name, got, want)
	}
}

func wantQuery(t *testing.T, s seen, name, want string) {
	t.Helper()
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	if got := u.Query().Get(name); got != want {
		t.Errorf("upstream query %s = %q, want %q (url %s)", name, got, want, s.URL)
	}
}

func wantJSON(t *testing.T, s seen, want map[string]any) {
	t.Helper()
	var got map[string]any
	if err := json.Unmarshal([]byte(s.Body), &got); err != nil {
		t.Fatalf("upstream body %q: %v", s.Body, err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("upstream body %v, want %v", got, want)
	}
}

func wantForm(t *testing.T, s seen, name, want string) {
	t.Helper()
	v, err := url.ParseQuery(s.Body)
	if err != nil {
		t.Fatalf("upstream body %q: %v", s.Body, err)
	}
	if got := v.Get(name); got != want {
		t.Errorf("upstream form %s = %q, want %q", name, got, want)
	}
}

func TestSessionTokenInAuthorizationIsNotForwarded(t *testing.T) {
	f := newFixture(t)
	req := f.request("GET", "/", nil)
	req.Header.Del(HeaderSessionToken)
	req.Header.Set("Authorization", "Bearer "+f.handler.Token)
	if status, _, body := f.do(req); status != http.StatusOK {
		t.Fatalf("status %d: %s", status, body)
	}
	if got := f.upstream.lastSeen(t).Header.Get("Authorization"); got != "" {
		t.Errorf("upstream got Authorization %q", got)
	}

	// A client's own Authorization passes when the token is in X-AS-Session-Token.
	req = f.request("GET", "/", nil, "Authorization", "Bearer client-own")
	if status, _, body := f.do(req); status != http.StatusOK {
		t.Fatalf("status %d: %s", status, body)
	}
	if got := f.upstream.lastSeen(t).Header.Get("Authorization"); got != "Bearer client-own" {
		t.Errorf("upstream got Authorization %q, want the client's", got)
	}
}

func TestRefusedRequestsNeverReachUpstream(t *testing.T) {
	f := newFixtureWith(t, func(f *fixture) { f.handler.MaxBody = 1024 })
	tests := []struct {
		name   string
		mutate func(r *http.Request)
		status int
		code   string
	}{
		{"no session token", func(r *http.Request) { r.Header.Del(HeaderSessionToken) }, 401, CodeUnauthorized},
		{"wrong session token", func(r *http.Request) { r.Header.Set(HeaderSessionToken, strings.Repeat("0", 64)) }, 401, CodeUnauthorized},
		{"token twice", func(r *http.Request) { r.Header.Add(HeaderSessionToken, "x") }, 401, CodeUnauthorized},
		{"wrong bearer", func(r *http.Request) {
			r.Header.Del(HeaderSessionToken)
			r.Header.Set("Authorization", "Bearer nope")
		}, 401, CodeUnauthorized},
		{"non-loopback Host", func(r *http.Request) { r.Host = "attacker.example:8765" }, 403, CodeHostNotLoopback},
		{"loopback-looking Host", func(r *http.Request) { r.Host = "127.0.0.1.attacker.example" }, 403, CodeHostNotLoopback},
		{"blocked domain", func(r *http.Request) {
			r.Header.Set(HeaderTargetURL, strings.Replace(f.upstream.URL, "127.0.0.1", "localhost", 1))
		}, 403, CodeDomainNotAllowed},
		{"metadata host", func(r *http.Request) { r.Header.Set(HeaderTargetURL, "http://169.254.169.254/latest") }, 403, CodeAddressRefused},
		{"missing secret", func(r *http.Request) { r.Header.Set("X-AS-Inject-Bearer", "NO_SUCH_KEY") }, 404, CodeSecretNotFound},
		{"missing target", func(r *http.Request) { r.Header.Del(HeaderTargetURL) }, 400, CodeMissingTarget},
		{"unknown X-AS header", func(r *http.Request) { r.Header.Set("X-AS-Inject-Baerer", "TOKEN_A") }, 400, CodeBadHeader},
		{"lower-case key name", func(r *http.Request) { r.Header.Set("X-AS-Inject-Bearer", "token_a") }, 400, CodeBadHeader},
		{"target not http", func(r *http.Request) { r.Header.Set(HeaderTargetURL, "file:///etc/passwd") }, 400, CodeBadHeader},
		{"policy path", func(r *http.Request) { r.Header.Set(HeaderPolicy, "/tmp/evil.wasm") }, 400, CodeBadHeader},
		{"body too large", func(r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader(strings.Repeat("x", 2048)))
			r.ContentLength = -1
		}, 413, CodeBodyTooLarge},
		{"unknown path", func(r *http.Request) { r.URL.Path = "/other" }, 404, CodeNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := f.request("POST", "/", nil, "X-AS-Inject-Bearer", "TOKEN_A")
			tc.mutate(req)
			status, h, body := f.do(req)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			var e Error
			if err := json.Unmarshal([]byte(body), &e); err != nil || e.Code != tc.code || e.Message == "" {
				t.Fatalf("body %q, want JSON error %q", body, tc.code)
			}
			if ct := h.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			for _, v := range testSecrets {
				if strings.Contains(body, v) {
					t.Errorf("error body carries a secret value")
				}
			}
		})
	}
	if n := f.upstream.count.Load(); n != 0 {
		t.Errorf("upstream received %d requests, want 0", n)
	}
}

func TestHealth(t *testing.T) {
	f := newFixture(t)
	resp, err := http.Get(f.proxy.URL + PathHealth)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "{\"status\":\"ok\"}\n" {
		t.Errorf("health: %d %q", resp.StatusCode, body)
	}
	if err := Health(context.Background(), strings.TrimPrefix(f.proxy.URL, "http://")); err != nil {
		t.Errorf("Health: %v", err)
	}
	req, _ := http.NewRequest("GET", f.proxy.URL+PathHealth, nil)
	req.Host = "rebound.example"
	if status, _, _ := f.do(req); status != http.StatusForbidden {
		t.Errorf("health with a foreign Host: %d, want 403", status)
	}
}

func TestSyncRereadsAllowlist(t *testing.T) {
	f := newFixture(t)
	target := strings.Replace(f.upstream.URL, "127.0.0.1", "localhost", 1)
	req := func() *http.Request {
		r := f.request("GET", "/", nil, "X-AS-Inject-Bearer", "TOKEN_A")
		r.Header.Set(HeaderTargetURL, target)
		return r
	}
	if status, _, _ := f.do(req()); status != http.StatusForbidden {
		t.Fatalf("before allowlisting: %d, want 403", status)
	}
	if _, err := f.store.AllowlistAdd([]string{"localhost"}); err != nil {
		t.Fatal(err)
	}
	if status, _, _ := f.do(req()); status != http.StatusForbidden {
		t.Fatalf("allowlist is cached until sync, got %d", status)
	}
	if err := RequestSync(context.Background(), strings.TrimPrefix(f.proxy.URL, "http://"), f.handler.Token); err != nil {
		t.Fatal(err)
	}
	if status, _, body := f.do(req()); status != http.StatusOK {
		t.Fatalf("after sync: %d %s", status, body)
	}
	if err := RequestSync(context.Background(), strings.TrimPrefix(f.proxy.URL, "http://"), "wrong"); err == nil {
		t.Error("sync with a wrong token succeeded")
	}
}

func TestConcurrentRequestsEachGetTheirCredential(t *testing.T) {
	f := newFixture(t)
	keys := []string{"TOKEN_A", "TOKEN_B", "TOKEN_C", "TOKEN_D"}
	byValue := map[string]string{}
	for _, k := range keys {
		byValue["Bearer "+testSecrets[k]] = k
	}
	f.upstream.setHandler(func(w http.ResponseWriter, r *http.Request) {
		// Answer with the key name the credential belongs to and the id.
		fmt.Fprintf(w, "%s %s", byValue[r.Header.Get("Authorization")], r.Header.Get("X-Req"))
	})
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := keys[i%len(keys)]
			req := f.request("GET", "/", nil, "X-AS-Inject-Bearer", key, "X-Req", fmt.Sprint(i))
			resp, err := f.proxy.Client().Do(req)
			if err != nil {
				errs <- err
				return
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if want := fmt.Sprintf("%s %d", key, i); err != nil || resp.StatusCode != 200 || string(body) != want {
				errs <- fmt.Errorf("request %d: %d %q, want %q (%v)", i, resp.StatusCode, body, want, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := f.upstream.count.Load(); got != n {
		t.Errorf("upstream saw %d requests, want %d", got, n)
	}
}

func TestSSEArrivesProgressivelyAndRedacted(t *testing.T) {
	f := newFixture(t)
	secret := testSecrets["TOKEN_A"]
	release := make(chan struct{})
	f.upstream.setHandler(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "data: first echoes %s\n\n", secret)
		w.(http.Flusher).Flush()
		<-release
		fmt.Fprintf(w, "data: second %s\n\n", base64.StdEncoding.EncodeToString([]byte(secret)))
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := f.request("GET", "/events", nil, "X-AS-Inject-Bearer", "TOKEN_A").WithContext(ctx)
	resp, err := f.proxy.Client().Do(req)
	if err != nil {
		close(release)
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	first, err := br.ReadString('\n')
	// The upstream has not sent the second event yet: the first one
	// arrived on its own.
	close(release)
	if err != nil {
		t.Fatalf("first event: %v", err)
	}
	if strings.Contains(first, secret) || !strings.Contains(first, "[REDACTED_BY_AGENTSECRETS]") {
		t.Errorf("first event not redacted: %q", first)
	}
	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rest), "data: second [REDACTED_BY_AGENTSECRETS]") {
		t.Errorf("second event not redacted: %q", rest)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q", ct)
	}
}

func TestServeShutdownLetsInFlightRequestsFinish(t *testing.T) {
	f := newFixture(t)
	started, release := make(chan struct{}), make(chan struct{})
	f.upstream.setHandler(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "finished")
	})
	ln, err := Listen("127.0.0.1", 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, ln, f.handler) }()
	type result struct {
		body string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		req := f.request("GET", "/slow", nil)
		req.URL.Host = ln.Addr().String()
		req.Host = ln.Addr().String()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			got <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- result{string(b), err}
	}()
	<-started
	cancel() // shut down while the request is in flight
	close(release)
	r := <-got
	if r.err != nil || r.body != "finished" {
		t.Errorf("in-flight request: %q, %v", r.body, r.err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c.Close()
		t.Error("the listener still accepts connections after shutdown")
	}
}

func TestCallErrorCodes(t *testing.T) {
	tests := []struct {
		err    error
		status int
		code   string
	}{
		{&runner.HostError{Host: "api.example", Err: runner.ErrNotAllowed}, 403, CodeDomainNotAllowed},
		{&runner.HostError{Host: "api.example", Key: "K", Err: runner.ErrNotBound}, 403, CodeSecretNotBound},
		{fmt.Errorf("%w: x", runner.ErrSSRF), 403, CodeAddressRefused},
		{fmt.Errorf("%w: x", runner.ErrPolicyDenied), 403, CodePolicyDenied},
		{fmt.Errorf("%w: x", runner.ErrSecretMissing), 404, CodeSecretNotFound},
		{fmt.Errorf("%w: x", runner.ErrBadRequest), 400, CodeBadHeader},
		{fmt.Errorf("%w: x", runner.ErrUpstream), 502, CodeUpstreamUnreachable},
		{fmt.Errorf("%w: x", runner.ErrUnsafeResponse), 502, CodeResponseRefused},
		{fmt.Errorf("%w: x", runner.ErrTimeout), 504, CodeUpstreamTimeout},
		{errors.New("vault locked"), 500, CodeInternal},
	}
	for _, tc := range tests {
		e := callError(tc.err)
		if e.Status != tc.status || e.Code != tc.code || e.Message != tc.err.Error() {
			t.Errorf("%v: got %d %s %q, want %d %s", tc.err, e.Status, e.Code, e.Message, tc.status, tc.code)
		}
	}
}

// TestCallErrorKeepsTheHostsHint: a policy denial the host explained (a
// key too short to sign with) answers with the host's hint, which names
// the key and never its value.
func TestCallErrorKeepsTheHostsHint(t *testing.T) {
	err := fmt.Errorf("%w: %w", runner.ErrPolicyDenied, &hostfns.ShortKeyError{Key: "PIN"})
	e := callError(err)
	if e.Code != CodePolicyDenied || !strings.Contains(e.Hint, "PIN") || !strings.Contains(e.Hint, "short") {
		t.Errorf("got %s with hint %q, want policy_denied with the host's hint", e.Code, e.Hint)
	}
}

// TestProtocolHeadersInAnyCase sends the protocol headers over a raw
// connection in lower and odd case, as clients other than Go's may: they
// are recognised, the injection happens and none of them is forwarded.
func TestProtocolHeadersInAnyCase(t *testing.T) {
	f := newFixture(t)
	conn, err := net.Dial("tcp", strings.TrimPrefix(f.proxy.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	raw := "GET /proxy HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
		"x-as-session-token: " + f.handler.Token + "\r\n" +
		"X-AS-TARGET-URL: " + f.upstream.URL + "/v1/case\r\n" +
		"x-As-InJeCt-bearer: TOKEN_A\r\n" +
		"x-as-inject-header: X-Api-Key=TOKEN_B\r\n" +
		"Connection: close\r\n\r\n"
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	got := f.upstream.lastSeen(t)
	if got.Header.Get("Authorization") != "Bearer "+testSecrets["TOKEN_A"] || got.Header.Get("X-Api-Key") != testSecrets["TOKEN_B"] {
		t.Errorf("upstream did not receive both injected credentials: %v", got.Header)
	}
	noProtocolHeaders(t, got.Header)
}

// heapRetained keeps the buffer of TestServeDropsStartupGarbage alive
// across a collection, as the key derivation's is while it runs.
var heapRetained []byte

// TestServeDropsStartupGarbage: opening the vault can leave 64 MiB of
// Argon2id work memory behind; Serve collects it before raising the
// collector's target, so the heap goal is set from the proxy's real live
// data, not five times the key derivation's.
func TestServeDropsStartupGarbage(t *testing.T) {
	if os.Getenv("GOGC") != "" {
		t.Skip("GOGC is set: Serve leaves the collector alone")
	}
	f := newFixture(t)
	runtime.GC()
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(live)
	base := live[0].Value.Uint64() // what the process holds anyway
	const garbage = 64 << 20
	heapRetained = make([]byte, garbage)
	runtime.GC() // collected while the buffer is live, as during the derivation
	heapRetained = nil
	p := startProxy(t, f.handler)
	resp, err := p.Client().Get(p.URL + PathHealth)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	goal := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
	metrics.Read(goal)
	// Set from the real live heap the goal is about base*(1+GCPercent/100);
	// set from the garbage too, it is garbage*(1+GCPercent/100) more.
	limit := (base + garbage/2) * (100 + GCPercent) / 100
	if g := goal[0].Value.Uint64(); g > limit {
		t.Errorf("heap goal %d MiB while serving (live heap before %d MiB): the startup garbage set it", g>>20, base>>20)
	}
}
