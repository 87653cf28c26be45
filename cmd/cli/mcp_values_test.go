package cli

import (
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/The-17/agentsecrets/runner/mcpserver"
	"github.com/The-17/agentsecrets/runner/redact"
)

// nameShapedSecret is a value that is also a valid key name and a valid
// HTTP method, as an AWS access key id is.
func nameShapedSecret() string {
	return "AKIA" + strings.ToUpper(hex.EncodeToString([]byte(randomSecret(""))))
}

// TestMCPAuditLogsRedactValues: audit_logs shows the rows of every front
// end, and those record what they were given: a value typed into a call's
// URL, its method or a refused host (by the human, or by another agent that
// had it) is in the row. The model reads none of it.
func TestMCPAuditLogsRedactValues(t *testing.T) {
	v := newMCPVault(t)
	values := loggedValues(t, v)
	cs, _ := startMCP(t, v)
	res, raw := callMCP(t, cs, mcpserver.ToolAuditLogs, map[string]any{"last": 10})
	if res.IsError {
		t.Fatal(resultText(res))
	}
	var out mcpserver.AuditLogsOutput
	data, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Entries) != 3 {
		t.Fatalf("%d entries, want the three calls:\n%s", len(out.Entries), raw)
	}
	assertNoValue(t, "audit_logs", raw, values...)
	if !strings.Contains(raw, redact.Replacement) {
		t.Errorf("audit_logs marks no redaction:\n%s", raw)
	}
	if out.Entries[2].Decision != "blocked_allowlist" {
		t.Errorf("third entry: %+v", out.Entries[2])
	}
}

// TestMCPRefusesNameShapedValues: check_secret and audit_logs refuse a
// value given as a key name without echoing it, also when the value is a
// valid key name (an AWS access key id): check_secret would otherwise give
// it back as the key and ask the human to run `agentsecrets secrets set
// <the value>`, which stores it as a name, shown to every agent.
func TestMCPRefusesNameShapedValues(t *testing.T) {
	v := newMCPVault(t)
	token := nameShapedSecret()
	v.set(t, "AWS_ACCESS_KEY_ID", token)
	cs, stderr := startMCP(t, v)
	for _, tc := range []struct {
		tool string
		args map[string]any
	}{
		{mcpserver.ToolCheckSecret, map[string]any{"key": token}},
		{mcpserver.ToolAuditLogs, map[string]any{"secret": token}},
	} {
		res, raw := callMCP(t, cs, tc.tool, tc.args)
		if !res.IsError || !strings.Contains(resultText(res), "BAD_REQUEST") {
			t.Errorf("%s with a value as key name: want BAD_REQUEST, got %s", tc.tool, resultText(res))
		}
		assertNoValue(t, tc.tool+" result", raw, token)
	}
	// Names are answered as before.
	for key, want := range map[string]string{"AWS_ACCESS_KEY_ID": `"exists":true`, "ABSENT_KEY": "agentsecrets secrets set ABSENT_KEY"} {
		res, raw := callMCP(t, cs, mcpserver.ToolCheckSecret, map[string]any{"key": key})
		if res.IsError || !strings.Contains(raw, want) {
			t.Errorf("check_secret %s: %s", key, raw)
		}
	}
	assertNoValue(t, "stderr", stderr.String(), token)
}

// TestMCPTimeoutHint: a call that timed out over MCP says how to give it
// longer there, with the timeout argument, not the call command's flag.
func TestMCPTimeoutHint(t *testing.T) {
	v := newMCPVault(t)
	v.allow(t, "127.0.0.1")
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	cs, _ := startMCP(t, v)
	res, _ := callMCP(t, cs, mcpserver.ToolAPICall, map[string]any{"url": slow.URL + "/", "timeout": 0.2})
	text := resultText(res)
	if !res.IsError || !strings.Contains(text, "TIMEOUT") {
		t.Fatalf("want a TIMEOUT error, got %s", text)
	}
	if strings.Contains(text, "--timeout") || !strings.Contains(text, "timeout argument") {
		t.Errorf("the hint names the CLI flag, not the tool argument: %s", text)
	}
}
