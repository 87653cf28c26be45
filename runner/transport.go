package runner

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
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
// A pooled connection serves another request only while it is in step
// with the upstream: one that switched protocols, or holds bytes no
// request asked for, is closed instead, and the request goes out on
// another (see codingGuard), so no call reads an answer meant for another.
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
	// TLSConfig is cloned for each connection, with the server name of
	// the host dialled unless it sets one.
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
		// Each host client dials (and speaks TLS) through t.dial, so the
		// codingGuard sees every response header in plain text.
		ConfigureClient: func(hc *fasthttp.HostClient) error {
			hc.Dial = t.dial(ctx, hc.IsTLS)
			return nil
		},
		TLSConfig:           t.TLSConfig,
		MaxConnsPerHost:     maxConnsPerHost,
		MaxIdleConnDuration: idleConnTimeout,
		MaxConnWaitTimeout:  DefaultTimeout,
		// Every pooled connection may be skipped unused (errStale: the
		// upstream closed idle ones after a burst), then retryIfErr allows
		// one retry of an idempotent request, as net/http does, not five.
		MaxIdemponentCallAttempts: maxConnsPerHost + 2,
		RetryIfErr:                retryIfErr,
		ReadBufferSize:            maxResponseHeader,
		NoDefaultUserAgentHeader:  true,
		DisablePathNormalizing:    true, // send the path exactly as given: signatures cover it
		StreamResponseBody:        true,
	}
}

// retryIfErr retries a request fasthttp could not send: always when its
// pooled connection had switched protocols or held stale bytes (nothing
// was sent; at most once per connection the pool can hold), otherwise
// once, and only an idempotent one, as fasthttp does by default.
func retryIfErr(req *fasthttp.Request, attempts int, err error) (resetTimeout, retry bool) {
	if errors.Is(err, errSwitched) || errors.Is(err, errStale) {
		return false, true
	}
	h := &req.Header
	return false, attempts < 2 && (h.IsGet() || h.IsHead() || h.IsPut() || h.IsQuery())
}

// dial returns the Dial of a host client: a connection from DialContext,
// under TLS when the host client speaks it, behind a codingGuard. TLS is
// set up here (verified against TLSConfig, for the name dialled) rather
// than by fasthttp, which would put it above the guard.
func (t *Transport) dial(ctx context.Context, isTLS bool) fasthttp.DialFunc {
	return func(addr string) (net.Conn, error) {
		conn, err := t.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		if isTLS {
			cfg := &tls.Config{}
			if t.TLSConfig != nil {
				cfg = t.TLSConfig.Clone()
			}
			if cfg.ServerName == "" {
				host, _, err := net.SplitHostPort(addr)
				if err != nil {
					conn.Close()
					return nil, fmt.Errorf("runner: no TLS server name in the address: %w", err)
				}
				cfg.ServerName = host
			}
			conn = tls.Client(conn, cfg)
		}
		return &codingGuard{Conn: conn}, nil
	}
}

// errRepeatedCoding fails a response whose Content-Encoding takes several
// header lines.
var errRepeatedCoding = errors.New("runner: content encoding on several header lines")

// errCodingOutsideHTTP11 fails a response that is not HTTP/1.1 but
// carries Transfer-Encoding: faulty framing (RFC 9112, section 6.1), most
// likely a chunked answer forwarded by an HTTP/1.0 hop. fasthttp ignores
// the coding there and reads the body to the close, chunk-size lines
// included, and those lines would split a credential into pieces the
// redactor does not recognise.
var errCodingOutsideHTTP11 = errors.New("runner: transfer coding in a response that is not http/1.1")

// errSwitched refuses a request on a connection whose last response was
// 101 Switching Protocols: the connection no longer speaks HTTP to us,
// and whatever the upstream sends next would be read as the next call's
// answer (another caller's, maybe with another credential). fasthttp
// pools such a connection like any other; the write fails before a byte
// goes out, and the request is retried on another connection
// (retryIfErr).
var errSwitched = errors.New("runner: connection switched protocols")

// errStale refuses a request on a connection that holds bytes no request
// asked for: a body after an answer that has none (to a HEAD, a 204 or a
// 304), or anything that arrived while it was idle in the pool (its close
// too). The upstream is out of step with us, and those bytes would be
// read as the next call's answer (another caller's, maybe with another
// credential). As for errSwitched, nothing is written, fasthttp closes the
// connection, and the request is retried on another one (retryIfErr).
var errStale = errors.New("runner: connection holds bytes no request asked for")

// maxGuardedLine is how much of each response header line codingGuard
// keeps: enough for a field name with some blanks before its colon.
const maxGuardedLine = 64

// codingGuard fails the read of a response header that carries
// Content-Encoding on more than one line. Such lines form one list
// ("gzip" then "gzip" is "gzip, gzip"), but fasthttp keeps only the last
// one, so the body would be decoded too little and passed on still
// compressed, past the redactor. The connection is used by one request at
// a time: each request written starts a response, whose header (after any
// interim 1xx answers) ends at its first blank line.
//
// It fails likewise a response that is not HTTP/1.1 and carries
// Transfer-Encoding (errCodingOutsideHTTP11).
//
// It refuses a request (errSwitched, errStale) on a connection that must
// not serve one: one that switched protocols, one whose answer had a body
// it may not have, and one that holds unread bytes (see pending) when the
// request starts. (A body longer than its declared length or chunks, read
// along with them, is dropped by fasthttp with its read buffer; what was
// not read with them is pending when the next request starts.)
//
// It also follows the framing of a chunked body (see chunks), because
// fasthttp takes a connection closed between two chunks, or in the
// trailers, for the end of the body: such a close is read as
// io.ErrUnexpectedEOF instead, so a truncated answer fails as one.
// (fasthttp still ends the body quietly at a close just after the last
// chunk's line, where no data is missing: only trailers, never passed on.)
type codingGuard struct {
	net.Conn
	writing  bool   // a request is being written
	head     bool   // the request is a HEAD: no body follows its answer
	inHeader bool   // reading a response header
	status   bool   // the current line is a status line
	interim  bool   // the current block is an interim (1xx) answer
	http11   bool   // the current block's status line says HTTP/1.1
	switched bool   // a response switched protocols: no request may follow
	served   bool   // a request was written: the connection is reused
	noBody   bool   // the current answer has no body (HEAD, 204, 304)
	stale    bool   // bytes followed an answer without a body: no request may follow
	hasBody  bool   // the current block's status may have a chunked body
	chunked  bool   // the current block declares a transfer coding
	codings  int    // Content-Encoding lines in the current block
	line     []byte // the start of the current line
	body     chunks
	err      error
}

// Handshake completes the TLS handshake of a TLS connection; fasthttp
// takes a connection with this method as already speaking TLS.
func (g *codingGuard) Handshake() error {
	if h, ok := g.Conn.(interface{ Handshake() error }); ok {
		return h.Handshake()
	}
	return nil
}

// Write sends (part of) a request; the first write after a read starts a
// request, so what is read next is its response.
func (g *codingGuard) Write(p []byte) (int, error) {
	if !g.writing {
		if err := g.unusable(); err != nil {
			return 0, err
		}
		g.writing, g.served, g.head = true, true, bytes.HasPrefix(p, []byte("HEAD "))
		g.inHeader, g.status, g.interim, g.chunked, g.codings, g.line = true, true, false, false, 0, g.line[:0]
		g.body = chunks{}
	}
	return g.Conn.Write(p)
}

// unusable returns why no request may start on the connection, or nil.
func (g *codingGuard) unusable() error {
	if g.switched {
		return errSwitched
	}
	if g.stale || g.served && pending(g.Conn) {
		return errStale
	}
	return nil
}

// Read fails once a second Content-Encoding line arrives, or the end of a
// header that is not HTTP/1.1 but has a transfer coding. It passes on the
// bytes before that line, so fasthttp, holding part of a header, reports
// the failure itself (at the first byte it would take it for a closed
// connection). A close before a chunked body has ended reads as
// io.ErrUnexpectedEOF. Bytes after the header of an answer without a body
// make the connection stale.
func (g *codingGuard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.Conn.Read(p)
	g.writing = false
	b := p[:n]
	if g.inHeader && n > 0 {
		bad, body, err := g.scan(b)
		if err != nil {
			g.err = err
			return bad, nil
		}
		b = b[body:]
	}
	if len(b) > 0 && !g.inHeader && g.noBody {
		g.stale = true
	}
	if g.body.state != chunksOff {
		g.body.follow(b)
		if err == io.EOF && g.body.state != chunksOff && g.body.state != chunksDone {
			err = io.ErrUnexpectedEOF
		}
	}
	return n, err
}

// scan follows the header lines in b. It returns the index in b where a
// line the response fails at starts (0 when it started in an earlier
// read) and why, or a nil error and the index where the body starts
// (len(b) while the header goes on).
func (g *codingGuard) scan(b []byte) (bad, body int, err error) {
	start := 0 // where the current line starts in b
	for start < len(b) && g.inHeader {
		i := bytes.IndexByte(b[start:], '\n')
		if i < 0 {
			g.keep(b[start:])
			return -1, len(b), nil
		}
		g.keep(b[start : start+i])
		if err := g.endLine(bytes.TrimSuffix(g.line, []byte("\r"))); err != nil {
			return start, 0, err
		}
		g.line = g.line[:0]
		start += i + 1
	}
	return -1, start, nil
}

// keep adds b to the start of the current line, up to maxGuardedLine.
func (g *codingGuard) keep(b []byte) {
	if room := maxGuardedLine - len(g.line); room > 0 {
		g.line = append(g.line, b[:min(room, len(b))]...)
	}
}

// endLine takes in one whole line (its start) and fails at a second
// Content-Encoding line, and at the end of a header that is not HTTP/1.1
// but has a transfer coding.
func (g *codingGuard) endLine(line []byte) error {
	switch {
	case g.status: // "HTTP/1.1 103 Early Hints", after any blank lines
		proto, code, _ := bytes.Cut(line, []byte(" "))
		code = bytes.TrimLeft(code, " ") // as fasthttp reads it
		g.status = len(line) == 0
		g.interim = len(code) >= 3 && code[0] == '1' && string(code[:3]) != "101"
		g.switched = g.switched || len(code) >= 3 && string(code[:3]) == "101"
		// fasthttp reads a chunked body after an HTTP/1.1 status only,
		// and none after 1xx, 204 or 304.
		g.http11 = string(proto) == "HTTP/1.1"
		g.noBody = g.head || len(code) >= 3 && (string(code[:3]) == "204" || string(code[:3]) == "304")
		g.hasBody = g.http11 && len(code) >= 3 && code[0] != '1' && !g.noBody
	case len(line) == 0:
		if g.interim { // another block follows
			g.status, g.interim, g.chunked, g.codings = true, false, false, 0
			return nil
		}
		if g.chunked && !g.http11 {
			return errCodingOutsideHTTP11
		}
		g.inHeader = false
		if g.chunked && g.hasBody && !g.head {
			g.body.state = chunksSize
		}
	case line[0] != ' ' && line[0] != '\t':
		name, _, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			break
		}
		name = bytes.TrimRight(name, " \t")
		if bytes.EqualFold(name, []byte("Content-Encoding")) {
			g.codings++
		} else if bytes.EqualFold(name, []byte("Transfer-Encoding")) {
			// fasthttp fails a response whose only transfer coding is not
			// chunked.
			g.chunked = true
		}
	}
	if g.codings > 1 {
		return errRepeatedCoding
	}
	return nil
}

// chunks follows the framing of a chunked body (RFC 9112, section 7.1)
// through the bytes read, keeping none of them: chunk-size lines with any
// extensions, the data (skipped by its length), the last chunk and the
// trailer lines up to the blank line that ends the body. It stops at
// framing fasthttp refuses, which fasthttp reports itself.
type chunks struct {
	state  chunksState
	size   uint64 // the chunk size read so far, then the data left
	digits int    // hex digits of the chunk size read so far
}

type chunksState uint8

const (
	chunksOff     chunksState = iota // no chunked body, or one fasthttp refuses
	chunksSize                       // in the chunk size
	chunksExt                        // after the chunk size, up to its CR
	chunksSizeLF                     // after the chunk-size line's CR
	chunksData                       // in the chunk data
	chunksDataCR                     // after the chunk data
	chunksDataLF                     // after the chunk data's CR
	chunksTrailer                    // at the start of a trailer line
	chunksField                      // in a trailer line
	chunksEndLF                      // after the final CR
	chunksDone                       // the body has ended
)

// maxChunkDigits is how many hex digits fasthttp reads in a chunk size.
const maxChunkDigits = 15

// follow takes in the next bytes of the body.
func (c *chunks) follow(b []byte) {
	for i := 0; i < len(b); i++ {
		switch ch := b[i]; c.state {
		case chunksOff, chunksDone:
			return
		case chunksData:
			n := min(c.size, uint64(len(b)-i))
			c.size -= n
			i += int(n) - 1
			if c.size == 0 {
				c.state = chunksDataCR
			}
		case chunksField:
			j := bytes.IndexByte(b[i:], '\n')
			if j < 0 {
				return
			}
			i += j
			c.state = chunksTrailer
		case chunksSize:
			switch {
			case unhex(ch) < 16 && c.digits < maxChunkDigits:
				c.size = c.size<<4 | uint64(unhex(ch))
				c.digits++
			case c.digits > 0 && (ch == ' ' || ch == '\t' || ch == ';'):
				c.state = chunksExt
			case c.digits > 0 && ch == '\r':
				c.state = chunksSizeLF
			default:
				c.state = chunksOff
			}
		case chunksExt:
			if ch == '\r' {
				c.state = chunksSizeLF
			} else if ch == '\n' {
				c.state = chunksOff
			}
		case chunksSizeLF:
			switch {
			case ch != '\n':
				c.state = chunksOff
			case c.size == 0:
				c.state = chunksTrailer
			default:
				c.state = chunksData
			}
		case chunksDataCR:
			c.state = chunksOff
			if ch == '\r' {
				c.state = chunksDataLF
			}
		case chunksDataLF:
			c.state, c.size, c.digits = chunksOff, 0, 0
			if ch == '\n' {
				c.state = chunksSize
			}
		case chunksTrailer:
			switch ch {
			case '\r':
				c.state = chunksEndLF
			case '\n':
				c.state = chunksDone
			default:
				c.state = chunksField
			}
		case chunksEndLF:
			c.state = chunksOff
			if ch == '\n' {
				c.state = chunksDone
			}
		}
	}
}

// unhex is the value of the hex digit c, or 16.
func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10
	}
	return 16
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
// from the URL and the body, never from the header map. Cookie values go
// out byte for byte, on one line (cookieLine).
func buildRequest(freq *fasthttp.Request, req *http.Request) error {
	if req.Body != nil {
		defer req.Body.Close()
	}
	freq.Header.DisableNormalizing() // names go out in the case they were given
	freq.Header.SetMethod(req.Method)
	freq.SetRequestURI(req.URL.String())
	var cookieNames []string
	for name, values := range req.Header {
		if !httpsyntax.ValidHeaderName(name) {
			return fmt.Errorf("%w: invalid header name", ErrBadRequest)
		}
		if httpsyntax.TransportHeader(name) {
			continue
		}
		cookie := http.CanonicalHeaderKey(name) == "Cookie"
		if cookie {
			cookieNames = append(cookieNames, name)
		}
		for _, v := range values {
			if !httpsyntax.ValidHeaderValue(v) {
				return fmt.Errorf("%w: invalid value in header %q", ErrBadRequest, name)
			}
			if !cookie {
				freq.Header.Add(name, v)
			}
		}
	}
	if name, value, ok := cookieLine(req.Header, cookieNames); ok {
		addVerbatim(&freq.Header, name, value)
	}
	if req.Body != nil && req.Body != http.NoBody {
		if _, err := io.Copy(freq.BodyWriter(), req.Body); err != nil {
			return fmt.Errorf("%w: reading the request body: %v", ErrBadRequest, err)
		}
	}
	return nil
}

// cookieLine joins the values h holds under names (the spellings of
// Cookie it has) into the one Cookie line RFC 6265 (section 5.4) allows,
// "; " between them, each value byte for byte: several lines (a policy's
// and the caller's, say) are read differently by different servers, some
// keeping only one. The line takes the name as given, or "Cookie" when
// there were several spellings (whose values follow in the order of the
// sorted names). Empty values add nothing; ok is false when none is left.
func cookieLine(h http.Header, names []string) (name, value string, ok bool) {
	switch len(names) {
	case 0:
		return "", "", false
	case 1:
		name = names[0]
	default:
		slices.Sort(names)
		name = "Cookie"
	}
	var b strings.Builder
	for _, n := range names {
		for _, v := range h[n] {
			if v == "" {
				continue
			}
			if b.Len() > 0 {
				b.WriteString("; ")
			}
			b.WriteString(v)
		}
	}
	return name, b.String(), b.Len() > 0
}

// addVerbatim adds a header line that goes out byte for byte as given.
// fasthttp parses a Cookie header into cookies and writes them back its
// own way (a space after each ';', quotes and blanks around a value
// stripped, every line merged into one, a value holding '"', ';' or '\'
// dropped): a credential there would reach the upstream altered or not at
// all, and come back in a form the redactor does not match. With special
// headers off, Add keeps the line as an ordinary one, and fasthttp writes
// ordinary lines as they are (it re-parses them only when asked for its
// cookies, which nothing on the way out does).
func addVerbatim(h *fasthttp.RequestHeader, name, value string) {
	if !h.DisableSpecialHeader() {
		defer h.EnableSpecialHeader()
	}
	h.Add(name, value)
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
	// Trailers are never passed on, so neither is the list announcing
	// them, whose names fasthttp re-cases (a credential echoed there would
	// come back in a case redaction does not match).
	delete(header, "Trailer")
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
