package proxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/The-17/agentsecrets/runner/audit"
	"github.com/The-17/agentsecrets/runner/redact"
)

// TestBoundedResponses sends bodies of declared length, small and larger
// than one copy buffer, holding a secret: each arrives redacted, whole,
// and a small one with the Content-Length of its redacted form.
func TestBoundedResponses(t *testing.T) {
	secret := testSecrets["TOKEN_B"]
	tests := []struct {
		name   string
		body   string
		length bool // the client must see a Content-Length
	}{
		{"empty", "", true},
		{"small", `{"echo":"` + secret + `"}`, true},
		{"secret at the end", "tail " + secret, true},
		{"larger than a buffer", strings.Repeat("line of text "+secret+"\n", 3000), false},
	}
	f := newFixture(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.upstream.setHandler(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Content-Length", strconv.Itoa(len(tc.body)))
				io.WriteString(w, tc.body)
			})
			resp, err := f.proxy.Client().Do(f.request("GET", "/v1", nil, "X-AS-Inject-Bearer", "TOKEN_A"))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			want := strings.ReplaceAll(tc.body, secret, redact.Replacement)
			if resp.StatusCode != 200 || string(got) != want {
				t.Fatalf("status %d, %d bytes; want 200 and the %d-byte redacted body", resp.StatusCode, len(got), len(want))
			}
			if tc.length && resp.ContentLength != int64(len(want)) {
				t.Fatalf("Content-Length %d, want %d", resp.ContentLength, len(want))
			}
			if resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("Content-Type %q", resp.Header.Get("Content-Type"))
			}
		})
	}
}

// TestHeadAndNoContent checks responses without a body.
func TestHeadAndNoContent(t *testing.T) {
	f := newFixture(t)
	f.upstream.setHandler(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/gone" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Length", "1234")
	})
	for _, c := range []struct {
		method, path string
		status       int
	}{{"HEAD", "/v1", 200}, {"DELETE", "/gone", 204}} {
		status, _, body := f.do(f.request(c.method, c.path, nil, "X-AS-Inject-Bearer", "TOKEN_A"))
		if status != c.status || body != "" {
			t.Errorf("%s %s: status %d, body %q; want %d and no body", c.method, c.path, status, body, c.status)
		}
	}
}

// TestTruncatedBoundedResponseIsRefused has the upstream declare more
// bytes than it sends and hang up: the client gets a 502, not a body
// that looks complete.
func TestTruncatedBoundedResponseIsRefused(t *testing.T) {
	f := newFixture(t)
	f.upstream.setHandler(func(w http.ResponseWriter, r *http.Request) {
		writeRaw(t, w, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nContent-Type: text/plain\r\n\r\nonly part")
	})
	status, _, body := f.do(f.request("GET", "/v1", nil, "X-AS-Inject-Bearer", "TOKEN_A"))
	if status != http.StatusBadGateway || !strings.Contains(body, CodeUpstreamUnreachable) || strings.Contains(body, "only part") {
		t.Fatalf("status %d, body %q; want 502 %s", status, body, CodeUpstreamUnreachable)
	}
}

// TestServeWritesPendingAuditRows stops a proxy right after its requests
// are answered: when Serve returns, every request's row is in the
// database and the chain verifies, without a call to Wait.
func TestServeWritesPendingAuditRows(t *testing.T) {
	f := newFixture(t)
	ln, err := Listen("127.0.0.1", 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, ln, f.handler) }()
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "tcp", ln.Addr().String())
	}}}
	const requests = 40
	for range requests {
		resp, err := client.Do(f.request("GET", "/v1", nil, "X-AS-Inject-Bearer", "TOKEN_A"))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	entries, err := f.audit.Query(context.Background(), audit.Filter{Source: audit.SourceProxy})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != requests {
		t.Fatalf("%d audit rows after Serve returned, want %d", len(entries), requests)
	}
	if res, err := f.audit.Verify(context.Background()); err != nil || !res.OK {
		t.Fatalf("verify: %+v, %v", res, err)
	}
}
