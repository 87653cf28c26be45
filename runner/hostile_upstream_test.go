package runner

import (
	"compress/gzip"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/The-17/agentsecrets/policies"
	"github.com/The-17/agentsecrets/runner/redact"
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
		// The parser quotes the start of the body after a header it cannot
		// read: a compressed copy would pass redaction in escaped form.
		{"gzip body after a broken header", func(c string) string {
			g := gzipped([]byte(c))
			return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\nX-Broken\r\n\r\n%s", len(g), g)
		}, ErrUpstream},
		{"gzip transfer encoding", func(c string) string {
			g := gzipped([]byte(c))
			return fmt.Sprintf("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n%s", g)
		}, ErrUpstream},
		{"escaped bytes in a header line", func(c string) string {
			return "HTTP/1.1 200 OK\r\n\x01" + strings.Join(strings.Split(c, ""), "\x01") + "\r\nContent-Length: 0\r\n\r\n"
		}, ErrUpstream},
		{"broken chunk size", func(c string) string {
			return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\nzz" + string(gzipped([]byte(c))) + "\r\n"
		}, ErrUpstream},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newUpstream(t, rawAnswer(tt.build))
			v := newFakeVault([]string{"127.0.0.1"}, map[string]string{"API_KEY": secret})
			r, sink, _ := newTestRunner(t, v)
			call := &Call{URL: up.URL + "/x", Policies: []policies.Spec{spec("bearer", "key", "API_KEY")}}
			res, err := r.Do(context.Background(), call)
			if err == nil { // a broken body fails while it is read
				_, err = io.ReadAll(res.Body)
				res.Body.Close()
				if err == nil {
					t.Fatal("Do and the body's read succeeded on a broken response")
				}
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("Do error %v, want %v", err, tt.want)
			}
			assertNoHiddenCopy(t, "error message", err.Error(), secret)
			for _, ev := range sink.Events() {
				assertNoHiddenCopy(t, "audit reason", ev.Reason, secret)
			}
		})
	}
}

// TestResetErrorsCarryNoEchoedCredential: an upstream that sends part of
// a header echoing the credential, then resets the connection, makes the
// HTTP client fail with a network error (which alone quotes nothing) whose
// message also quotes the bytes read so far. A compressed or escaped copy
// there must not reach the caller nor the audit event.
func TestResetErrorsCarryNoEchoedCredential(t *testing.T) {
	const secret = "sk_live_0123456789abcdefghijKLMNOP"
	tests := []struct {
		name  string
		build func(cred string) string
	}{
		{"gzip copy in a header line", func(c string) string { return "HTTP/1.1 200 OK\r\nX-Echo: " + string(gzipped([]byte(c))) }},
		{"escaped bytes in a header line", func(c string) string {
			return "HTTP/1.1 200 OK\r\nX-Echo: \x01" + strings.Join(strings.Split(c, ""), "\x01")
		}},
		{"gzip copy in the status line", func(c string) string { return "HTTP/1.1 200 " + string(gzipped([]byte(c))) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newUpstream(t, resetAnswer(tt.build))
			v := newFakeVault([]string{"127.0.0.1"}, map[string]string{"API_KEY": secret})
			r, sink, _ := newTestRunner(t, v)
			call := &Call{URL: up.URL + "/x", Timeout: 5 * time.Second, Policies: []policies.Spec{spec("bearer", "key", "API_KEY")}}
			res, err := r.Do(context.Background(), call)
			if err == nil {
				res.Body.Close()
				t.Fatal("Do succeeded on a reset connection")
			}
			if !errors.Is(err, ErrUpstream) {
				t.Errorf("Do error %v, want ErrUpstream", err)
			}
			assertNoHiddenCopy(t, "error message", err.Error(), secret)
			for _, ev := range sink.Events() {
				assertNoHiddenCopy(t, "audit reason", ev.Reason, secret)
			}
		})
	}
}

// resetAnswer is rawAnswer that then resets the connection (a TCP RST,
// not a close) once the client has had time to read what was written.
func resetAnswer(build func(credential string) string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cred := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		buf.WriteString(build(cred))
		buf.Flush()
		time.Sleep(100 * time.Millisecond)
		if tc, ok := conn.(*tapConn); ok {
			if tcp, ok := tc.Conn.(*net.TCPConn); ok {
				tcp.SetLinger(0)
			}
		}
		conn.Close()
	}
}

// assertNoHiddenCopy is assertNoLeak, and also fails when text quotes
// bytes that are not printable (a parser's snippet of the response), in
// which a copy may hide from redaction: compressed, or escaped byte by
// byte. It unquotes each quoted string and looks into any gzip stream.
func assertNoHiddenCopy(tb testing.TB, what, text, secret string) {
	tb.Helper()
	assertNoLeak(tb, what, text, secret)
	if strings.Contains(text, `\x`) || strings.Contains(text, `\u00`) {
		tb.Errorf("%s quotes escaped bytes of the response: %q", what, text)
	}
	for i := strings.IndexByte(text, '"'); i >= 0 && i < len(text); {
		q, err := strconv.QuotedPrefix(text[i:])
		if err != nil {
			break
		}
		raw, _ := strconv.Unquote(q)
		assertNoLeak(tb, what+" (unquoted)", raw, secret)
		if j := strings.Index(raw, "\x1f\x8b"); j >= 0 {
			if zr, err := gzip.NewReader(strings.NewReader(raw[j:])); err == nil {
				plain, _ := io.ReadAll(zr)
				assertNoLeak(tb, what+" (gunzipped)", string(plain), secret)
			}
		}
		next := strings.IndexByte(text[i+len(q):], '"')
		if next < 0 {
			break
		}
		i += len(q) + next
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

// TestTrailerNamesCarryNoEchoedCredential: the HTTP client re-cases the
// field names a Trailer header lists, as it does header names, so a
// credential echoed there comes back changed in case, beyond what value
// redaction matches. Trailers are never passed on (the body arrives
// de-chunked), so neither is the list announcing them.
func TestTrailerNamesCarryNoEchoedCredential(t *testing.T) {
	const secret = "AbCdEfGhIjKlMnOpQrStUvWxYz" // no run survives the re-casing
	tests := []struct{ name, trailer string }{
		{"alone", "%s"},
		{"in a list", "X-Checksum, %s, X-Other"},
		{"as a name's suffix", "X-%s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newUpstream(t, rawAnswer(func(c string) string {
				return "HTTP/1.1 200 OK\r\nTrailer: " + fmt.Sprintf(tt.trailer, c) +
					"\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
			}))
			v := newFakeVault([]string{"127.0.0.1"}, map[string]string{"API_KEY": secret})
			r, _, _ := newTestRunner(t, v)
			res, err := r.Do(context.Background(), &Call{URL: up.URL + "/x", Policies: []policies.Spec{spec("bearer", "key", "API_KEY")}})
			if err != nil {
				t.Fatal(err)
			}
			out := output(t, res)
			assertNoLeak(t, "caller output", strings.ToLower(out), strings.ToLower(secret))
			if !strings.HasSuffix(out, "\n\nok") {
				t.Errorf("the body was lost: %q", out)
			}
		})
	}
}

// TestBasicPartsRedacted: an upstream that checks a Basic credential may
// echo its parts; the password alone is redacted (the user name is not a
// secret), whatever its length above hostfns.MinBasicPassword.
func TestBasicPartsRedacted(t *testing.T) {
	const user, password = "alice", "hunter2pass"
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		u, p, _ := r.BasicAuth()
		fmt.Fprintf(w, `{"authenticated":true,"user":%q,"password":%q}`, u, p)
	})
	v := newFakeVault([]string{"127.0.0.1"}, map[string]string{"BASIC_CRED": user + ":" + password})
	r, _, _ := newTestRunner(t, v)
	res, err := r.Do(context.Background(), &Call{URL: up.URL + "/basic-auth", Policies: []policies.Spec{spec("basic", "key", "BASIC_CRED")}})
	if err != nil {
		t.Fatal(err)
	}
	out := output(t, res)
	assertNoLeak(t, "caller output", out, password)
	if !strings.Contains(out, `"user":"alice"`) {
		t.Errorf("the user name was redacted too: %s", out)
	}
}

// TestRepeatedContentEncodingRefused: a Content-Encoding sent as several
// header lines is one list (RFC 9110, section 5.3). The HTTP client keeps
// only the last line, so the body would be decoded too little and passed
// on still compressed, unscanned: such a response is refused, over plain
// HTTP and over TLS. One line per header block (an interim 1xx answer
// has its own) is decoded and redacted as usual.
func TestRepeatedContentEncodingRefused(t *testing.T) {
	tests := []struct {
		name    string
		interim bool // send a 103 answer first, which repeats the header
		coding  []string
		body    []byte
		refused bool
	}{
		{"gzip twice", false, []string{"gzip", "gzip"}, gzipped(gzipped([]byte(testSecret))), true},
		{"gzip then identity", false, []string{"gzip", "identity"}, gzipped([]byte(testSecret)), true},
		{"deflate then gzip", false, []string{"deflate", "gzip"}, gzipped(zlibbed([]byte(testSecret))), true},
		{"names in other case", false, []string{"GZIP", "x-gzip"}, gzipped(gzipped([]byte(testSecret))), true},
		{"twice after an interim answer", true, []string{"gzip", "gzip"}, gzipped(gzipped([]byte(testSecret))), true},
		{"one line", false, []string{"gzip"}, gzipped([]byte(testSecret)), false},
		{"one line per block", true, []string{"gzip"}, gzipped([]byte(testSecret)), false},
	}
	for _, useTLS := range []bool{false, true} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s tls=%v", tt.name, useTLS), func(t *testing.T) {
				h := func(w http.ResponseWriter, r *http.Request) {
					w.Header()["Content-Encoding"] = tt.coding
					if tt.interim {
						w.WriteHeader(http.StatusEarlyHints)
					}
					w.Write(tt.body)
				}
				v := newFakeVault([]string{"127.0.0.1"}, map[string]string{"API_KEY": testSecret})
				r, _, _ := newTestRunner(t, v)
				target := ""
				if useTLS {
					srv := httptest.NewTLSServer(http.HandlerFunc(h))
					t.Cleanup(srv.Close)
					roots := x509.NewCertPool()
					roots.AddCert(srv.Certificate())
					r.Transport.(*Transport).TLSConfig.RootCAs = roots
					target = srv.URL
				} else {
					target = newUpstream(t, h).URL
				}
				res, err := r.Do(context.Background(), &Call{URL: target + "/x", Policies: []policies.Spec{spec("bearer", "key", "API_KEY")}})
				if !tt.refused {
					if err != nil {
						t.Fatalf("Do: %v", err)
					}
					if out := output(t, res); !strings.Contains(out, redact.Replacement) {
						t.Errorf("body not decoded and redacted: %q", out)
					}
					return
				}
				if err == nil {
					body, _ := io.ReadAll(res.Body)
					res.Body.Close()
					t.Fatalf("a body encoded %v was passed on (%d bytes), want ErrUnsafeResponse", tt.coding, len(body))
				}
				if !errors.Is(err, ErrUnsafeResponse) {
					t.Errorf("Do error %v, want ErrUnsafeResponse", err)
				}
				assertNoHiddenCopy(t, "error message", err.Error(), testSecret)
			})
		}
	}
}

// TestRepeatedContentEncodingAfterSpacedInterim: fasthttp reads a status
// line with several spaces before its code ("HTTP/1.1  103") as it reads
// one with a single space, so the guard must too: taken for the final
// answer, such an interim answer would hide the Content-Encoding lines of
// the real one.
func TestRepeatedContentEncodingAfterSpacedInterim(t *testing.T) {
	body := gzipped(gzipped([]byte(testSecret)))
	reply := rawReply{parts: []string{fmt.Sprintf("HTTP/1.1  103 Early Hints\r\n\r\n"+
		"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s", len(body), body)}, close: true}
	target := rawUpstream(t, reply, reply) // a GET that fails is sent twice
	v := newFakeVault([]string{"127.0.0.1"}, map[string]string{"API_KEY": testSecret})
	r, _, _ := newTestRunner(t, v)
	res, err := r.Do(context.Background(), &Call{URL: target + "/x", Policies: []policies.Spec{spec("bearer", "key", "API_KEY")}})
	if err == nil {
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		t.Fatalf("a body encoded twice was passed on (%d bytes), want ErrUnsafeResponse", len(got))
	}
	if !errors.Is(err, ErrUnsafeResponse) {
		t.Errorf("Do error %v, want ErrUnsafeResponse", err)
	}
}
