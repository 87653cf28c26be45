package runner

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/The-17/agentsecrets/policies"
	"github.com/The-17/agentsecrets/runner/audit"
	"github.com/The-17/agentsecrets/runner/redact"
)

// rawReply is one answer of a rawUpstream: parts are written one after
// another (a moment apart, so the client tends to read them apart), and
// the connection is closed after it when close is set.
type rawReply struct {
	parts []string
	close bool
}

// rawUpstream listens on 127.0.0.1 and answers the requests it reads, on
// whatever connection, with replies in order, byte for byte. It closes a
// connection once replies run out. It returns the base URL.
func rawUpstream(t *testing.T, replies ...rawReply) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu   sync.Mutex
		next int
		wg   sync.WaitGroup
	)
	serve := func(c net.Conn) {
		defer wg.Done()
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, req.Body)
			mu.Lock()
			if next == len(replies) {
				mu.Unlock()
				return
			}
			reply := replies[next]
			next++
			mu.Unlock()
			for i, part := range reply.parts {
				if i > 0 {
					time.Sleep(2 * time.Millisecond)
				}
				if _, err := io.WriteString(c, part); err != nil {
					return
				}
			}
			if reply.close {
				return
			}
		}
	}
	acceptEach(ln, &wg, serve)
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return "http://" + ln.Addr().String()
}

const chunkedHeader = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"

// TestChunkedBodyCutShortIsAnError: an upstream that closes the connection
// in a chunked body where a chunk ends (before the last chunk, or in the
// trailers after it) has sent a truncated answer. Reading the result's
// body fails, and the audit event is an error, as for any other body cut
// short; the body read up to the cut is what was sent.
func TestChunkedBodyCutShortIsAnError(t *testing.T) {
	tests := []struct {
		name  string
		parts []string
	}{
		{"between chunks", []string{chunkedHeader, "5\r\nhello\r\n"}},
		{"between chunks, header in the same write", []string{chunkedHeader + "5\r\nhello\r\n"}},
		{"between chunks with extensions", []string{chunkedHeader, "5;a=b;c=\"d;e\"\r\nhello\r\n", "1;x\r\n!\r\n"}},
		{"between chunks split at every line", []string{chunkedHeader, "5\r", "\nhel", "lo\r", "\n"}},
		{"before the first chunk", []string{chunkedHeader}},
		{"in a trailer line", []string{chunkedHeader, "5\r\nhello\r\n0\r\nX-Checksum: ab"}},
		{"after a trailer line", []string{chunkedHeader, "5\r\nhello\r\n0\r\nX-Checksum: abc\r\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := rawUpstream(t, rawReply{parts: tt.parts, close: true})
			checkCutShort(t, target)
		})
	}
	t.Run("over TLS", func(t *testing.T) {
		srv := httptest.NewTLSServer(rawAnswer(func(string) string { return chunkedHeader + "5\r\nhello\r\n" }))
		t.Cleanup(srv.Close)
		roots := x509.NewCertPool()
		roots.AddCert(srv.Certificate())
		checkCutShort(t, srv.URL, func(r *Runner) { r.Transport.(*Transport).TLSConfig.RootCAs = roots })
	})
}

// TestTransferCodingOutsideHTTP11Refused: a response that is not HTTP/1.1
// but carries Transfer-Encoding has faulty framing (RFC 9112, section
// 6.1: most likely a chunked answer forwarded by an HTTP/1.0 hop). The
// client reads such a body as it comes, chunk-size lines included, and
// those lines split an echoed credential into pieces too short for the
// redactor: the response is refused. The same answer as HTTP/1.1 is
// de-chunked and redacted, and an HTTP/1.0 answer without a transfer
// coding is read to the close as usual.
func TestTransferCodingOutsideHTTP11Refused(t *testing.T) {
	const secret = "AbCdEfGhIjKlMnOpQrStUvWxYz" // two 13-byte chunks
	chunked := func(proto, coding string) func(c string) string {
		return func(c string) string {
			return proto + " 200 OK\r\nTransfer-Encoding: " + coding + "\r\n\r\n" +
				"d\r\n" + c[:13] + "\r\nd\r\n" + c[13:] + "\r\n0\r\n\r\n"
		}
	}
	tests := []struct {
		name    string
		build   func(c string) string
		refused bool
	}{
		{"http/1.0 chunked", chunked("HTTP/1.0", "chunked"), true},
		{"http/1.0 chunked in other case", chunked("HTTP/1.0", "Chunked"), true},
		{"http/1.0 other coding", chunked("HTTP/1.0", "gzip, chunked"), true},
		{"http/1.2 chunked", chunked("HTTP/1.2", "chunked"), true},
		{"http/1.1 chunked", chunked("HTTP/1.1", "chunked"), false},
		{"http/1.0 to the close", func(c string) string { return "HTTP/1.0 200 OK\r\n\r\n" + c }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newUpstream(t, rawAnswer(tt.build))
			v := newFakeVault([]string{"127.0.0.1"}, map[string]string{"API_KEY": secret})
			r, sink, _ := newTestRunner(t, v)
			res, err := r.Do(context.Background(), &Call{URL: up.URL + "/x", Policies: []policies.Spec{spec("bearer", "key", "API_KEY")}})
			if !tt.refused {
				if err != nil {
					t.Fatalf("Do: %v", err)
				}
				if out := output(t, res); !strings.HasSuffix(out, "\n\n"+redact.Replacement) {
					t.Errorf("body not read whole and redacted: %q", out)
				}
				return
			}
			if err == nil {
				out := output(t, res)
				assertNoLeak(t, "caller output", out, secret)
				t.Fatalf("a body framed by a transfer coding outside HTTP/1.1 was passed on: %q", out)
			}
			if !errors.Is(err, ErrUnsafeResponse) {
				t.Errorf("Do error %v, want ErrUnsafeResponse", err)
			}
			assertNoHiddenCopy(t, "error message", err.Error(), secret)
			for _, ev := range sink.Events() {
				assertNoHiddenCopy(t, "audit reason", ev.Reason, secret)
			}
		})
	}
}

// checkCutShort calls target, whose answer is a chunked body cut short
// after "hello", and checks that the read fails and the audit says so.
func checkCutShort(t *testing.T, target string, configure ...func(*Runner)) {
	t.Helper()
	v := newFakeVault([]string{"127.0.0.1"}, map[string]string{"API_KEY": testSecret})
	r, sink, _ := newTestRunner(t, v)
	for _, c := range configure {
		c(r)
	}
	res, err := r.Do(context.Background(), &Call{URL: target + "/x", Policies: []policies.Spec{spec("bearer", "key", "API_KEY")}})
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err == nil {
		t.Fatalf("a truncated chunked body read as complete: %q", body)
	}
	if !errors.Is(err, ErrUpstream) {
		t.Errorf("read error %v, want ErrUpstream", err)
	}
	if s := string(body); s != "" && !strings.HasPrefix("hello!", s) {
		t.Errorf("body %q is not what was sent", s)
	}
	evs := sink.Events()
	if len(evs) != 1 {
		t.Fatalf("%d events, want 1", len(evs))
	}
	if ev := evs[0]; ev.Decision != audit.DecisionError || ev.Status != 200 || !strings.Contains(ev.Reason, "ended early") {
		t.Errorf("event %+v: want decision error, status 200 and the reason", ev)
	}
}

// TestChunkedBodiesOnOneConnection: complete chunked bodies (with chunk
// extensions and trailers, written in pieces), answers that carry
// Transfer-Encoding but no body (to HEAD, 204, 304) and a plain one all
// read whole, one after another on a single kept-alive connection; the
// connection's close after the last complete answer is no error either.
func TestChunkedBodiesOnOneConnection(t *testing.T) {
	const noBody = "Transfer-Encoding: chunked\r\n\r\n"
	steps := []struct {
		method string
		reply  rawReply
		status int
		body   string
	}{
		{"GET", rawReply{parts: []string{chunkedHeader, "5;ext=1\r\nhello\r\n", "7\r\n, world\r\n0\r\nX-Sum: 1\r\n\r\n"}}, 200, "hello, world"},
		{"HEAD", rawReply{parts: []string{"HTTP/1.1 200 OK\r\n" + noBody}}, 200, ""},
		{"GET", rawReply{parts: []string{"HTTP/1.1 204 No Content\r\n" + noBody}}, 204, ""},
		{"GET", rawReply{parts: []string{"HTTP/1.1 304 Not Modified\r\n" + noBody}}, 304, ""},
		{"GET", rawReply{parts: []string{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "plain"}}, 200, "plain"},
		{"GET", rawReply{parts: []string{"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + chunkedHeader + "3\r\nabc\r\n", "A\r\n0\r\n\r\n01234\r\n", "0\r\n", "\r\n"}}, 200, "abc0\r\n\r\n01234"},
		{"GET", rawReply{parts: []string{chunkedHeader + "4\r\nlast\r\n0\r\n\r\n"}, close: true}, 200, "last"},
	}
	replies := make([]rawReply, len(steps))
	for i, s := range steps {
		replies[i] = s.reply
	}
	target := rawUpstream(t, replies...)
	tr, dc := newCountingTransport(t)
	for i, s := range steps {
		res, err := tr.RoundTrip(transportRequest(t, s.method, target+"/x", nil, true))
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || res.StatusCode != s.status || string(body) != s.body {
			t.Errorf("answer %d: status %d, body %q, error %v; want %d and %q", i, res.StatusCode, body, err, s.status, s.body)
		}
	}
	if n := dc.dials(); n != 1 {
		t.Errorf("%d dials for %d answers on a kept-alive connection, want 1", n, len(steps))
	}
}

// scriptConn is a connection whose reads return reads in turn (each as
// one read, when p has room) and then io.EOF; writes are dropped.
type scriptConn struct {
	net.Conn
	reads [][]byte
}

func (c *scriptConn) Read(p []byte) (int, error) {
	for len(c.reads) > 0 && len(c.reads[0]) == 0 {
		c.reads = c.reads[1:]
	}
	if len(c.reads) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.reads[0])
	c.reads[0] = c.reads[0][n:]
	return n, nil
}

func (c *scriptConn) Write(p []byte) (int, error) { return len(p), nil }

// readGuarded reads g until an error, in reads of size bytes, and returns
// what it read and the error.
func readGuarded(g *codingGuard, size int) ([]byte, error) {
	var out []byte
	buf := make([]byte, size)
	for {
		n, err := g.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			return out, err
		}
	}
}

// guardCases are responses to the codingGuard's chunk following. followed
// is how many bytes of body are followed as chunks (-1: all): a cut in them
// is a truncation, at or after it (or in the header) a plain end.
var guardCases = []struct {
	name     string
	head     bool // the request is HEAD
	header   string
	body     string
	followed int
}{
	{"one chunk", false, chunkedHeader, "5\r\nhello\r\n0\r\n\r\n", -1},
	{"chunks", false, chunkedHeader, "5\r\nhello\r\n1\r\n,\r\n6\r\n world\r\n0\r\n\r\n", -1},
	{"hex sizes", false, chunkedHeader, "a\r\n0123456789\r\n000B\r\n0123456789a\r\n0000\r\n\r\n", -1},
	{"extensions", false, chunkedHeader, "5;a=b\r\nhello\r\n1 \t\r\n,\r\n2;q=\"x;\\\"y\"\r\nok\r\n0;end=1\r\n\r\n", -1},
	{"trailers", false, chunkedHeader, "5\r\nhello\r\n0\r\nX-Sum: abc\r\nX-More:  1 \r\n\r\n", -1},
	{"framing in the data", false, chunkedHeader, "e\r\n0\r\n\r\n1\r\nx\r\n0\r\n\r\n0\r\n\r\n", -1},
	{"empty body", false, chunkedHeader, "0\r\n\r\n", -1},
	{"long chunk", false, chunkedHeader, "40\r\n" + strings.Repeat("d", 64) + "\r\n0\r\n\r\n", -1},
	{"after interim answers", false, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nTransfer-Encoding: x\r\n\r\n" + chunkedHeader, "3\r\nabc\r\n0\r\n\r\n", -1},
	{"names in other case", false, "HTTP/1.1 200 OK\r\ntransfer-ENCODING : chunked\r\n\r\n", "3\r\nabc\r\n0\r\n\r\n", -1},
	{"blank lines before the status", false, "\r\n\r\nHTTP/1.1  200 OK\nTransfer-Encoding: chunked\n\n", "3\r\nabc\r\n0\r\n\r\n", -1},
	{"with a length too", false, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", "3\r\nabc\r\n0\r\n\r\n", -1},
	{"HEAD", true, chunkedHeader, "", 0},
	{"204", false, "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n", "", 0},
	{"304", false, "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", "", 0},
	{"101", false, "HTTP/1.1 101 Switching Protocols\r\nTransfer-Encoding: chunked\r\n\r\n", "5\r\nhello\r\n", 0},
	{"length", false, "HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n", "5\r\nhello\r\n", 0},
	{"until close", false, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", "5\r\nhello\r\n", 0},
	{"transfer encoding in a folded line", false, "HTTP/1.1 200 OK\r\nX-A: 1\r\n Transfer-Encoding: chunked\r\n\r\n", "5\r\nhello\r\n", 0},
	{"transfer encoding in an interim answer", false, "HTTP/1.1 103 Early Hints\r\nTransfer-Encoding: chunked\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", "5\r\nhello\r\n", 0},
	{"malformed size", false, chunkedHeader, "5\r\nhello\r\nzz\r\n", 11},
	{"no CRLF after the data", false, chunkedHeader, "5\r\nhelloXX0\r\n\r\n", 9},
	{"LF in an extension", false, chunkedHeader, "5;a\nb\r\nhello\r\n", 4},
	{"size too long", false, chunkedHeader, strings.Repeat("0", 16) + "1\r\nx\r\n", 16},
}

// TestCodingGuardFollowsChunks runs each of guardCases through a
// codingGuard cut after every byte, and read in two pieces split at every
// byte before the cut (and byte by byte): the bytes pass unchanged, and
// the end is io.ErrUnexpectedEOF exactly when the cut falls in a chunked
// body before its end.
func TestCodingGuardFollowsChunks(t *testing.T) {
	for _, tc := range guardCases {
		t.Run(tc.name, func(t *testing.T) {
			req := "GET /x HTTP/1.1\r\nHost: h\r\n\r\n"
			if tc.head {
				req = "HEAD /x HTTP/1.1\r\nHost: h\r\n\r\n"
			}
			full := tc.header + tc.body
			followed := tc.followed
			if followed < 0 {
				followed = len(tc.body)
			}
			for cut := 0; cut <= len(full); cut++ {
				want := io.EOF
				if k := cut - len(tc.header); k >= 0 && k < followed {
					want = io.ErrUnexpectedEOF
				}
				in := full[:cut]
				for split := 0; split <= cut+1; split++ {
					var reads [][]byte
					size := 1 << 10
					if split <= cut {
						reads = [][]byte{[]byte(in[:split]), []byte(in[split:])}
					} else { // byte by byte
						size = 1
						reads = [][]byte{[]byte(in)}
					}
					g := &codingGuard{Conn: &scriptConn{reads: reads}}
					g.Write([]byte(req))
					got, err := readGuarded(g, size)
					if string(got) != in {
						t.Fatalf("cut %d split %d: read %q, want %q", cut, split, got, in)
					}
					if err != want {
						t.Fatalf("cut %d split %d (%q): error %v, want %v", cut, split, in, err, want)
					}
				}
			}
		})
	}
}

// TestCodingGuardResetsPerRequest: on a kept-alive connection each request
// written starts its answer afresh: a complete chunked body, then a HEAD
// answer, then a closed connection (no answer: fasthttp retries on a
// plain io.EOF) end plainly; a chunked answer after them is followed.
func TestCodingGuardResetsPerRequest(t *testing.T) {
	conn := &scriptConn{}
	g := &codingGuard{Conn: conn}
	step := func(req, resp string, size int, want error) {
		t.Helper()
		conn.reads = [][]byte{[]byte(resp)}
		g.Write([]byte(req))
		got, err := readGuarded(g, size)
		if string(got) != resp || err != want {
			t.Fatalf("after %q: read %q, %v; want %v", req, got, err, want)
		}
	}
	get, head := "GET / HTTP/1.1\r\n\r\n", "HEAD / HTTP/1.1\r\n\r\n"
	step(get, chunkedHeader+"5\r\nhello\r\n0\r\n\r\n", 7, io.EOF)
	step(head, chunkedHeader, 7, io.EOF)
	step(get, "", 7, io.EOF)
	step(get, chunkedHeader+"5\r\nhel", 7, io.ErrUnexpectedEOF)
	step(get, chunkedHeader+"5\r\nhello\r\n", 64<<10, io.ErrUnexpectedEOF)
	step(head, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", 7, io.EOF)
}

// FuzzCodingGuardChunks: whatever follows a chunked header, the guard
// passes the bytes unchanged, and never reports a truncation where
// fasthttp reads a complete response.
func FuzzCodingGuardChunks(f *testing.F) {
	for _, tc := range guardCases {
		if tc.header == chunkedHeader {
			f.Add([]byte(tc.body), 3)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, split int) {
		in := append([]byte(chunkedHeader), body...)
		split = min(max(split, 0), len(in))
		g := &codingGuard{Conn: &scriptConn{reads: [][]byte{in[:split], in[split:]}}}
		g.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
		got, err := readGuarded(g, 64<<10)
		if !bytes.Equal(got, in) {
			t.Fatalf("read %q, want %q", got, in)
		}
		if err != io.ErrUnexpectedEOF {
			return
		}
		var resp fasthttp.Response
		if rerr := resp.ReadLimitBody(bufio.NewReader(bytes.NewReader(in)), len(in)); rerr == nil {
			t.Fatalf("truncation reported in a body fasthttp reads whole: %q", body)
		}
	})
}
