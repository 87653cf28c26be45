package proxy

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/The-17/agentsecrets/runner/audit"
)

func TestProxyCallsAreAuditedWithoutValues(t *testing.T) {
	f := newFixture(t)
	const agentToken = "agent-token-do-not-store-4242"
	// The upstream echoes the query, so the response holds a value to redact.
	f.upstream.setHandler(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.URL.RawQuery) })
	calls := []struct {
		headers []string
		status  int
	}{
		{[]string{"X-AS-Inject-Query", "apiKey=TOKEN_A", "X-AS-Agent-Token", agentToken}, 200},
		{[]string{"X-AS-Inject-Bearer", "TOKEN_B", "X-AS-Agent-ID", "billing-tool"}, 200},
		{[]string{"X-AS-Inject-Bearer", "NOT_THERE"}, 404},
	}
	for _, c := range calls {
		if status, _, body := f.do(f.request("GET", "/v1?x=1", nil, c.headers...)); status != c.status {
			t.Fatalf("status %d, want %d: %s", status, c.status, body)
		}
	}
	f.proxy.Close()
	f.handler.Wait()

	entries, err := f.audit.Query(context.Background(), audit.Filter{Source: audit.SourceProxy})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(calls) {
		t.Fatalf("%d audit rows, want %d", len(entries), len(calls))
	}
	// Events are written after their response, so rows may be in another
	// order than the requests: find each by its key.
	byKey := map[string]audit.Entry{}
	for _, e := range entries {
		byKey[strings.Join(e.Keys, ",")] = e
	}
	first := byKey["TOKEN_A"]
	if first.Agent != AgentTokenID(agentToken) || !slices.Equal(first.Keys, []string{"TOKEN_A"}) ||
		first.Status != 200 || first.Decision != audit.DecisionOK || first.Redactions == 0 || first.Environment != "development" {
		t.Errorf("first row %+v", first.Event)
	}
	if want := f.upstream.URL + "/v1?x=1&apiKey={TOKEN_A}"; first.URL != want {
		t.Errorf("url %q, want %q", first.URL, want)
	}
	if e := byKey["TOKEN_B"]; e.Agent != "billing-tool" || !slices.Equal(e.AuthStyles, []string{"bearer"}) {
		t.Errorf("second row %+v", e.Event)
	}
	if e := byKey["NOT_THERE"]; e.Decision != audit.DecisionError || e.Agent != "anonymous" {
		t.Errorf("third row %+v", e.Event)
	}
	if res, err := f.audit.Verify(context.Background()); err != nil || !res.OK {
		t.Errorf("verify: %+v %v", res, err)
	}

	var db []byte
	for _, name := range []string{audit.FileName, audit.FileName + "-wal"} {
		b, err := os.ReadFile(filepath.Join(f.home, name))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		db = append(db, b...)
	}
	if len(db) == 0 || !bytes.Contains(db, []byte("billing-tool")) {
		t.Fatal("audit database not found or empty")
	}
	forbidden := map[string]string{"agent token": agentToken, "session token": f.handler.Token}
	for k, v := range testSecrets {
		forbidden[k] = v
		forbidden[k+" base64"] = base64.StdEncoding.EncodeToString([]byte(v))
		forbidden[k+" hex"] = hex.EncodeToString([]byte(v))
	}
	for what, v := range forbidden {
		if bytes.Contains(db, []byte(v)) {
			t.Errorf("the audit database holds the %s", what)
		}
	}
}
