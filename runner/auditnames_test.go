package runner

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/The-17/agentsecrets/policies"
)

// TestAuditRowHoldsNoValueGivenAsAName: a value given where a key name or a
// method goes (a custom policy's key param, a method) is recorded by its
// length, never as given: the audit log is read by agents (proxy logs,
// audit_logs), and no column may hold a value. Key names and methods that
// are names are recorded as they are.
func TestAuditRowHoldsNoValueGivenAsAName(t *testing.T) {
	const value = "sk_live_51HxQ9zLEAKEDvalue0123"
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer up.Close()
	v := newFakeVault([]string{"127.0.0.1"}, map[string]string{"API_KEY": "secret-value-0123456789"})
	r, sink, _ := newTestRunner(t, v)
	calls := []*Call{
		{URL: up.URL + "/a", Method: "M-SEARCH", Policies: []policies.Spec{spec("bearer", "key", "API_KEY")}},
		{URL: up.URL + "/b", Method: strings.ToUpper(value), Policies: []policies.Spec{spec("bearer", "key", "API_KEY")}},
		{URL: up.URL + "/c", Policies: []policies.Spec{spec("no-such-policy", "key", value)}},
	}
	for _, c := range calls {
		if res, err := r.Do(context.Background(), c); err == nil {
			res.Body.Close()
		}
	}
	events := sink.Events()
	if len(events) != len(calls) {
		t.Fatalf("%d audit rows, want %d", len(events), len(calls))
	}
	if events[0].Method != "M-SEARCH" || strings.Join(events[0].Keys, ",") != "API_KEY" {
		t.Errorf("a method and a key name that are names: recorded %q, %q", events[0].Method, events[0].Keys)
	}
	for i, e := range events {
		row := strings.ToLower(strings.Join(append([]string{e.Method, e.URL, e.Reason}, e.Keys...), " "))
		if strings.Contains(row, strings.ToLower(value)) {
			t.Errorf("row %d holds the value: %+v", i, e)
		}
		if i > 0 && !strings.Contains(row, strconv.Itoa(len(value))+" characters") {
			t.Errorf("row %d does not say what it left out: %+v", i, e)
		}
	}
}
