package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/The-17/agentsecrets/policies"
	"github.com/The-17/agentsecrets/runner/audit"
)

// TestAuditEvents: every call, allowed or refused, leaves one event with
// the key names, the decision and a sanitized URL, and no event holds any
// encoding of a value.
func TestAuditEvents(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			w.WriteHeader(http.StatusNotFound)
		}
		echoHandler(w, r)
	})
	v := newFakeVault([]string{"127.0.0.1", "*.stripe.com"}, map[string]string{
		"API_KEY": testSecret, "OTHER_KEY": otherSecret, "BOUND_KEY": testSecret + "-bound",
	})
	v.bindings["BOUND_KEY"] = []string{"api.stripe.com"}
	r, sink, _ := newTestRunner(t, v)
	query := spec("query", "param", "api_key", "key", "API_KEY")
	tests := []struct {
		name     string
		call     Call
		decision audit.Decision
		status   int
		keys     []string
		styles   []string
		url      string // the event's URL, UPSTREAM replaced by the upstream's host:port
	}{
		{name: "ok with query and bearer",
			call: Call{URL: up.URL + "/v1/x?q=1", Agent: "agent-7", Source: "call",
				Policies: []policies.Spec{query, spec("bearer", "key", "OTHER_KEY")}},
			decision: audit.DecisionOK, status: 200, keys: []string{"API_KEY", "OTHER_KEY"},
			styles: []string{"query", "bearer"}, url: "http://UPSTREAM/v1/x?q=1&api_key={API_KEY}"},
		{name: "ok with a query credential already in the URL",
			call:     Call{URL: up.URL + "/v1/x?api_key=placeholder&q=1", Source: "proxy", Policies: []policies.Spec{query}},
			decision: audit.DecisionOK, status: 200, keys: []string{"API_KEY"}, styles: []string{"query"},
			url: "http://UPSTREAM/v1/x?api_key={API_KEY}&q=1"},
		{name: "upstream error status",
			call:     Call{Method: "post", URL: up.URL + "/missing", Policies: []policies.Spec{spec("bearer", "key", "API_KEY")}},
			decision: audit.DecisionOK, status: 404, keys: []string{"API_KEY"}, styles: []string{"bearer"},
			url: "http://UPSTREAM/missing"},
		{name: "host not allowed",
			call:     Call{URL: "http://api.github.com/user?api_key=x", Policies: []policies.Spec{query}},
			decision: audit.DecisionBlockedAllowlist, keys: []string{"API_KEY"}, styles: []string{"query"},
			url: "http://api.github.com/user?api_key={API_KEY}"},
		{name: "metadata address",
			call:     Call{URL: "http://169.254.169.254/latest", Policies: []policies.Spec{spec("bearer", "key", "API_KEY")}},
			decision: audit.DecisionBlockedAllowlist, keys: []string{"API_KEY"}, styles: []string{"bearer"},
			url: "http://169.254.169.254/latest"},
		{name: "secret bound elsewhere",
			call:     Call{URL: up.URL + "/v1", Policies: []policies.Spec{spec("header", "name", "X-Api-Key", "key", "BOUND_KEY")}},
			decision: audit.DecisionDeniedBinding, keys: []string{"BOUND_KEY"}, styles: []string{"header"},
			url: "http://UPSTREAM/v1"},
		{name: "missing secret",
			call:     Call{URL: up.URL + "/v1", Policies: []policies.Spec{spec("bearer", "key", "GONE_KEY")}},
			decision: audit.DecisionError, keys: []string{"GONE_KEY"}, styles: []string{"bearer"},
			url: "http://UPSTREAM/v1"},
		{name: "user info never recorded",
			call:     Call{URL: "http://admin:hunter2@127.0.0.1/", Policies: []policies.Spec{spec("bearer", "key", "API_KEY")}},
			decision: audit.DecisionError, keys: []string{"API_KEY"}, styles: []string{"bearer"},
			url: "http://127.0.0.1/"},
		{name: "a URL that does not parse is not recorded",
			call:     Call{URL: "http://admin:" + testSecret + "@127.0.0.1/", Policies: []policies.Spec{spec("bearer", "key", "API_KEY")}},
			decision: audit.DecisionError, keys: []string{"API_KEY"}, styles: []string{"bearer"},
			url: ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := r.Do(context.Background(), &tt.call)
			if err == nil {
				// The event is recorded when the caller closes the body.
				io.Copy(io.Discard, res.Body)
				if n := len(sink.Events()); n != i {
					t.Errorf("event recorded before the body was closed")
				}
				res.Body.Close()
				res.Body.Close()
			}
			evs := sink.Events()
			if len(evs) != i+1 {
				t.Fatalf("%d events after %d calls", len(evs), i+1)
			}
			ev := evs[i]
			if ev.Decision != tt.decision || ev.Status != tt.status {
				t.Errorf("decision %q status %d, want %q %d (reason %q)", ev.Decision, ev.Status, tt.decision, tt.status, ev.Reason)
			}
			if !slices.Equal(ev.Keys, tt.keys) || !slices.Equal(ev.AuthStyles, tt.styles) {
				t.Errorf("keys %v styles %v, want %v %v", ev.Keys, ev.AuthStyles, tt.keys, tt.styles)
			}
			if want := strings.ReplaceAll(tt.url, "UPSTREAM", up.hostPort()); ev.URL != want {
				t.Errorf("URL %q, want %q", ev.URL, want)
			}
			wantAgent := tt.call.Agent
			if wantAgent == "" {
				wantAgent = "anonymous"
			}
			if ev.Agent != wantAgent || ev.Source != tt.call.Source {
				t.Errorf("agent %q source %q", ev.Agent, ev.Source)
			}
			if ev.Method != strings.ToUpper(tt.call.method()) {
				t.Errorf("method %q", ev.Method)
			}
			if ev.Workspace != "default" || ev.Project != "billing" || ev.Environment != "development" {
				t.Errorf("where: %q %q %q", ev.Workspace, ev.Project, ev.Environment)
			}
			if tt.decision != audit.DecisionOK && ev.Reason == "" {
				t.Error("a refusal without a reason")
			}
		})
	}
	all := fmt.Sprintf("%#v", sink.Events())
	assertNoLeak(t, "audit events", all, testSecret, otherSecret, testSecret+"-bound")
	if strings.Contains(all, "hunter2") {
		t.Error("a password from the URL's user info reached the audit")
	}
}

// TestAuditRedactionCount: the event counts the replacements made in the
// headers and the body the caller read.
func TestAuditRedactionCount(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Echo", testSecret)
		fmt.Fprintf(w, "%s and %s", testSecret, testSecret)
	})
	v := newFakeVault([]string{"127.0.0.1"}, map[string]string{"API_KEY": testSecret})
	r, sink, _ := newTestRunner(t, v)
	res, err := r.Do(context.Background(), &Call{URL: up.URL, Policies: []policies.Spec{spec("bearer", "key", "API_KEY")}})
	if err != nil {
		t.Fatal(err)
	}
	output(t, res)
	evs := sink.Events()
	if len(evs) != 1 || evs[0].Redactions != 3 || res.Redactions() != 3 {
		t.Errorf("redactions: event %+v, result %d; want 3", evs, res.Redactions())
	}
	if evs[0].Duration <= 0 {
		t.Error("no duration recorded")
	}
}

// TestAuditBodyFailureIsAnError: a response whose status arrived but whose
// body broke off is recorded as an error with a reason that quotes
// nothing the upstream sent, not as ok.
func TestAuditBodyFailureIsAnError(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + testSecret[:4])
		buf.Flush()
	})
	v := newFakeVault([]string{"127.0.0.1"}, map[string]string{"API_KEY": testSecret})
	r, sink, _ := newTestRunner(t, v)
	res, err := r.Do(context.Background(), &Call{URL: up.URL + "/short", Policies: []policies.Spec{spec("bearer", "key", "API_KEY")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(res.Body); err == nil {
		t.Fatal("a body cut short read without error")
	}
	res.Body.Close()
	evs := sink.Events()
	if len(evs) != 1 {
		t.Fatalf("%d events, want 1", len(evs))
	}
	if ev := evs[0]; ev.Decision != audit.DecisionError || ev.Status != 200 || !strings.Contains(ev.Reason, "ended early") {
		t.Errorf("event %+v: want decision error, status 200 and the reason", ev)
	}
}

// TestAuditAllowlistState: each call's event records the allowlist in
// force when it ran, as a digest of the whole list, and the entry that
// admitted the host: none when the allowlist refused it, and neither when
// the call failed before the guard.
func TestAuditAllowlistState(t *testing.T) {
	up := newUpstream(t, echoHandler)
	_, port, _ := net.SplitHostPort(up.hostPort())
	list := []string{"127.0.0.1", "*.stripe.com"}
	v := newFakeVault(list, map[string]string{"API_KEY": testSecret, "BOUND_KEY": testSecret + "-bound"})
	v.bindings["BOUND_KEY"] = []string{"api.github.com"}
	r, sink, dc := newTestRunner(t, v)
	dc.resolve = map[string]string{"rebind.stripe.com": "127.0.0.1"}
	bearer := []policies.Spec{spec("bearer", "key", "API_KEY")}
	digest := allowlistDigest(list...)
	tests := []struct {
		name          string
		call          Call
		decision      audit.Decision
		entry, digest string
	}{
		{name: "call admitted by an exact entry",
			call:     Call{URL: up.URL + "/v1", Source: audit.SourceCall, Policies: bearer},
			decision: audit.DecisionOK, entry: "127.0.0.1", digest: digest},
		{name: "proxied request admitted by an exact entry",
			call:     Call{URL: up.URL + "/v1", Source: audit.SourceProxy, Policies: bearer},
			decision: audit.DecisionOK, entry: "127.0.0.1", digest: digest},
		{name: "admitted by a wildcard, secret bound elsewhere",
			call:     Call{URL: "https://api.stripe.com/v1", Source: audit.SourceMCP, Policies: []policies.Spec{spec("bearer", "key", "BOUND_KEY")}},
			decision: audit.DecisionDeniedBinding, entry: "*.stripe.com", digest: digest},
		{name: "admitted by a wildcard, address refused at the dial",
			call:     Call{URL: "http://" + net.JoinHostPort("rebind.stripe.com", port) + "/", Source: audit.SourceProxy, Policies: bearer},
			decision: audit.DecisionBlockedAllowlist, entry: "*.stripe.com", digest: digest},
		{name: "refused by the allowlist",
			call:     Call{URL: "https://api.github.com/user", Source: audit.SourceProxy, Policies: bearer},
			decision: audit.DecisionBlockedAllowlist, digest: digest},
		{name: "metadata host name",
			call:     Call{URL: "http://metadata.google.internal/computeMetadata/v1/", Source: audit.SourceCall, Policies: bearer},
			decision: audit.DecisionBlockedAllowlist, digest: digest},
		{name: "failed before the guard",
			call:     Call{URL: "ftp://api.stripe.com/", Source: audit.SourceCall, Policies: bearer},
			decision: audit.DecisionError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := doAndRecord(t, r, sink, &tt.call)
			if ev.Decision != tt.decision {
				t.Errorf("decision %q, want %q (reason %q)", ev.Decision, tt.decision, ev.Reason)
			}
			if ev.AllowlistEntry != tt.entry || ev.AllowlistDigest != tt.digest {
				t.Errorf("allowlist entry %q digest %q, want %q %q", ev.AllowlistEntry, ev.AllowlistDigest, tt.entry, tt.digest)
			}
		})
	}

	// The human adds a domain: the next calls record the new list.
	v.mu.Lock()
	v.allowlist = append(v.allowlist, "api.github.com")
	v.mu.Unlock()
	changed := allowlistDigest(append(list, "api.github.com")...)
	if changed == digest {
		t.Fatal("the digest did not change with the list")
	}
	ev := doAndRecord(t, r, sink, &Call{URL: "https://api.github.com/user", Policies: []policies.Spec{spec("bearer", "key", "GONE_KEY")}})
	if ev.AllowlistEntry != "api.github.com" || ev.AllowlistDigest != changed {
		t.Errorf("after the change: entry %q digest %q, want %q %q", ev.AllowlistEntry, ev.AllowlistDigest, "api.github.com", changed)
	}
	ev = doAndRecord(t, r, sink, &Call{URL: up.URL + "/v1", Policies: bearer})
	if ev.Decision != audit.DecisionOK || ev.AllowlistEntry != "127.0.0.1" || ev.AllowlistDigest != changed {
		t.Errorf("after the change: %+v", ev)
	}
	assertNoLeak(t, "audit events", fmt.Sprintf("%#v", sink.Events()), testSecret, testSecret+"-bound")
}

// allowlistDigest is the documented digest of an allowlist: SHA-256 of
// its entries sorted, one per line, each line ending in a newline (what
// `agentsecrets workspace allowlist list` prints), in hex after "sha256:".
func allowlistDigest(entries ...string) string {
	sorted := slices.Clone(entries)
	slices.Sort(sorted)
	sum := sha256.Sum256([]byte(strings.Join(sorted, "\n") + "\n"))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// doAndRecord runs c, reads and closes the body of an answer, and returns
// the one event the call recorded.
func doAndRecord(t *testing.T, r *Runner, sink *audit.MemorySink, c *Call) audit.Event {
	t.Helper()
	before := len(sink.Events())
	if res, err := r.Do(context.Background(), c); err == nil {
		output(t, res)
	}
	evs := sink.Events()
	if len(evs) != before+1 {
		t.Fatalf("%d events recorded by one call", len(evs)-before)
	}
	return evs[before]
}

// failingSink refuses every event.
type failingSink struct{}

func (failingSink) Record(context.Context, audit.Event) error {
	return fmt.Errorf("audit: append: disk I/O error")
}

// TestAuditFailureIsReported: a row the sink refuses is reported to
// AuditFailed, once per call, for a call made and for one refused; the
// error names no value.
func TestAuditFailureIsReported(t *testing.T) {
	up := newUpstream(t, echoHandler)
	v := newFakeVault([]string{"127.0.0.1"}, map[string]string{"API_KEY": testSecret})
	r, _, _ := newTestRunner(t, v)
	r.Audit = failingSink{}
	var reported []error
	r.AuditFailed = func(err error) { reported = append(reported, err) }
	bearer := []policies.Spec{spec("bearer", "key", "API_KEY")}
	res, err := r.Do(context.Background(), &Call{URL: up.URL + "/x", Policies: bearer})
	if err != nil {
		t.Fatal(err)
	}
	_ = output(t, res)
	if _, err := r.Do(context.Background(), &Call{URL: "http://api.github.com/", Policies: bearer}); err == nil {
		t.Fatal("a host off the allowlist was called")
	}
	if len(reported) != 2 {
		t.Fatalf("AuditFailed called %d times, want 2: %v", len(reported), reported)
	}
	for _, err := range reported {
		if !strings.Contains(err.Error(), "disk I/O error") || strings.Contains(err.Error(), testSecret) {
			t.Errorf("reported %v", err)
		}
	}
}
