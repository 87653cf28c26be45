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

// TestProxyAuditRecordsAllowlistInForce: a proxied request's row names the
// allowlist the proxy decided by, which is the list it read at start or
// last sync, not the one on disk: a domain added without a sync is still
// refused and recorded under the old digest; after the sync, the row names
// the new entry and the new digest.
func TestProxyAuditRecordsAllowlistInForce(t *testing.T) {
	f := newFixture(t)
	before, err := f.store.Allowlist()
	if err != nil {
		t.Fatal(err)
	}
	localhost := strings.Replace(f.upstream.URL, "127.0.0.1", "localhost", 1)
	send := func(target, key string, want int) {
		t.Helper()
		r := f.request("GET", "/", nil, "X-AS-Inject-Bearer", key)
		r.Header.Set(HeaderTargetURL, target)
		if status, _, body := f.do(r); status != want {
			t.Fatalf("%s: status %d, want %d: %s", target, status, want, body)
		}
	}
	send(f.upstream.URL, "TOKEN_A", http.StatusOK)
	send(localhost, "TOKEN_B", http.StatusForbidden)
	if _, err := f.store.AllowlistAdd([]string{"localhost"}); err != nil {
		t.Fatal(err)
	}
	send(localhost, "TOKEN_C", http.StatusForbidden) // not synced yet
	if err := RequestSync(context.Background(), strings.TrimPrefix(f.proxy.URL, "http://"), f.handler.Token); err != nil {
		t.Fatal(err)
	}
	send(localhost, "TOKEN_D", http.StatusOK)
	after, err := f.store.Allowlist()
	if err != nil {
		t.Fatal(err)
	}
	f.proxy.Close()
	f.handler.Wait()

	entries, err := f.audit.Query(context.Background(), audit.Filter{Source: audit.SourceProxy})
	if err != nil {
		t.Fatal(err)
	}
	old, synced := audit.DigestAllowlist(before), audit.DigestAllowlist(after)
	want := map[string][2]string{
		"TOKEN_A": {"127.0.0.1", old},
		"TOKEN_B": {"", old},
		"TOKEN_C": {"", old},
		"TOKEN_D": {"localhost", synced},
	}
	if len(entries) != len(want) {
		t.Fatalf("%d audit rows, want %d", len(entries), len(want))
	}
	for _, e := range entries {
		key := strings.Join(e.Keys, ",")
		if w := want[key]; e.AllowlistEntry != w[0] || e.AllowlistDigest != w[1] {
			t.Errorf("row of %s: allowlist entry %q digest %q, want %q %q", key, e.AllowlistEntry, e.AllowlistDigest, w[0], w[1])
		}
	}
	if res, err := f.audit.Verify(context.Background()); err != nil || !res.OK {
		t.Errorf("verify: %+v %v", res, err)
	}
}

// TestProxyAuditRecordsRefusedSwitch: an upstream's 101 Switching
// Protocols, which the client gets as 502 response_refused, is recorded
// as what it was, a refused answer: decision error, with the reason, and
// the status the upstream sent; not an ok call.
func TestProxyAuditRecordsRefusedSwitch(t *testing.T) {
	f := newFixture(t)
	f.upstream.setHandler(func(w http.ResponseWriter, r *http.Request) {
		writeRaw(t, w, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	})
	if status, _, body := f.do(f.request("GET", "/ws", nil, "X-AS-Inject-Bearer", "TOKEN_A")); status != http.StatusBadGateway {
		t.Fatalf("status %d, want 502: %s", status, body)
	}
	f.proxy.Close()
	f.handler.Wait()

	entries, err := f.audit.Query(context.Background(), audit.Filter{Source: audit.SourceProxy})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("%d audit rows, want 1", len(entries))
	}
	e := entries[0]
	if e.Decision != audit.DecisionError || !strings.Contains(e.Reason, "switched protocols") || e.Status != http.StatusSwitchingProtocols {
		t.Errorf("row: decision %q, reason %q, status %d; want %q, the switch as reason, 101",
			e.Decision, e.Reason, e.Status, audit.DecisionError)
	}
}
