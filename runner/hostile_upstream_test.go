package runner

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/The-17/agentsecrets/policies"
)

// rawAnswer hijacks the connection and writes the response built from the
// bearer credential the request carried, byte for byte, as a hostile
// upstream would.
func rawAnswer(build func(credential string) string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cred := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		buf.WriteString(build(cred))
		buf.Flush()
	}
}

// TestErrorsCarryNoEchoedCredential: an upstream that echoes the injected
// credential where net/http or the decoder quote it in an error (a status
// line, a header line, a Content-Encoding token) must not get it into the
// error the caller sees nor into the audit event.
func TestErrorsCarryNoEchoedCredential(t *testing.T) {
	const secret = "sk_live_0123456789abcdefghijKLMNOP"
	tests := []struct {
		name  string
		build func(cred string) string
		want  error
	}{
		{"status code", func(c string) string { return "HTTP/1.1 " + c + " OK\r\nContent-Length: 0\r\n\r\n" }, ErrUpstream},
		{"status line", func(c string) string { return c + "\r\n\r\n" }, ErrUpstream},
		{"header line", func(c string) string { return "HTTP/1.1 200 OK\r\n" + c + "\r\nContent-Length: 0\r\n\r\n" }, ErrUpstream},
		{"transfer encoding", func(c string) string {
			return "HTTP/1.1 200 OK\r\nTransfer-Encoding: " + c + "\r\n\r\n"
		}, ErrUpstream},
		{"content encoding", func(c string) string {
			return "HTTP/1.1 200 OK\r\nContent-Encoding: gzip, " + c + "\r\nContent-Length: 0\r\n\r\n"
		}, ErrUnsafeResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newUpstream(t, rawAnswer(tt.build))
			v := newFakeVault([]string{"127.0.0.1"}, map[string]string{"API_KEY": secret})
			r, sink, _ := newTestRunner(t, v)
			call := &Call{URL: up.URL + "/x", Policies: []policies.Spec{spec("bearer", "key", "API_KEY")}}
			res, err := r.Do(context.Background(), call)
			if err == nil {
				res.Body.Close()
				t.Fatal("Do succeeded on a broken response")
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("Do error %v, want %v", err, tt.want)
			}
			assertNoLeak(t, "error message", err.Error(), secret)
			for _, ev := range sink.Events() {
				assertNoLeak(t, "audit reason", ev.Reason, secret)
			}
		})
	}
}

// TestHeaderNamesCarryNoEchoedCredential: a credential echoed as a response
// header name (which net/http re-cases) is not passed on.
func TestHeaderNamesCarryNoEchoedCredential(t *testing.T) {
	const secret = "sk_live_0123456789abcdefghijKLMNOP"
	up := newUpstream(t, rawAnswer(func(c string) string {
		return "HTTP/1.1 200 OK\r\nX-" + c + ": 1\r\n" + c + ": 2\r\nX-Plain: kept\r\nContent-Length: 2\r\n\r\nok"
	}))
	v := newFakeVault([]string{"127.0.0.1"}, map[string]string{"API_KEY": secret})
	r, _, _ := newTestRunner(t, v)
	res, err := r.Do(context.Background(), &Call{URL: up.URL + "/x", Policies: []policies.Spec{spec("bearer", "key", "API_KEY")}})
	if err != nil {
		t.Fatal(err)
	}
	out := output(t, res)
	assertNoLeak(t, "caller output", strings.ToLower(out), strings.ToLower(secret))
	if res.Header.Get("X-Plain") != "kept" {
		t.Errorf("a plain header was lost: %v", res.Header)
	}
	if n := res.Redactions(); n < 2 {
		t.Errorf("%d redactions, want at least 2", n)
	}
}
