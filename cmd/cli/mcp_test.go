package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/The-17/agentsecrets/runner/audit"
	"github.com/The-17/agentsecrets/runner/mcpserver"
	"github.com/The-17/agentsecrets/runner/redact"
	"github.com/The-17/agentsecrets/vault"
	"github.com/The-17/agentsecrets/vault/keychain"
)

// mcpVault is a temporary agentsecrets home with a project "app", seeded
// through the vault API.
type mcpVault struct {
	env   map[string]string
	store *vault.Store
	ctx   vault.Context
}

func newMCPVault(t *testing.T) *mcpVault {
	t.Helper()
	dir := t.TempDir()
	env := map[string]string{
		"AGENTSECRETS_HOME":       filepath.Join(dir, "home"),
		"AGENTSECRETS_BACKEND":    keychain.KindFile,
		"AGENTSECRETS_PASSPHRASE": testPassphrase,
		"AGENTSECRETS_NO_TTY":     "1",
		"HOME":                    filepath.Join(dir, "user"),
	}
	s, err := vault.Open(vault.Options{Cwd: dir, Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateProject("app", ""); err != nil {
		t.Fatal(err)
	}
	if err := s.UseProject("app"); err != nil {
		t.Fatal(err)
	}
	ctx, err := s.Context()
	if err != nil {
		t.Fatal(err)
	}
	return &mcpVault{env: env, store: s, ctx: ctx}
}

func (v *mcpVault) getenv(k string) string { return v.env[k] }

func (v *mcpVault) set(t *testing.T, key, value string) {
	t.Helper()
	if err := v.store.Set(v.ctx, key, []byte(value)); err != nil {
		t.Fatal(err)
	}
}

func (v *mcpVault) allow(t *testing.T, domains ...string) {
	t.Helper()
	if _, err := v.store.AllowlistAdd(domains); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a bytes.Buffer safe for a server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startMCP runs `agentsecrets mcp serve args...` in process on pipes and
// connects the official SDK's client to it. Cleanup closes the session and
// wants the command to exit 0.
func startMCP(t *testing.T, v *mcpVault, args ...string) (*mcp.ClientSession, *syncBuffer) {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	stderr := &syncBuffer{}
	code := make(chan int, 1)
	go func() {
		code <- Run(append([]string{"mcp", "serve"}, args...), NewIOStreams(inR, outW, stderr, v.getenv), v.getenv)
		outW.Close()
	}()
	client := mcp.NewClient(&mcp.Implementation{Name: "cli-test", Version: "1"}, nil)
	cs, err := client.Connect(context.Background(), &mcp.IOTransport{Reader: outR, Writer: inW}, nil)
	if err != nil {
		t.Fatalf("connect: %v\nstderr:\n%s", err, stderr)
	}
	t.Cleanup(func() {
		cs.Close()
		select {
		case c := <-code:
			if c != 0 {
				t.Errorf("mcp serve exited %d\nstderr:\n%s", c, stderr)
			}
		case <-time.After(30 * time.Second):
			t.Error("mcp serve did not exit after the client closed the session")
		}
	})
	return cs, stderr
}

// echoUpstream is a loopback API that answers with every credential it got,
// raw and encoded, in a header and in the body.
type echoUpstream struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []echoRequest
}

type echoRequest struct {
	Auth, APIKey, QueryKey, ContentType, Body string
}

func newEchoUpstream(t *testing.T) *echoUpstream {
	u := &echoUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req := echoRequest{Auth: r.Header.Get("Authorization"), APIKey: r.Header.Get("X-Api-Key"),
			QueryKey: r.URL.Query().Get("key"), ContentType: r.Header.Get("Content-Type"), Body: string(body)}
		u.mu.Lock()
		u.reqs = append(u.reqs, req)
		u.mu.Unlock()
		token := strings.TrimPrefix(req.Auth, "Bearer ")
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Echo", req.Auth)
		json.NewEncoder(w).Encode(map[string]string{
			"authorization": req.Auth, "x_api_key": req.APIKey, "query_key": req.QueryKey,
			"base64": base64.StdEncoding.EncodeToString([]byte(token)), "hex": hex.EncodeToString([]byte(token)),
			"url": url.QueryEscape(req.APIKey), "note": "echo",
		})
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *echoUpstream) requests() []echoRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.reqs)
}

func randomSecret(prefix string) string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

func callMCP(t *testing.T, cs *mcp.ClientSession, tool string, args any) (*mcp.CallToolResult, string) {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	raw, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(raw)
}

func resultText(res *mcp.CallToolResult) string { return mcpserver.ResultText(res) }

// assertNoValue fails if any form of the values appears in where.
func assertNoValue(t *testing.T, what, where string, values ...string) {
	t.Helper()
	for _, v := range values {
		for form, enc := range encodings(v) {
			if strings.Contains(where, enc) {
				t.Errorf("%s holds the %s form of a secret", what, form)
			}
		}
	}
}

func TestMCPServeCallsWithRedaction(t *testing.T) {
	v := newMCPVault(t)
	secret, other := randomSecret("sk_live_"), randomSecret("sg_")
	v.set(t, "STRIPE_KEY", secret)
	v.set(t, "SENDGRID_KEY", other)
	v.allow(t, "127.0.0.1")
	up := newEchoUpstream(t)
	cs, stderr := startMCP(t, v, "--agent", "test-agent")

	tools, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range tools.Tools {
		names = append(names, tool.Name)
		for _, rule := range []string{"agentsecrets secrets set KEY", "agentsecrets workspace allowlist add DOMAIN", "Never put a secret value"} {
			if !strings.Contains(tool.Description, rule) {
				t.Errorf("%s: description lacks %q", tool.Name, rule)
			}
		}
	}
	slices.Sort(names)
	if want := []string{"api_call", "audit_logs", "check_secret", "list_environments", "list_secrets", "status"}; !slices.Equal(names, want) {
		t.Fatalf("tools %v, want %v", names, want)
	}

	res, raw := callMCP(t, cs, mcpserver.ToolAPICall, map[string]any{
		"url": up.URL + "/v1/echo?plain=1", "method": "post", "bearer": []string{"STRIPE_KEY"},
		"header": []string{"X-Api-Key=SENDGRID_KEY"}, "query": []string{"key=STRIPE_KEY"},
		"headers": map[string]string{"Accept": "application/json"}, "body": `{"hello":"world"}`,
	})
	if res.IsError {
		t.Fatalf("api_call failed: %s", resultText(res))
	}
	got := up.requests()
	if len(got) != 1 {
		t.Fatalf("upstream got %d requests, want 1", len(got))
	}
	want := echoRequest{Auth: "Bearer " + secret, APIKey: other, QueryKey: secret, ContentType: "application/json", Body: `{"hello":"world"}`}
	if got[0] != want {
		t.Error("upstream did not receive the credentials and body asked for")
	}
	assertNoValue(t, "api_call result", raw, secret, other)
	var out mcpserver.APICallOutput
	data, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	if out.Status != 200 || out.Redactions < 5 || out.Headers["X-Echo"] != "Bearer [REDACTED_BY_AGENTSECRETS]" {
		t.Errorf("status %d, redactions %d, X-Echo %q", out.Status, out.Redactions, out.Headers["X-Echo"])
	}
	body, _ := out.Body.(map[string]any)
	if body["note"] != "echo" || body["x_api_key"] != "[REDACTED_BY_AGENTSECRETS]" {
		t.Errorf("structured body %v", out.Body)
	}
	if text := resultText(res); !strings.HasPrefix(text, "HTTP 200 OK\n") || !strings.Contains(text, "[REDACTED_BY_AGENTSECRETS]") {
		t.Errorf("text content %q", text)
	}

	// The read-only tools name keys, never values.
	for _, tc := range []struct {
		tool string
		args any
		want []string
	}{
		{mcpserver.ToolListSecrets, nil, []string{`"STRIPE_KEY"`, `"SENDGRID_KEY"`, `"missing":["staging","production"]`}},
		{mcpserver.ToolCheckSecret, map[string]any{"key": "STRIPE_KEY"}, []string{`"exists":true`, `"development":true`}},
		{mcpserver.ToolCheckSecret, map[string]any{"key": "ABSENT_KEY"}, []string{`"exists":false`, "agentsecrets secrets set ABSENT_KEY --env development"}},
		{mcpserver.ToolAuditLogs, map[string]any{"secret": "STRIPE_KEY"}, []string{`"source":"mcp"`, `"agent":"test-agent"`, `"STRIPE_KEY"`, `"decision":"ok"`, `"status":200`}},
		{mcpserver.ToolAuditLogs, map[string]any{"agent": "someone-else"}, []string{`"entries":[]`}},
		{mcpserver.ToolStatus, nil, []string{`"state":"OK"`, `"project":"app"`, `"agent":"test-agent"`}},
		{mcpserver.ToolListEnvironments, nil, []string{`{"active":true,"name":"development","secrets":2}`}},
	} {
		res, raw := callMCP(t, cs, tc.tool, tc.args)
		if res.IsError {
			t.Errorf("%s: %s", tc.tool, resultText(res))
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(raw, w) {
				t.Errorf("%s %v: result lacks %s:\n%s", tc.tool, tc.args, w, raw)
			}
		}
		assertNoValue(t, tc.tool+" result", raw, secret, other)
	}
	assertNoValue(t, "stderr", stderr.String(), secret, other)
	if !strings.Contains(stderr.String(), "api_call") {
		t.Errorf("stderr has no log of the call:\n%s", stderr)
	}
}

func TestMCPServeRefusesWithHints(t *testing.T) {
	v := newMCPVault(t)
	secret := randomSecret("sk_live_")
	v.set(t, "STRIPE_KEY", secret)
	v.set(t, "BOUND_KEY", secret+"b")
	if err := v.store.SetBinding(v.ctx, "BOUND_KEY", []string{"api.example.com"}); err != nil {
		t.Fatal(err)
	}
	v.allow(t, "127.0.0.1")
	up := newEchoUpstream(t)
	port := up.Listener.Addr().(interface{ String() string }).String()[len("127.0.0.1:"):]
	cs, stderr := startMCP(t, v)

	tests := []struct {
		name string
		args map[string]any
		want []string
	}{
		{"domain not allowlisted", map[string]any{"url": "http://localhost:" + port + "/", "bearer": []string{"STRIPE_KEY"}},
			[]string{"DOMAIN_NOT_ALLOWED", "agentsecrets workspace allowlist add localhost"}},
		{"host with shell characters", map[string]any{"url": "http://x;touch$IFS$HOME/", "bearer": []string{"STRIPE_KEY"}},
			[]string{"DOMAIN_NOT_ALLOWED", "not a plain DNS name"}},
		{"missing key", map[string]any{"url": up.URL, "bearer": []string{"NOPE_KEY"}},
			[]string{"SECRET_NOT_FOUND", "NOPE_KEY", "agentsecrets secrets set NOPE_KEY"}},
		{"key bound elsewhere", map[string]any{"url": up.URL, "header": []string{"X-Api-Key=BOUND_KEY"}},
			[]string{"SECRET_NOT_BOUND", "BOUND_KEY"}},
		{"bad injection", map[string]any{"url": up.URL, "header": []string{"no-equals-sign"}},
			[]string{"BAD_REQUEST", "hint: api_call takes the forms"}},
		{"reserved header", map[string]any{"url": up.URL, "headers": map[string]string{"X-AS-Target-URL": "x"}},
			[]string{"BAD_REQUEST", "reserved"}},
		{"timeout too long", map[string]any{"url": up.URL, "timeout": 86400},
			[]string{"BAD_REQUEST", "timeout"}},
		{"timeout beyond a duration", map[string]any{"url": up.URL, "timeout": 1e300},
			[]string{"BAD_REQUEST", "timeout"}},
		// A path would let the model read any file (or /dev/zero) as a policy.
		{"policy given as a path", map[string]any{"url": up.URL, "policy": []string{"/dev/zero"}},
			[]string{"BAD_REQUEST", "file path", "agentsecrets policy add NAME FILE.wasm"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, raw := callMCP(t, cs, mcpserver.ToolAPICall, tc.args)
			if !res.IsError {
				t.Fatalf("want a tool error, got %s", resultText(res))
			}
			for _, w := range tc.want {
				if !strings.Contains(resultText(res), w) {
					t.Errorf("error %q lacks %q", resultText(res), w)
				}
			}
			assertNoValue(t, "error result", raw, secret, secret+"b")
		})
	}
	for _, args := range []map[string]any{
		{"url": up.URL, "headers": map[string]string{"Authorization": "Bearer " + secret}},
		{"url": up.URL + "/?token=" + secret},
		{"url": up.URL, "method": "POST", "body": `{"api_key":"` + secret + `"}`},
		{"url": up.URL, "policy": []string{"hmac"}, "params": map[string]string{"key": secret}},
	} {
		res, raw := callMCP(t, cs, mcpserver.ToolAPICall, args)
		if !res.IsError || !strings.Contains(resultText(res), "holds a secret value") {
			t.Errorf("a value in the arguments was not refused: %s", resultText(res))
		}
		if strings.Count(raw, secret) != 0 {
			t.Error("the refusal echoes the value")
		}
	}
	if n := len(up.requests()); n != 0 {
		t.Fatalf("upstream received %d requests from refused calls", n)
	}
	res, _ := callMCP(t, cs, mcpserver.ToolCheckSecret, map[string]any{"key": secret})
	if !res.IsError || strings.Contains(resultText(res), secret) {
		t.Errorf("check_secret with a value as key: error=%v, echoed=%v", res.IsError, strings.Contains(resultText(res), secret))
	}
	// A value or a misspelt name as audit_logs' filter is refused, not
	// answered with an empty list the model would take for "never used".
	for i, filter := range []string{secret, "stripe_key"} {
		res, raw := callMCP(t, cs, mcpserver.ToolAuditLogs, map[string]any{"secret": filter})
		if !res.IsError || !strings.Contains(resultText(res), "BAD_REQUEST") {
			t.Errorf("audit_logs with filter %d: want BAD_REQUEST, error=%v", i, res.IsError)
		}
		if strings.Contains(raw, filter) {
			t.Errorf("audit_logs with filter %d: the refusal echoes it", i)
		}
	}
	assertNoValue(t, "stderr", stderr.String(), secret)
}

// The server keeps values in memory, yet sees a key set and a domain
// allowed by the human while it runs.
func TestMCPServeFollowsVaultChanges(t *testing.T) {
	v := newMCPVault(t)
	v.set(t, "FIRST_KEY", randomSecret("a_"))
	v.allow(t, "127.0.0.1")
	up := newEchoUpstream(t)
	port := up.Listener.Addr().String()[len("127.0.0.1:"):]
	cs, _ := startMCP(t, v)

	args := map[string]any{"url": "http://localhost:" + port + "/", "bearer": []string{"LATER_KEY"}}
	if res, _ := callMCP(t, cs, mcpserver.ToolAPICall, args); !res.IsError {
		t.Fatal("call succeeded before the key and domain existed")
	}
	later := randomSecret("b_")
	v.set(t, "LATER_KEY", later)
	v.allow(t, "localhost")
	res, raw := callMCP(t, cs, mcpserver.ToolAPICall, args)
	if res.IsError {
		t.Fatalf("call after the human fixed things: %s", resultText(res))
	}
	if got := up.requests(); len(got) != 1 || got[0].Auth != "Bearer "+later {
		t.Fatal("upstream did not get the key set while the server ran")
	}
	assertNoValue(t, "api_call result", raw, later)
}

// Parallel tool calls through one server each carry their own credential.
func TestMCPServeConcurrentCalls(t *testing.T) {
	v := newMCPVault(t)
	const n = 8
	values := map[string]string{}
	for i := 0; i < n; i++ {
		key := "KEY_" + string(rune('A'+i))
		values[key] = randomSecret(key + "_")
		v.set(t, key, values[key])
	}
	v.allow(t, "127.0.0.1")
	up := newEchoUpstream(t)
	cs, _ := startMCP(t, v)

	var wg sync.WaitGroup
	results := make([]string, n)
	failed := make([]string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			key := "KEY_" + string(rune('A'+i))
			res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: mcpserver.ToolAPICall,
				Arguments: map[string]any{"url": up.URL + "/" + key, "bearer": []string{key}}})
			switch {
			case err != nil:
				failed[i] = err.Error()
			case res.IsError:
				failed[i] = resultText(res)
			default:
				raw, _ := json.Marshal(res)
				results[i] = string(raw)
			}
		}(i)
	}
	wg.Wait()
	for i, f := range failed {
		if f != "" {
			t.Fatalf("call %d: %s", i, f)
		}
	}
	got := map[string]bool{}
	for _, r := range up.requests() {
		got[r.Auth] = true
	}
	for key, val := range values {
		if !got["Bearer "+val] {
			t.Errorf("upstream never got %s", key)
		}
	}
	all := strings.Join(results, "\n")
	for _, val := range values {
		assertNoValue(t, "results", all, val)
	}
}

func TestMCPServeCutsHugeBodies(t *testing.T) {
	v := newMCPVault(t)
	secret := randomSecret("sk_")
	v.set(t, "BIG_KEY", secret)
	v.allow(t, "127.0.0.1")
	line := strings.Repeat("x", 1000) + secret + "\n"
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < 2*mcpMaxBody/len(line); i++ {
			io.WriteString(w, line)
		}
	}))
	t.Cleanup(up.Close)
	cs, _ := startMCP(t, v)
	res, raw := callMCP(t, cs, mcpserver.ToolAPICall, map[string]any{"url": up.URL, "bearer": []string{"BIG_KEY"}})
	if res.IsError {
		t.Fatal(resultText(res))
	}
	var out mcpserver.APICallOutput
	data, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	body, _ := out.Body.(string)
	if !out.Truncated || len(body) > mcpMaxBody || len(body) < mcpMaxBody/2 {
		t.Errorf("truncated=%v, body of %d bytes (cap %d)", out.Truncated, len(body), mcpMaxBody)
	}
	assertNoValue(t, "cut result", raw, secret)
}

// The built binary, spawned the way MCP clients spawn it: stdio pipes, no
// terminal, its own process.
func TestMCPServeBinaryOverStdio(t *testing.T) {
	sb := newSandbox(t)
	sb.mustRun("", "init")
	secret := randomSecret("sk_live_")
	sb.mustRun(secret+"\n", "secrets", "set", "STRIPE_KEY")
	env := map[string]string{}
	for _, kv := range sb.env {
		k, val, _ := strings.Cut(kv, "=")
		env[k] = val
	}
	s, err := vault.Open(vault.Options{Cwd: sb.project, Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AllowlistAdd([]string{"127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	up := newEchoUpstream(t)

	cmd := sb.command("", "mcp", "serve", "--agent", "bin-agent")
	cmd.Stdin = nil
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	client := mcp.NewClient(&mcp.Implementation{Name: "cli-test", Version: "1"}, nil)
	cs, err := client.Connect(context.Background(), &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, raw := callMCP(t, cs, mcpserver.ToolAPICall, map[string]any{"url": up.URL, "bearer": []string{"STRIPE_KEY"}})
	if res.IsError {
		t.Fatal(resultText(res))
	}
	if got := up.requests(); len(got) != 1 || got[0].Auth != "Bearer "+secret {
		t.Fatal("upstream did not get the credential")
	}
	_, logs := callMCP(t, cs, mcpserver.ToolAuditLogs, map[string]any{"last": 1})
	if !strings.Contains(logs, `"agent":"bin-agent"`) || !strings.Contains(logs, `"source":"mcp"`) {
		t.Errorf("audit_logs: %s", logs)
	}
	if err := cs.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if cmd.ProcessState == nil || !cmd.ProcessState.Success() {
		t.Errorf("mcp serve did not exit cleanly: %v\n%s", cmd.ProcessState, stderr)
	}
	assertNoValue(t, "api_call result", raw, secret)
	assertNoValue(t, "audit_logs result", logs, secret)
	assertNoValue(t, "stderr", stderr.String(), secret)
}

// TestReadCapped: the body handed to the model stops at the cap and never
// ends inside a redaction marker.
func TestReadCapped(t *testing.T) {
	m := redact.Replacement
	tests := []struct {
		name, body string
		limit      int
		want       string
		cut        bool
	}{
		{"under the cap", "abc", 10, "abc", false},
		{"at the cap", "abcdefghij", 10, "abcdefghij", false},
		{"cut in text", "abcdefghijk", 10, "abcdefghij", true},
		{"cut inside a marker", "ab" + m + "cd", 2 + len(m) - 3, "ab", true},
		{"cut after a marker", "ab" + m + "cd", 2 + len(m) + 1, "ab" + m + "c", true},
		{"cut at a marker's first byte", "ab" + m, 3, "ab", true},
	}
	for _, tc := range tests {
		got, cut, err := readCapped(strings.NewReader(tc.body), tc.limit)
		if err != nil || string(got) != tc.want || cut != tc.cut {
			t.Errorf("%s: %q, cut %v, %v; want %q, cut %v", tc.name, got, cut, err, tc.want, tc.cut)
		}
	}
}

// An argument holding a value in an encoded form (URL, base64, hex, JSON
// escapes) or a long stretch of one is refused like the raw value: nothing
// reaches the upstream or the audit log.
func TestMCPServeRefusesEncodedValues(t *testing.T) {
	v := newMCPVault(t)
	secret := `sk_live_Ab+/=&<é"` + randomSecret("x")
	v.set(t, "STRIPE_KEY", secret)
	token := "AKIA" + strings.ToUpper(hex.EncodeToString([]byte(randomSecret("")))) // a valid HTTP method
	v.set(t, "AWS_KEY_ID", token)
	v.allow(t, "127.0.0.1")
	up := newEchoUpstream(t)
	cs, stderr := startMCP(t, v)
	jsonBody, _ := json.Marshal(map[string]string{"api_key": secret})
	half := len(secret) / 2
	tests := []struct {
		name string
		args map[string]any
	}{
		{"query escaped", map[string]any{"url": up.URL + "/?token=" + url.QueryEscape(secret)}},
		{"path escaped", map[string]any{"url": up.URL + "/" + url.PathEscape(secret)}},
		{"basic auth header", map[string]any{"url": up.URL, "headers": map[string]string{
			"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("user:"+secret))}}},
		{"hex header", map[string]any{"url": up.URL, "headers": map[string]string{"X-Token": hex.EncodeToString([]byte(secret))}}},
		{"json escaped body", map[string]any{"url": up.URL, "method": "POST", "body": string(jsonBody)}},
		{"split across headers", map[string]any{"url": up.URL, "headers": map[string]string{
			"X-A": secret[:half], "X-B": secret[half:]}}},
		{"method", map[string]any{"url": up.URL, "method": token}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, raw := callMCP(t, cs, mcpserver.ToolAPICall, tc.args)
			if !res.IsError || !strings.Contains(resultText(res), "holds a secret value") {
				t.Errorf("not refused: %s", resultText(res))
			}
			assertNoValue(t, "refusal", raw, secret, token)
		})
	}
	if n := len(up.requests()); n != 0 {
		t.Errorf("upstream received %d requests from refused calls", n)
	}
	_, logs := callMCP(t, cs, mcpserver.ToolAuditLogs, map[string]any{"last": 50})
	assertNoValue(t, "audit_logs", logs, secret, token)
	assertNoValue(t, "stderr", stderr.String(), secret)
}

// newTestMCPBackend is the backend `mcp serve` builds on v, for tests that
// look inside it.
func newTestMCPBackend(t *testing.T, v *mcpVault) *mcpBackend {
	t.Helper()
	f := &Factory{IO: NewIOStreams(strings.NewReader(""), io.Discard, io.Discard, v.getenv), Getenv: v.getenv}
	t.Cleanup(func() { f.CloseAudit() })
	return newMCPBackend(f, "test-agent")
}

// refuseValues compiles its set once and reuses it while the vault does
// not change; a key set through another handle is refused by the next
// call even when runnerFor has not seen the index change (a write in the
// same clock tick as the one before, of the same size).
func TestMCPRefuseValuesCompilesOnce(t *testing.T) {
	v := newMCPVault(t)
	first := randomSecret("a_")
	v.set(t, "FIRST_KEY", first)
	b := newTestMCPBackend(t, v)
	refused := func(value string) bool {
		t.Helper()
		err := b.refuseValues(mcpserver.APICallInput{URL: "https://api.example.com/", Headers: map[string]string{"X-Token": value}})
		if err != nil && !strings.Contains(err.Error(), "holds a secret value") {
			t.Fatalf("refuseValues: %v", err)
		}
		return err != nil
	}
	call := func(value string) bool { // as APICall does
		t.Helper()
		if _, err := b.runnerFor(); err != nil {
			t.Fatal(err)
		}
		return refused(value)
	}
	if !call(first) || call("ordinary text") {
		t.Fatal("first call: the value not refused, or plain text refused")
	}
	set := b.guard.set
	for i := 0; i < 5; i++ {
		if !call(first) || call("ordinary text") {
			t.Fatal("later call: the value not refused, or plain text refused")
		}
	}
	if b.guard.set != set {
		t.Error("the set was compiled again while the vault did not change")
	}

	later := randomSecret("b_")
	v.set(t, "LATER_KEY", later)
	if !refused(later) || !refused(first) {
		t.Error("a key set meanwhile is not refused before runnerFor sees the change")
	}
	if !call(later) || !call(first) {
		t.Error("a key set meanwhile is not refused")
	}
	set = b.guard.set
	if !call(later) || b.guard.set != set {
		t.Error("the set was compiled again after the change was seen")
	}
}

// After the environment is switched, refuseValues looks for the new
// environment's values, not the old one's: the switch gives a new vault,
// whose generation may match the old one's.
func TestMCPRefuseValuesFollowsEnvironmentSwitch(t *testing.T) {
	v := newMCPVault(t)
	dev, staging := randomSecret("dev_"), randomSecret("stg_")
	v.set(t, "STRIPE_KEY", dev)
	b := newTestMCPBackend(t, v)
	refused := func(value string) bool {
		t.Helper()
		if _, err := b.runnerFor(); err != nil {
			t.Fatal(err)
		}
		return b.refuseValues(mcpserver.APICallInput{URL: "https://api.example.com/", Headers: map[string]string{"X-Token": value}}) != nil
	}
	if !refused(dev) || refused(staging) {
		t.Fatal("development: its value not refused, or staging's refused")
	}
	if err := v.store.Set(v.ctx.WithEnvironment("staging"), "STRIPE_KEY", []byte(staging)); err != nil {
		t.Fatal(err)
	}
	if err := v.store.SwitchEnvironment("staging"); err != nil {
		t.Fatal(err)
	}
	if !refused(staging) || refused(dev) {
		t.Error("staging: its value not refused, or development's still refused")
	}
}

// A value set, changed or deleted by another process while the server runs
// is refused, or no longer refused, from the next api_call on.
func TestMCPServeRefusesValuesSetMeanwhile(t *testing.T) {
	v := newMCPVault(t)
	old := randomSecret("old_")
	v.set(t, "STRIPE_KEY", old)
	v.allow(t, "127.0.0.1")
	up := newEchoUpstream(t)
	sb := newSandbox(t) // the CLI in its own process, on v's home
	sb.env = nil
	for k, val := range v.env {
		sb.env = append(sb.env, k+"="+val)
	}
	cs, _ := startMCP(t, v)
	refused := func(value string) bool {
		t.Helper()
		res, _ := callMCP(t, cs, mcpserver.ToolAPICall, map[string]any{"url": up.URL, "headers": map[string]string{"X-Token": value}})
		if res.IsError && !strings.Contains(resultText(res), "holds a secret value") {
			t.Fatalf("api_call: %s", resultText(res))
		}
		return res.IsError
	}
	added, changed := randomSecret("new_"), randomSecret("chg_")
	if !refused(old) || refused(added) || refused(changed) {
		t.Fatal("before the changes: the stored value not refused, or another one refused")
	}
	sb.mustRun(added+"\n", "secrets", "set", "NEW_KEY")
	if !refused(added) || !refused(old) {
		t.Error("after secrets set NEW_KEY: a stored value not refused")
	}
	sb.mustRun(changed+"\n", "secrets", "set", "STRIPE_KEY")
	if !refused(changed) {
		t.Error("after secrets set STRIPE_KEY: the new value not refused")
	}
	if refused(old) {
		t.Error("after secrets set STRIPE_KEY: the replaced value still refused")
	}
	sb.mustRun("", "secrets", "delete", "NEW_KEY", "--yes")
	if refused(added) || !refused(changed) {
		t.Error("after secrets delete NEW_KEY: the deleted value refused, or the stored one not")
	}
}

// TestMCPAuditLogsAllowlistState: audit_logs gives each call the allowlist
// it was decided by (the entry that admitted the host, the digest of the
// list) and each allowlist change what it changed, read through the
// official SDK's client.
func TestMCPAuditLogsAllowlistState(t *testing.T) {
	v := newMCPVault(t)
	v.set(t, "STRIPE_KEY", randomSecret("sk_live_"))
	// The list is changed the way the command line changes it: through a
	// Factory's vault, whose changes are recorded.
	f := &Factory{IO: NewIOStreams(strings.NewReader(""), io.Discard, io.Discard, v.getenv), Getenv: v.getenv}
	s, err := f.Store()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AllowlistAdd([]string{"127.0.0.1", "*.example.com"}); err != nil {
		t.Fatal(err)
	}
	if err := f.CloseAudit(); err != nil {
		t.Fatal(err)
	}
	up := newEchoUpstream(t)
	port := up.Listener.Addr().String()[len("127.0.0.1:"):]
	cs, _ := startMCP(t, v, "--agent", "state-agent")
	if res, _ := callMCP(t, cs, mcpserver.ToolAPICall, map[string]any{"url": up.URL, "bearer": []string{"STRIPE_KEY"}}); res.IsError {
		t.Fatal(resultText(res))
	}
	if res, _ := callMCP(t, cs, mcpserver.ToolAPICall, map[string]any{"url": "http://localhost:" + port + "/", "bearer": []string{"STRIPE_KEY"}}); !res.IsError {
		t.Fatal("a call to a host not on the list succeeded")
	}

	res, raw := callMCP(t, cs, mcpserver.ToolAuditLogs, map[string]any{"last": 10})
	if res.IsError {
		t.Fatal(resultText(res))
	}
	var out struct {
		Entries []map[string]any `json:"entries"`
	}
	data, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Entries) != 3 {
		t.Fatalf("%d entries, want the change and two calls:\n%s", len(out.Entries), raw)
	}
	digest := audit.DigestAllowlist([]string{"127.0.0.1", "*.example.com"})
	change, ok, refused := out.Entries[0], out.Entries[1], out.Entries[2]
	if change["source"] != "allowlist" || change["method"] != "ADD" || change["allowlist_digest"] != digest ||
		change["allowlist_before"] != audit.DigestAllowlist(nil) ||
		fmt.Sprint(change["allowlist_change"]) != "[*.example.com 127.0.0.1]" ||
		fmt.Sprint(change["allowlist_domains"]) != "[*.example.com 127.0.0.1]" {
		t.Errorf("change entry: %v", change)
	}
	if ok["allowlist_entry"] != "127.0.0.1" || ok["allowlist_digest"] != digest || ok["decision"] != "ok" {
		t.Errorf("call entry: %v", ok)
	}
	if _, has := refused["allowlist_entry"]; has || refused["allowlist_digest"] != digest || refused["decision"] != "blocked_allowlist" {
		t.Errorf("refused entry: %v", refused)
	}
	for _, e := range out.Entries[1:] {
		if _, has := e["allowlist_change"]; has {
			t.Errorf("call entry %v has change fields", e["id"])
		}
	}
}

// TestMCPServeRedactsDecodedJSON: the model reads a JSON body decoded (the
// client parses the structured content; the text shows a string body
// decoded), so an echo the byte redactor cannot see must not come out once
// decoded. Here the upstream nests a JSON document in a string (an error
// detail, a webhook payload): a secret with a quote and a backslash is
// escaped twice, and every run of it between those is shorter than
// redact.PartialRun. One decoding later it is the secret, JSON-escaped.
func TestMCPServeRedactsDecodedJSON(t *testing.T) {
	v := newMCPVault(t)
	secret := randomSecret("")[:10] + `"` + randomSecret("")[:10] + `\` + randomSecret("")[:10]
	v.set(t, "STRIPE_KEY", secret)
	v.allow(t, "127.0.0.1")
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner, _ := json.Marshal(map[string]string{"api_key": strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")})
		var body any = map[string]any{"error": "invalid credentials", "request": string(inner)}
		if r.URL.Path == "/string" {
			body = string(inner)
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(body)
	}))
	t.Cleanup(up.Close)
	cs, _ := startMCP(t, v)
	escaped, _ := json.Marshal(secret)
	for _, path := range []string{"/object", "/string"} {
		res, raw := callMCP(t, cs, mcpserver.ToolAPICall, map[string]any{"url": up.URL + path, "bearer": []string{"STRIPE_KEY"}})
		if res.IsError {
			t.Fatalf("%s: %s", path, resultText(res))
		}
		text := resultText(res)
		var decoded mcpserver.APICallOutput
		structured, _ := json.Marshal(res.StructuredContent)
		if err := json.Unmarshal(structured, &decoded); err != nil {
			t.Fatal(err)
		}
		inModel := fmt.Sprint(decoded.Body) // what the model reads of the structured content
		for what, s := range map[string]string{"text": text, "structured body": inModel, "result": raw} {
			if strings.Contains(s, secret) || strings.Contains(s, string(escaped[1:len(escaped)-1])) {
				t.Errorf("%s: the %s holds the secret once decoded:\n%s", path, what, s)
			}
		}
		if !strings.Contains(text, redact.Replacement) || decoded.Redactions == 0 {
			t.Errorf("%s: nothing redacted (%d):\n%s", path, decoded.Redactions, text)
		}
	}
}

// TestMCPServeRefusesTokenLikeAgent: mcp serve records its --agent (or
// $AGENTSECRETS_AGENT_ID) with every call, so one passing for a verified
// token identity or holding a token is refused before serving.
func TestMCPServeRefusesTokenLikeAgent(t *testing.T) {
	sb := newSandbox(t)
	sb.mustRun("", "init")
	for _, agent := range []string{"token:tok_0123456789ab", "Token:x", "ast_" + strings.Repeat("b", 43)} {
		out, errOut, code := sb.run("", "mcp", "serve", "--agent", agent)
		if code != ExitUsage || out != "" || strings.Contains(errOut, "ast_b") {
			t.Errorf("mcp serve --agent %.16q: exit %d, stdout %q, stderr %q", agent, code, out, errOut)
		}
	}
}
