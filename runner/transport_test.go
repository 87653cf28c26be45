package runner

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// transportRequest builds a request for Transport.RoundTrip as the runner
// sends it: with a deadline and the private-address permission in its
// context.
func transportRequest(t *testing.T, method, url string, body []byte, privateOK bool) *http.Request {
	t.Helper()
	ctx, cancel := context.WithTimeout(withPrivateOK(context.Background(), privateOK), 10*time.Second)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func newCountingTransport(t *testing.T) (*Transport, *dialCounter) {
	t.Helper()
	tr := NewTransport()
	dc := &dialCounter{inner: tr.DialContext}
	tr.DialContext = dc.DialContext
	t.Cleanup(tr.CloseIdleConnections)
	return tr, dc
}

// TestTransportRefusesSplittingHeaders: a header name or value that could
// split the request is refused before anything is written.
func TestTransportRefusesSplittingHeaders(t *testing.T) {
	for _, tc := range []struct{ name, value string }{
		{"X-Ok", "v\r\nX-Injected: 1"},
		{"X-Ok", "v\nX-Injected: 1"},
		{"X-Bad\r\nX-Injected", "1"},
		{"X Bad", "1"},
		{"X-Ok", "nul\x00"},
	} {
		up := newUpstream(t, nil)
		tr, dc := newCountingTransport(t)
		req := transportRequest(t, "GET", up.URL+"/x", nil, true)
		req.Header[tc.name] = []string{tc.value}
		res, err := tr.RoundTrip(req)
		if err == nil {
			res.Body.Close()
			t.Fatalf("header %q: %q was sent", tc.name, tc.value)
		}
		if !errors.Is(err, ErrBadRequest) {
			t.Errorf("header %q: error %v, want ErrBadRequest", tc.name, err)
		}
		if dc.dials() != 0 || len(up.requests()) != 0 || strings.Contains(up.rawWire(), "Injected") {
			t.Errorf("header %q: something reached the upstream", tc.name)
		}
	}
}

// TestTransportFramingFromURLAndBody: Host, Content-Length and
// Transfer-Encoding in the header map cannot change where the request goes
// or how its body is framed.
func TestTransportFramingFromURLAndBody(t *testing.T) {
	up := newUpstream(t, nil)
	tr, _ := newCountingTransport(t)
	req := transportRequest(t, "POST", up.URL+"/v1/x", []byte("hello"), true)
	req.Header["Host"] = []string{"evil.example"}
	req.Header["Content-Length"] = []string{"0"}
	req.Header["Transfer-Encoding"] = []string{"chunked"}
	res, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	got := up.requests()
	if len(got) != 1 {
		t.Fatalf("upstream saw %d requests", len(got))
	}
	if got[0].Host != up.hostPort() || string(got[0].Body) != "hello" {
		t.Errorf("upstream saw Host %q and body %q, want %q and %q", got[0].Host, got[0].Body, up.hostPort(), "hello")
	}
	if wire := up.rawWire(); strings.Contains(wire, "evil.example") || strings.Contains(strings.ToLower(wire), "transfer-encoding") {
		t.Errorf("a framing header from the map reached the wire:\n%s", wire)
	}
}

// TestTransportSendsCookieVerbatim: a Cookie header goes out byte for
// byte as the request holds it, whatever its syntax: fasthttp would parse
// and re-write it (a space after each ';', quotes and spaces around a
// value stripped, a value with '"', ';' or '\' dropped), so a credential
// there would reach the upstream altered or not at all, and come back in
// a form redaction does not match. Several values (a policy's and the
// caller's, say, or one name in two spellings) go out as the one line RFC
// 6265 (section 5.4) allows, joined with "; ".
func TestTransportSendsCookieVerbatim(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header http.Header
		want   string // the one Cookie line, name and value
	}{
		{"semicolon without a space", http.Header{"Cookie": {"sid=ab;cd"}}, "Cookie: sid=ab;cd"},
		{"quoted value", http.Header{"Cookie": {`session="AbC dEf"`}}, `Cookie: session="AbC dEf"`},
		{"spaces around the parts", http.Header{"Cookie": {"a = 1 ;b= 2"}}, "Cookie: a = 1 ;b= 2"},
		{"quote and backslash in the value", http.Header{"Cookie": {`session=sk_live_Ab+/=&%"\é9xYz`}}, `Cookie: session=sk_live_Ab+/=&%"\é9xYz`},
		{"value without a name", http.Header{"Cookie": {"justatoken"}}, "Cookie: justatoken"},
		{"empty parts", http.Header{"Cookie": {"a=1;;b=2;"}}, "Cookie: a=1;;b=2;"},
		{"name as given", http.Header{"cookie": {"a=1"}}, "cookie: a=1"},
		{"several lines", http.Header{"Cookie": {"a=1", "b=2;c", `d="4"`, `e=\"5;"`}}, `Cookie: a=1; b=2;c; d="4"; e=\"5;"`},
		{"empty values", http.Header{"Cookie": {"", "a=1", ""}}, "Cookie: a=1"},
		{"two spellings", http.Header{"cookie": {"b=2"}, "Cookie": {"a=1"}}, "Cookie: a=1; b=2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(t, nil)
			tr, _ := newCountingTransport(t)
			req := transportRequest(t, "GET", up.URL+"/x", nil, true)
			req.Header = tc.header
			res, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			wire := up.rawWire()
			if !strings.Contains(wire, "\r\n"+tc.want+"\r\n") {
				t.Errorf("raw request does not hold %q:\n%s", tc.want, wire)
			}
			if n := strings.Count(strings.ToLower(wire), "\r\ncookie:"); n != 1 {
				t.Errorf("%d Cookie lines on the wire, want 1:\n%s", n, wire)
			}
		})
	}
}

// TestTransportReusesConnections: sequential requests share one pooled
// connection once each body is read and closed.
func TestTransportReusesConnections(t *testing.T) {
	up := newUpstream(t, nil)
	tr, dc := newCountingTransport(t)
	for i := range 20 {
		res, err := tr.RoundTrip(transportRequest(t, "GET", up.URL+"/x", nil, true))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	if n := dc.dials(); n != 1 {
		t.Errorf("%d dials for 20 sequential requests, want 1", n)
	}
}

// TestTransportKeepsPrivatePoolApart: a connection opened for a host
// allowed to reach loopback is never handed to a request that is not.
func TestTransportKeepsPrivatePoolApart(t *testing.T) {
	up := newUpstream(t, nil)
	tr, _ := newCountingTransport(t)
	res, err := tr.RoundTrip(transportRequest(t, "GET", up.URL+"/x", nil, true))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	res, err = tr.RoundTrip(transportRequest(t, "GET", up.URL+"/x", nil, false))
	if err == nil {
		res.Body.Close()
		t.Fatal("a request without the private-address permission reached loopback")
	}
	if !errors.Is(err, ErrSSRF) {
		t.Errorf("error %v, want ErrSSRF", err)
	}
	if n := len(up.requests()); n != 1 {
		t.Errorf("upstream saw %d requests, want 1", n)
	}
}

// TestTransportDeadlineCoversBody: an upstream that sends its header and
// then stalls cannot hold a read past the request's deadline.
func TestTransportDeadlineCoversBody(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "partial")
		http.NewResponseController(w).Flush()
		<-release
	})
	tr, _ := newCountingTransport(t)
	ctx, cancel := context.WithTimeout(withPrivateOK(context.Background(), true), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", up.URL+"/x", nil)
	res, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	done := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(res.Body)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("the stalled body read to the end")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the body read outlived the deadline by far")
	}
}

// TestTransportHeadKeepsDeclaredLength: a HEAD answer has no body but
// reports the length the upstream declared.
func TestTransportHeadKeepsDeclaredLength(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1234")
	})
	tr, _ := newCountingTransport(t)
	res, err := tr.RoundTrip(transportRequest(t, "HEAD", up.URL+"/x", nil, true))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.ContentLength != 1234 || res.Body != http.NoBody {
		t.Errorf("HEAD: length %d, body %T; want 1234 and no body", res.ContentLength, res.Body)
	}
}

// TestTransportTLSVerifiesTheServer: https upstreams are verified against
// the trusted roots and the host name; an untrusted certificate or a name
// it does not cover gets no request (and no credential).
func TestTransportTLSVerifiesTheServer(t *testing.T) {
	var got atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		io.WriteString(w, "secure")
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	srv.StartTLS()
	defer srv.Close()
	trusted := x509.NewCertPool()
	trusted.AddCert(srv.Certificate())
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	for _, tc := range []struct {
		name  string
		roots *x509.CertPool
		host  string // httptest's certificate covers 127.0.0.1 and example.com
		ok    bool
	}{
		{"trusted root, covered name", trusted, "127.0.0.1", true},
		{"system roots only", nil, "127.0.0.1", false},
		{"trusted root, name not covered", trusted, "localhost", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got.Store(0)
			tr := NewTransport()
			tr.TLSConfig.RootCAs = tc.roots
			defer tr.CloseIdleConnections()
			req := transportRequest(t, "GET", "https://"+net.JoinHostPort(tc.host, port)+"/x", nil, true)
			req.Header.Set("Authorization", "Bearer "+testSecret)
			res, err := tr.RoundTrip(req)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if string(body) != "secure" {
					t.Errorf("body %q", body)
				}
				return
			}
			if err == nil {
				res.Body.Close()
				t.Fatal("an unverified server was trusted")
			}
			if got.Load() != 0 {
				t.Error("the request reached a server that failed verification")
			}
		})
	}
}

// TestTransportBodyUntilClose: an upstream that sends neither a length
// nor chunks, and ends its body by closing the connection, is read to the
// end (and its length reported as unknown).
func TestTransportBodyUntilClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 4096)
		_, _ = c.Read(buf) // the request
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n")
		for range 3 {
			io.WriteString(c, "part ")
			time.Sleep(10 * time.Millisecond)
		}
	}()
	tr, _ := newCountingTransport(t)
	res, err := tr.RoundTrip(transportRequest(t, "GET", "http://"+ln.Addr().String()+"/x", nil, true))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || string(body) != "part part part " {
		t.Errorf("body %q, %v", body, err)
	}
	if res.ContentLength != -1 {
		t.Errorf("ContentLength %d, want -1 (unknown)", res.ContentLength)
	}
}

// TestTransportRefusesHugeResponseHeader: a response header larger than
// the connection's read buffer is an error, not a partial answer.
func TestTransportRefusesHugeResponseHeader(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Big", strings.Repeat("a", maxResponseHeader+1))
	})
	tr, _ := newCountingTransport(t)
	res, err := tr.RoundTrip(transportRequest(t, "GET", up.URL+"/x", nil, true))
	if err == nil {
		res.Body.Close()
		t.Fatal("a header over the limit was accepted")
	}
}

// staleAnswer is what a stale upstream leaves on a connection unasked: it
// looks like a whole answer, with a marker.
const staleAnswer = "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nSTALE-MARKER"

// When a staleUpstream sends staleAnswer.
const (
	staleTogether = iota // in the same write as the first answer
	staleApart           // in a write (a TLS record) of its own, sent along with it
	staleLater           // once the test calls send
)

// heldConn holds what is written to it while hold is set, and sends it
// in one piece at flush: two TLS records written apart reach the client
// together.
type heldConn struct {
	net.Conn
	hold bool
	held []byte
}

func (c *heldConn) Write(p []byte) (int, error) {
	if c.hold {
		c.held = append(c.held, p...)
		return len(p), nil
	}
	return c.Conn.Write(p)
}

func (c *heldConn) flush() {
	c.hold = false
	c.Conn.Write(c.held)
}

// staleUpstream listens on 127.0.0.1 (under TLS when cfg is set) and
// answers the first request it reads with first, then staleAnswer on the
// same connection, when says. send, for staleLater, returns once it is
// written. Every other request, on whatever connection, gets "own answer".
func staleUpstream(t *testing.T, cfg *tls.Config, first string, when int) (addr string, send func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		served atomic.Bool
		wg     sync.WaitGroup
		once   sync.Once
	)
	release, sent := make(chan struct{}), make(chan struct{})
	serve := func(c net.Conn) {
		defer wg.Done()
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		held := &heldConn{Conn: c}
		c = held
		if cfg != nil {
			c = tls.Server(held, cfg)
		}
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, req.Body)
			switch {
			case served.Swap(true):
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nown answer")
			case when == staleTogether:
				io.WriteString(c, first+staleAnswer)
			case when == staleApart:
				held.hold = true
				io.WriteString(c, first)
				io.WriteString(c, staleAnswer)
				held.flush()
			default:
				io.WriteString(c, first)
				<-release
				io.WriteString(c, staleAnswer)
				close(sent)
			}
		}
	}
	acceptEach(ln, &wg, serve)
	t.Cleanup(func() { once.Do(func() { close(release) }); ln.Close(); wg.Wait() })
	send = func() {
		once.Do(func() { close(release) })
		<-sent
		time.Sleep(10 * time.Millisecond) // for loopback to deliver it
	}
	return ln.Addr().String(), send
}

// TestStaleBytesNeverAnswerTheNextRequest: an upstream that sends bytes no
// request asked for (a body after its answer to a HEAD, or after a 204 or
// 304; anything on a connection idle in the pool) is out of step with us:
// those bytes, here a whole answer with a marker, would be read as the
// answer to the next request on that connection, maybe another agent's
// with another credential. The connection never serves another request:
// the next one, idempotent or not, goes out on a new connection and gets
// its own answer, whether the extra bytes came with the answer (in its TLS
// record or in one of their own) or once it was read; over TLS too.
func TestStaleBytesNeverAnswerTheNextRequest(t *testing.T) {
	certs := httptest.NewUnstartedServer(nil) // for its certificate
	certs.StartTLS()
	defer certs.Close()
	trusted := x509.NewCertPool()
	trusted.AddCert(certs.Certificate())
	headLength := "Content-Length: " + strconv.Itoa(len(staleAnswer)) + "\r\n\r\n"
	for _, tc := range []struct {
		name, method, first string
		when                int
	}{
		{"HEAD answered with a body", "HEAD", "HTTP/1.1 200 OK\r\n" + headLength, staleTogether},
		{"HEAD answered with a body apart", "HEAD", "HTTP/1.1 200 OK\r\n" + headLength, staleApart},
		{"HEAD answered with a body a moment later", "HEAD", "HTTP/1.1 200 OK\r\n" + headLength, staleLater},
		{"204 with a body", "GET", "HTTP/1.1 204 No Content\r\n" + headLength, staleTogether},
		{"304 with a body a moment later", "GET", "HTTP/1.1 304 Not Modified\r\n" + headLength, staleLater},
		{"bytes on an idle connection", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", staleLater},
		{"chunked answer, then bytes on an idle connection", "GET", chunkedHeader + "2\r\nok\r\n0\r\n\r\n", staleLater},
	} {
		for _, scheme := range []string{"http", "https"} {
			for _, method := range []string{"GET", "POST"} {
				t.Run(tc.name+", "+scheme+", then "+method, func(t *testing.T) {
					var cfg *tls.Config
					if scheme == "https" {
						cfg = certs.TLS
					}
					addr, send := staleUpstream(t, cfg, tc.first, tc.when)
					tr, dc := newCountingTransport(t)
					tr.TLSConfig.RootCAs = trusted
					target := scheme + "://" + addr
					res, err := tr.RoundTrip(transportRequest(t, tc.method, target+"/first", nil, true))
					if err != nil {
						t.Fatal(err)
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if tc.when == staleLater {
						send()
					}
					res, err = tr.RoundTrip(transportRequest(t, method, target+"/second", []byte("x"), true))
					if err != nil {
						t.Fatal(err)
					}
					body, err := io.ReadAll(res.Body)
					res.Body.Close()
					if err != nil || string(body) != "own answer" {
						t.Fatalf("the next request got %q (error %v), want its own answer", body, err)
					}
					if n := dc.dials(); n != 2 {
						t.Errorf("%d dials, want 2: the stale connection served the next request", n)
					}
				})
			}
		}
	}
}
