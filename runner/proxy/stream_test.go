package proxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/The-17/agentsecrets/runner/audit"
)

// TestStreamFailingMidBodyIsNotCompleted has the upstream send part of a
// body of undeclared length and then fail: the client must see the
// response end in error, not a well-framed answer that looks complete.
func TestStreamFailingMidBodyIsNotCompleted(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		tail        string // sent after the first chunk, before hanging up
		stall       bool   // stall until the call's deadline instead of hanging up
	}{
		{"chunked body cut in a chunk", "application/x-ndjson", "10\r\npart2", false},
		{"events cut in a chunk", "text/event-stream", "10\r\npart2", false},
		{"chunked body cut between chunks", "application/x-ndjson", "", false},
		{"events cut between chunks", "text/event-stream", "", false},
		{"events past the deadline", "text/event-stream", "", true},
	}
	f := newFixtureWith(t, func(f *fixture) { f.handler.Timeout = time.Second })
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan struct{})
			defer close(done)
			f.upstream.setHandler(func(w http.ResponseWriter, r *http.Request) {
				conn, buf, err := http.NewResponseController(w).Hijack()
				if err != nil {
					t.Error(err)
					return
				}
				defer conn.Close()
				buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: " + tc.contentType +
					"\r\nTransfer-Encoding: chunked\r\n\r\n6\r\npart1\n\r\n")
				buf.WriteString(tc.tail)
				buf.Flush()
				if tc.stall {
					select {
					case <-done:
					case <-time.After(10 * time.Second):
					}
				}
			})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			resp, err := f.proxy.Client().Do(f.request("GET", "/stream", nil, "X-AS-Inject-Bearer", "TOKEN_A").WithContext(ctx))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, err := io.ReadAll(resp.Body)
			if err == nil || ctx.Err() != nil {
				t.Fatalf("body %q read without error (%v); want the truncation reported", got, err)
			}
		})
	}
}

// TestStalledClientReleasesTheUpstream has a client read the headers of
// an endless event stream and then stop reading: within the call's
// timeout (and a margin) the proxy gives up on it, closes the upstream
// and records the audit row, instead of holding both forever.
func TestStalledClientReleasesTheUpstream(t *testing.T) {
	f := newFixtureWith(t, func(f *fixture) { f.handler.Timeout = time.Second })
	upstreamDone := make(chan struct{})
	f.upstream.setHandler(func(w http.ResponseWriter, r *http.Request) {
		defer close(upstreamDone)
		rc := http.NewResponseController(w)
		rc.SetWriteDeadline(time.Now().Add(20 * time.Second)) // ends the test's upstream whatever happens
		w.Header().Set("Content-Type", "text/event-stream")
		line := "data: " + strings.Repeat("x", 4096) + "\n\n"
		for {
			if _, err := io.WriteString(w, line); err != nil {
				return
			}
			if rc.Flush() != nil {
				return
			}
		}
	})
	conn, err := net.Dial("tcp", strings.TrimPrefix(f.proxy.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := f.request("GET", "/events", nil, "X-AS-Inject-Bearer", "TOKEN_A")
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	// The client reads no more.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := f.handler.Wait(); err != nil {
			t.Fatal(err)
		}
		entries, err := f.audit.Query(context.Background(), audit.Filter{Source: audit.SourceProxy})
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d audit rows 10 s after the client stopped reading, want 1", len(entries))
		}
		time.Sleep(100 * time.Millisecond)
	}
	select {
	case <-upstreamDone:
	case <-time.After(10 * time.Second):
		t.Fatal("the upstream connection is still held")
	}
}

// TestRequestTimeoutOutlastsTheProxys: X-AS-Timeout gives one call (a
// model's long streamed answer) more time than the proxy's default, and
// without it the same stream is cut at the default.
func TestRequestTimeoutOutlastsTheProxys(t *testing.T) {
	f := newFixtureWith(t, func(f *fixture) { f.handler.Timeout = 300 * time.Millisecond })
	f.upstream.setHandler(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: first\n\n")
		rc.Flush()
		select { // past the proxy's own timeout
		case <-r.Context().Done():
			return
		case <-time.After(800 * time.Millisecond):
		}
		io.WriteString(w, "data: last\n\n")
	})
	for _, tc := range []struct {
		name     string
		headers  []string
		complete bool
	}{
		{"with X-AS-Timeout", []string{"X-AS-Timeout", "5s"}, true},
		{"the proxy's timeout", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			req := f.request("GET", "/events", nil, append([]string{"X-AS-Inject-Bearer", "TOKEN_A"}, tc.headers...)...)
			resp, err := f.proxy.Client().Do(req.WithContext(ctx))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			complete := err == nil && strings.Contains(string(body), "data: last")
			if complete != tc.complete {
				t.Errorf("body %q, read error %v: complete %v, want %v", body, err, complete, tc.complete)
			}
		})
	}
}
