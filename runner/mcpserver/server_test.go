package mcpserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/The-17/agentsecrets/runner/mcpserver"
)

// fakeBackend answers with canned outputs and records what it was asked.
type fakeBackend struct {
	mu      sync.Mutex
	calls   []mcpserver.APICallInput
	checks  []mcpserver.CheckSecretInput
	filters []mcpserver.AuditLogsInput
	callOut mcpserver.APICallOutput
	callErr error
	secrets mcpserver.ListSecretsOutput
	status  mcpserver.StatusOutput
	envs    mcpserver.ListEnvironmentsOutput
	check   mcpserver.CheckSecretOutput
	logs    mcpserver.AuditLogsOutput
	listErr error
}

func (f *fakeBackend) APICall(_ context.Context, in mcpserver.APICallInput) (mcpserver.APICallOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, in)
	return f.callOut, f.callErr
}

func (f *fakeBackend) ListSecrets(context.Context) (mcpserver.ListSecretsOutput, error) {
	return f.secrets, f.listErr
}

func (f *fakeBackend) Status(context.Context) (mcpserver.StatusOutput, error) { return f.status, nil }

func (f *fakeBackend) ListEnvironments(context.Context) (mcpserver.ListEnvironmentsOutput, error) {
	return f.envs, nil
}

func (f *fakeBackend) CheckSecret(_ context.Context, in mcpserver.CheckSecretInput) (mcpserver.CheckSecretOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checks = append(f.checks, in)
	return f.check, nil
}

func (f *fakeBackend) AuditLogs(_ context.Context, in mcpserver.AuditLogsInput) (mcpserver.AuditLogsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.filters = append(f.filters, in)
	return f.logs, nil
}

// connect serves b over in-memory transports and returns a client session
// of the official SDK.
func connect(t *testing.T, b mcpserver.Backend) *mcp.ClientSession {
	t.Helper()
	return connectWith(t, b, mcpserver.Options{Version: "test"})
}

func connectWith(t *testing.T, b mcpserver.Backend, opts mcpserver.Options) *mcp.ClientSession {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st, ct := mcp.NewInMemoryTransports()
	done := make(chan error, 1)
	go func() { done <- mcpserver.Serve(ctx, b, st, opts) }()
	client := mcp.NewClient(&mcp.Implementation{Name: "test-client", Version: "1"}, nil)
	cs, err := client.Connect(ctx, ct, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cs.Close()
		cancel()
		<-done
	})
	return cs
}

func callTool(t *testing.T, cs *mcp.ClientSession, name string, args any) *mcp.CallToolResult {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: protocol error: %v", name, err)
	}
	return res
}

func text(res *mcp.CallToolResult) string { return mcpserver.ResultText(res) }

// structured decodes the structured content of res into v.
func structured(t *testing.T, res *mcp.CallToolResult, v any) {
	t.Helper()
	data, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("structured content %s: %v", data, err)
	}
}

func TestToolsAreListedWithTheRules(t *testing.T) {
	cs := connect(t, &fakeBackend{})
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
		for _, rule := range []string{
			"never see, ask for, or handle secret values",
			"agentsecrets secrets set KEY",
			"agentsecrets workspace allowlist add DOMAIN",
			"Never put a secret value in any tool argument",
		} {
			if !strings.Contains(tool.Description, rule) {
				t.Errorf("tool %s: description lacks %q", tool.Name, rule)
			}
		}
		if tool.OutputSchema == nil {
			t.Errorf("tool %s has no output schema", tool.Name)
		}
	}
	slices.Sort(names)
	want := []string{"api_call", "audit_logs", "check_secret", "list_environments", "list_secrets", "status"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("tools %v, want %v", names, want)
	}
	if !strings.Contains(cs.InitializeResult().Instructions, "agentsecrets secrets set KEY") {
		t.Error("server instructions lack the rules")
	}
}

func TestAPICallSchema(t *testing.T) {
	cs := connect(t, &fakeBackend{})
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(res.Tools, func(tool *mcp.Tool) bool { return tool.Name == mcpserver.ToolAPICall })
	schema, _ := json.Marshal(res.Tools[i].InputSchema)
	var s struct {
		Properties map[string]json.RawMessage `json:"properties"`
		Required   []string                   `json:"required"`
	}
	if err := json.Unmarshal(schema, &s); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"url", "method", "bearer", "basic", "header", "query", "body_field", "form_field", "headers", "body", "policy", "params", "timeout"} {
		if _, ok := s.Properties[p]; !ok {
			t.Errorf("api_call input schema lacks %q", p)
		}
	}
	if !reflect.DeepEqual(s.Required, []string{"url"}) {
		t.Errorf("required %v, want [url]", s.Required)
	}
}

func TestAPICallPassesArgumentsAndRendersTheResponse(t *testing.T) {
	tests := []struct {
		name     string
		body     json.RawMessage
		wantText string
	}{
		{"json body", json.RawMessage(`{"ok":true,"token":"[REDACTED_BY_AGENTSECRETS]"}`), `{"ok":true,"token":"[REDACTED_BY_AGENTSECRETS]"}`},
		{"text body", json.RawMessage(`"plain text\nline two"`), "plain text\nline two"},
		{"empty body", json.RawMessage(`""`), "HTTP 201 Created\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fb := &fakeBackend{callOut: mcpserver.APICallOutput{Status: 201, Headers: map[string]string{"Content-Type": "application/json"}, Body: tc.body, Redactions: 1}}
			// The CLI backend passes the body on as raw JSON; the server must keep it.
			cs := connect(t, fb)
			args := map[string]any{
				"url": "https://api.example.com/v1/x", "method": "post", "bearer": []string{"STRIPE_KEY"},
				"header": []string{"X-Api-Key=OTHER_KEY"}, "query": []string{"key=MAPS_KEY"},
				"headers": map[string]string{"Accept": "application/json"}, "body": `{"a":1}`,
				"policy": []string{"hmac"}, "params": map[string]string{"key": "HOOK_SECRET"}, "timeout": 5,
			}
			res := callTool(t, cs, mcpserver.ToolAPICall, args)
			if res.IsError {
				t.Fatalf("tool error: %s", text(res))
			}
			want := mcpserver.APICallInput{URL: "https://api.example.com/v1/x", Method: "post", Bearer: []string{"STRIPE_KEY"},
				Header: []string{"X-Api-Key=OTHER_KEY"}, Query: []string{"key=MAPS_KEY"},
				Headers: map[string]string{"Accept": "application/json"}, Body: `{"a":1}`,
				Policy: []string{"hmac"}, Params: map[string]string{"key": "HOOK_SECRET"}, Timeout: 5}
			if len(fb.calls) != 1 || !reflect.DeepEqual(fb.calls[0], want) {
				t.Fatalf("backend got %+v, want %+v", fb.calls, want)
			}
			var out mcpserver.APICallOutput
			structured(t, res, &out)
			if out.Status != 201 || out.Headers["Content-Type"] != "application/json" || out.Redactions != 1 {
				t.Errorf("structured output %+v", out)
			}
			if got, _ := json.Marshal(out.Body); !jsonEqual(t, got, tc.body) {
				t.Errorf("structured body %s, want %s", out.Body, tc.body)
			}
			got := text(res)
			if !strings.HasPrefix(got, "HTTP 201 Created\nContent-Type: application/json\n\n") || !strings.Contains(got, tc.wantText) {
				t.Errorf("text content %q lacks %q", got, tc.wantText)
			}
		})
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func TestBackendErrorsAreToolErrors(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want []string
	}{
		{"coded with hint", &mcpserver.Error{Code: mcpserver.CodeNotAllowed, Message: `domain not allowed: "evil.example"`,
			Hint: "ask the human to run: agentsecrets workspace allowlist add evil.example"},
			[]string{"DOMAIN_NOT_ALLOWED: domain not allowed", "\nhint: ask the human to run: agentsecrets workspace allowlist add evil.example"}},
		{"coded without hint", &mcpserver.Error{Code: mcpserver.CodeUpstream, Message: "upstream unreachable"}, []string{"UPSTREAM_ERROR: upstream unreachable"}},
		{"plain error", errors.New("something broke"), []string{"something broke"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs := connect(t, &fakeBackend{callErr: tc.err})
			res := callTool(t, cs, mcpserver.ToolAPICall, map[string]any{"url": "https://evil.example/"})
			if !res.IsError {
				t.Fatal("want a tool error")
			}
			for _, w := range tc.want {
				if !strings.Contains(text(res), w) {
					t.Errorf("error text %q lacks %q", text(res), w)
				}
			}
			if strings.Contains(text(res), "hint:") != strings.Contains(tc.err.Error(), "hint:") {
				t.Errorf("hint shown = %v for %q", strings.Contains(text(res), "hint:"), text(res))
			}
		})
	}
}

func TestMalformedArgumentsNeverReachTheBackend(t *testing.T) {
	for _, args := range []map[string]any{
		{},
		{"url": 42},
		{"url": "https://x.example/", "bearer": "NOT_AN_ARRAY"},
		{"url": "https://x.example/", "headers": []string{"a"}},
	} {
		fb := &fakeBackend{}
		cs := connect(t, fb)
		res := callTool(t, cs, mcpserver.ToolAPICall, args)
		if !res.IsError {
			t.Errorf("%v: want a tool error", args)
		}
		if len(fb.calls) != 0 {
			t.Errorf("%v reached the backend", args)
		}
	}
}

func TestReadOnlyToolsReturnTheBackendAnswer(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	fb := &fakeBackend{
		secrets: mcpserver.ListSecretsOutput{Workspace: "default", Project: "app", Environment: "development",
			Secrets: []mcpserver.SecretCoverage{{Name: "STRIPE_KEY", Environments: map[string]bool{"development": true, "staging": false, "production": true}, Missing: []string{"staging"}}}},
		status: mcpserver.StatusOutput{State: "OK", Workspace: "default", Project: "app", Environment: "development", Backend: "file", StorageMode: 1, Home: "/h", Agent: "anonymous"},
		envs:   mcpserver.ListEnvironmentsOutput{Project: "app", Environments: []mcpserver.EnvironmentInfo{{Name: "development", Secrets: 1, Active: true}}},
		check: mcpserver.CheckSecretOutput{Key: "STRIPE_KEY", Exists: true, Environment: "development",
			Environments: map[string]bool{"development": true}, Domains: map[string][]string{"development": {"api.stripe.com"}}},
		logs: mcpserver.AuditLogsOutput{Entries: []mcpserver.AuditEntry{{ID: 7, Time: now, Source: "mcp", Agent: "bot", Environment: "development",
			Method: "GET", URL: "https://api.stripe.com/v1/balance", Keys: []string{"STRIPE_KEY"}, Status: 200, Decision: "ok",
			AllowlistEntry: "*.stripe.com", AllowlistDigest: "sha256:e3aa8115ec8550389118e3789c8b6561efda1d93baac8501df93fe0648690b6f"},
			{ID: 8, Time: now, Source: "allowlist", Agent: "ops", Method: "REMOVE", Decision: "ok",
				AllowlistDigest: "sha256:a0f3222655c26292a9f9e56bb81e590cde99165f6f87d040bc37d1d157c1c604",
				AllowlistChange: []string{"*.stripe.com"}, AllowlistBefore: "sha256:e3aa8115ec8550389118e3789c8b6561efda1d93baac8501df93fe0648690b6f",
				AllowlistDomains: []string{"api.stripe.com"}}}},
	}
	cs := connect(t, fb)
	tests := []struct {
		tool string
		args any
		got  any
		want any
	}{
		{mcpserver.ToolListSecrets, nil, &mcpserver.ListSecretsOutput{}, &fb.secrets},
		{mcpserver.ToolStatus, map[string]any{}, &mcpserver.StatusOutput{}, &fb.status},
		{mcpserver.ToolListEnvironments, nil, &mcpserver.ListEnvironmentsOutput{}, &fb.envs},
		{mcpserver.ToolCheckSecret, map[string]any{"key": "STRIPE_KEY"}, &mcpserver.CheckSecretOutput{}, &fb.check},
		{mcpserver.ToolAuditLogs, map[string]any{"last": 5, "secret": "STRIPE_KEY", "env": "production", "agent": "bot"}, &mcpserver.AuditLogsOutput{}, &fb.logs},
	}
	for _, tc := range tests {
		res := callTool(t, cs, tc.tool, tc.args)
		if res.IsError {
			t.Errorf("%s: %s", tc.tool, text(res))
			continue
		}
		structured(t, res, tc.got)
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s: got %+v, want %+v", tc.tool, tc.got, tc.want)
		}
	}
	if len(fb.checks) != 1 || fb.checks[0].Key != "STRIPE_KEY" {
		t.Errorf("check_secret got %+v", fb.checks)
	}
	if want := (mcpserver.AuditLogsInput{Last: 5, Secret: "STRIPE_KEY", Env: "production", Agent: "bot"}); len(fb.filters) != 1 || fb.filters[0] != want {
		t.Errorf("audit_logs got %+v, want %+v", fb.filters, want)
	}
}

// An argument of the wrong type or an unknown one is refused before the
// backend without being quoted: it may be a value the model was given by
// mistake (invariant 1: no value in error messages).
func TestMalformedArgumentsAreNotEchoed(t *testing.T) {
	const value = "sk_live_51HxQvA7echoed"
	tests := []struct {
		name      string
		tool      string
		args      map[string]any
		value     string
		wantField string
	}{
		{"value in place of a key list", mcpserver.ToolAPICall, map[string]any{"url": "https://x.example/", "bearer": value}, value, `"bearer"`},
		{"value as timeout", mcpserver.ToolAPICall, map[string]any{"url": "https://x.example/", "timeout": value}, value, `"timeout"`},
		{"value in a plain header of the wrong type", mcpserver.ToolAPICall, map[string]any{"url": "https://x.example/", "headers": map[string]any{"Authorization": []string{value}}}, value, `"headers"`},
		{"value as an unknown argument", mcpserver.ToolAPICall, map[string]any{"url": "https://x.example/", value: "STRIPE_KEY"}, value, ""},
		{"value as url", mcpserver.ToolAPICall, map[string]any{"url": []string{value}}, value, `"url"`},
		{"numeric value as key", mcpserver.ToolCheckSecret, map[string]any{"key": 4242424242}, "4242424242", `"key"`},
		{"numeric value as last", mcpserver.ToolAuditLogs, map[string]any{"last": 98765432109876543210.0}, "98765432109876543210", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fb := &fakeBackend{}
			cs := connect(t, fb)
			res := callTool(t, cs, tc.tool, tc.args)
			got := text(res)
			if !res.IsError {
				t.Fatalf("want a tool error, got %q", got)
			}
			if len(fb.calls)+len(fb.checks)+len(fb.filters) != 0 {
				t.Error("malformed arguments reached the backend")
			}
			for _, v := range []string{tc.value, "9.876543210987654e+19", "98765432109876540000", "4.242424242e+09"} {
				if strings.Contains(got, v) {
					t.Errorf("error text %q echoes the argument", got)
				}
			}
			if !strings.Contains(got, mcpserver.CodeBadRequest) || !strings.Contains(got, tc.wantField) {
				t.Errorf("error text %q lacks %s and %s", got, mcpserver.CodeBadRequest, tc.wantField)
			}
		})
	}
}

// TestLogQuotesNoArgument: the log line of api_call names a standard
// method and the host, and for arguments refused as a bad request nothing
// of them: a model may have put a value in method or url.
func TestLogQuotesNoArgument(t *testing.T) {
	const value = "AKIAVALUEGIVENBYMISTAKE"
	tests := []struct {
		name    string
		err     error
		args    map[string]any
		want    []string
		notWant []string
	}{
		{"refused", &mcpserver.Error{Code: mcpserver.CodeBadRequest, Message: "an argument holds a secret value"},
			map[string]any{"url": "https://" + strings.ToLower(value) + ".example/", "method": value},
			[]string{"error=" + mcpserver.CodeBadRequest}, []string{strings.ToLower(value), value, "host="}},
		{"odd method answered", nil,
			map[string]any{"url": "https://api.example/", "method": value},
			[]string{"method=OTHER", "host=api.example"}, []string{value}},
		{"standard method", nil,
			map[string]any{"url": "https://api.example/", "method": "post"},
			[]string{"method=POST", "host=api.example"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			fb := &fakeBackend{callErr: tc.err, callOut: mcpserver.APICallOutput{Status: 200, Headers: map[string]string{}}}
			cs := connectWith(t, fb, mcpserver.Options{Version: "test", Logger: slog.New(slog.NewTextHandler(&buf, nil))})
			callTool(t, cs, mcpserver.ToolAPICall, tc.args)
			log := buf.String()
			for _, w := range tc.want {
				if !strings.Contains(log, w) {
					t.Errorf("log lacks %q:\n%s", w, log)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(strings.ToLower(log), strings.ToLower(w)) {
					t.Errorf("log holds %q", w)
				}
			}
		})
	}
}
