package runner

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/The-17/agentsecrets/internal/httpsyntax"
)

// Transport is the HTTP/1.1 client every front end shares: an
// http.RoundTripper on fasthttp's client, which costs about half the CPU
// of net/http's Transport per proxied request (no goroutines or channel
// hand-offs per request, pooled buffers). It keeps a connection pool sized
// for a busy proxy, streams response bodies (server-sent events arrive as
// they are produced), never consults proxy environment variables, and
// dials through DialContext, where the SSRF guard checks the address
// actually connected to.
//
// Redirects, cookies and compression are the caller's: the Runner follows
// same-host redirects itself and asks for the encodings its redactor can
// read. Cancelling a request's context does not abort it; its deadline
// does, including while the body is read.
type Transport struct {
	// DialContext opens connections. The context carries whether the
	// host may resolve to a loopback or private address (see
	// withPrivateOK); NewTransport's dialer refuses it otherwise. Set it
	// and TLSConfig before the first request.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// TLSConfig is cloned for each host (fasthttp sets the server name).
	TLSConfig *tls.Config

	once sync.Once
	// clients[0] may reach public addresses only, clients[1] also
	// loopback and private ones: a pooled connection is never shared
	// between a host allowlisted by its exact name and one that is not.
	clients [2]*fasthttp.Client
}

// Pool and timeout settings of the Transport.
const (
	maxConnsPerHost   = 512
	idleConnTimeout   = 90 * time.Second
	dialTimeout       = 10 * time.Second
	tcpKeepAlive      = 30 * time.Second
	maxResponseHeader = 64 << 10 // the read buffer must hold the whole header
)

// NewTransport returns a Transport whose dialer applies the SSRF guard to
// every address it connects to.
func NewTransport() *Transport {
	dialer := &net.Dialer{Timeout: dialTimeout, KeepAlive: tcpKeepAlive, ControlContext: dialControl}
	return &Transport{
		DialContext: dialer.DialContext,
		TLSConfig:   &tls.Config{MinVersion: tls.VersionTLS12},
	}
}

func (t *Transport) client(privateOK bool) *fasthttp.Client {
	t.once.Do(t.init)
	if privateOK {
		return t.clients[1]
	}
	return t.clients[0]
}

func (t *Transport) init() {
	t.clients[0] = t.newClient(false)
	t.clients[1] = t.newClient(true)
}

func (t *Transport) newClient(privateOK bool) *fasthttp.Client {
	ctx := withPrivateOK(context.Background(), privateOK)
	return &fasthttp.Client{
		Dial:                func(addr string) (net.Conn, error) { return t.DialContext(ctx, "tcp", addr) },
		TLSConfig:           t.TLSConfig,
		MaxConnsPerHost:     maxConnsPerHost,
		MaxIdleConnDuration: idleConnTimeout,
		MaxConnWaitTimeout:  DefaultTimeout,
		// One retry, for an idempotent request on a pooled connection the
		// server had closed (as net/http does), not five.
		MaxIdemponentCallAttempts: 2,
		ReadBufferSize:            maxResponseHeader,
		NoDefaultUserAgentHeader:  true,
		DisablePathNormalizing:    true, // send the path exactly as given: signatures cover it
		StreamResponseBody:        true,
	}
}

// CloseIdleConnections closes the pooled connections not in use.
func (t *Transport) CloseIdleConnections() {
	t.once.Do(t.init)
	for _, c := range t.clients {
		c.CloseIdleConnections()
	}
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	freq := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(freq)
	if err := buildRequest(freq, req); err != nil {
		return nil, err
	}
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	privateOK, _ := ctx.Value(privateOKKey{}).(bool)
	c := t.client(privateOK)
	fres := fasthttp.AcquireResponse()
	fres.Header.SetNoDefaultContentType(true)
	var err error
	if deadline, ok := ctx.Deadline(); ok {
		err = c.DoDeadline(freq, fres, deadline)
	} else {
		err = c.Do(freq, fres)
	}
	if err != nil {
		fasthttp.ReleaseResponse(fres)
		return nil, roundTripError(err)
	}
	return toHTTPResponse(req, fres), nil
}

// buildRequest copies req into freq, closing req's body. Header names and
// values are checked again here, whatever the front end checked: nothing
// may split the request. Host, Content-Length and Transfer-Encoding come
// from the URL and the body, never from the header map.
func buildRequest(freq *fasthttp.Request, req *http.Request) error {
	if req.Body != nil {
		defer req.Body.Close()
	}
	freq.Header.DisableNormalizing() // names go out in the case they were given
	freq.Header.SetMethod(req.Method)
	freq.SetRequestURI(req.URL.String())
	for name, values := range req.Header {
		if !httpsyntax.ValidHeaderName(name) {
			return fmt.Errorf("%w: invalid header name", ErrBadRequest)
		}
		switch http.CanonicalHeaderKey(name) {
		case "Host", "Content-Length", "Transfer-Encoding", "Trailer":
			continue
		}
		for _, v := range values {
			if !httpsyntax.ValidHeaderValue(v) {
				return fmt.Errorf("%w: invalid value in header %q", ErrBadRequest, name)
			}
			freq.Header.Add(name, v)
		}
	}
	if req.Body != nil && req.Body != http.NoBody {
		if _, err := io.Copy(freq.BodyWriter(), req.Body); err != nil {
			return fmt.Errorf("%w: reading the request body: %v", ErrBadRequest, err)
		}
	}
	return nil
}

// roundTripError maps fasthttp's timeouts to context.DeadlineExceeded, as
// net/http reports them.
func roundTripError(err error) error {
	if errors.Is(err, fasthttp.ErrTimeout) || errors.Is(err, fasthttp.ErrDialTimeout) || isTimeout(err) {
		return fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
	}
	return err
}

// toHTTPResponse wraps fres as an *http.Response whose Body streams from
// the connection; closing it returns the connection to the pool (or closes
// it when the body was not read to the end) and releases fres.
func toHTTPResponse(req *http.Request, fres *fasthttp.Response) *http.Response {
	header := httpsyntax.Header(fres.Header.All()) // names come canonical from fasthttp
	delete(header, "Transfer-Encoding")            // the body below is already de-chunked
	status := fres.StatusCode()
	contentLength := int64(fres.Header.ContentLength())
	if contentLength < 0 {
		contentLength = -1
	}
	resp := &http.Response{
		Status:        statusLine(status),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        header,
		ContentLength: contentLength,
		Request:       req,
	}
	if stream := fres.BodyStream(); stream != nil {
		resp.Body = &streamBody{r: stream, fres: fres}
	} else {
		// No body follows (HEAD, 204, 304): a HEAD answer keeps the
		// length it declared, as net/http reports it.
		resp.Body = http.NoBody
		fasthttp.ReleaseResponse(fres)
		if req.Method != http.MethodHead {
			resp.ContentLength = 0
		}
	}
	return resp
}

// statusLines are the status texts of the codes net/http knows, built on
// first use (not at every command's start) so a response does not allocate
// its own.
var statusLines = sync.OnceValue(func() *[600]string {
	var lines [600]string
	for code := range lines {
		if text := http.StatusText(code); text != "" {
			lines[code] = strconv.Itoa(code) + " " + text
		}
	}
	return &lines
})

// statusLine is code and its text, as http.Response.Status holds them.
func statusLine(code int) string {
	if lines := statusLines(); code >= 0 && code < len(lines) && lines[code] != "" {
		return lines[code]
	}
	return strconv.Itoa(code) + " " + http.StatusText(code)
}

// streamBody is a response body read straight from the connection. r is
// fasthttp's stream, which refuses reads once closed, so fres can go back
// to its pool at Close.
type streamBody struct {
	r    io.Reader
	fres *fasthttp.Response
	once sync.Once
}

func (b *streamBody) Read(p []byte) (int, error) { return b.r.Read(p) }

func (b *streamBody) Close() error {
	var err error
	b.once.Do(func() {
		err = b.fres.CloseBodyStream()
		fasthttp.ReleaseResponse(b.fres)
	})
	return err
}
