package proxy

import (
	"bytes"
	"context"
	"crypto/subtle"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/The-17/agentsecrets/internal/httpsyntax"
	"github.com/The-17/agentsecrets/runner"
	"github.com/The-17/agentsecrets/runner/audit"
)

// DefaultMaxBody bounds a proxied request's body; a larger one is refused
// with 413 body_too_large.
const DefaultMaxBody = 32 << 20

// The proxy's paths.
const (
	PathProxy  = "/proxy"
	PathHealth = "/health"
	PathSync   = "/sync"
)

// Handler serves the proxy protocol. It is safe for concurrent use; one
// Handler, and so one Runner (policy pool, connection pool, vault cache),
// serves every connection.
type Handler struct {
	// Runner makes the calls.
	Runner *runner.Runner
	// Token is the session token every request but /health must carry.
	Token string
	// Sync, when set, is run by POST /sync (re-read allowlist, bindings
	// and values).
	Sync func() error
	// MaxBody bounds request bodies; 0 means DefaultMaxBody.
	MaxBody int64
	// Timeout bounds each call; 0 means runner.DefaultTimeout.
	Timeout time.Duration
	// AllowHosts are IP addresses accepted in the Host header beside the
	// loopback names: the bind address of a proxy started with
	// --allow-remote. An IP literal cannot be rebound by DNS.
	AllowHosts []string
	// Identify, when set, verifies an X-AS-Agent-Token and returns the
	// token's id, which the audit log records as "token:<id>"; an unknown
	// or revoked token (vault.ErrTokenUnknown, vault.ErrTokenRevoked) gets
	// 401 agent_token_invalid. Unset, a token is only a label (see
	// AgentTokenID). TokenCache.Identify is one.
	Identify func(token string) (id string, err error)

	// batcher group-commits the audit events when the runner records to
	// an audit.Store.
	batcher *audit.Batcher
	// procs, set while Serve runs, counts requests in flight.
	procs atomic.Pointer[procsGovernor]
}

// NewHandler returns a Handler for r with the given session token. When r
// records to an *audit.Store, NewHandler puts an audit.Batcher in front of
// it (r.Audit is replaced): a request queues its event and the events of
// concurrent requests share one transaction. Wait flushes it and Close (or
// the end of Serve) drains it.
func NewHandler(r *runner.Runner, token string) *Handler {
	h := &Handler{Runner: r, Token: token}
	if s, ok := r.Audit.(*audit.Store); ok {
		h.batcher = audit.NewBatcher(s, audit.BatcherOptions{})
		r.Audit = h.batcher
	}
	return h
}

// errBodyTooLarge answers a request whose body exceeds the limit.
var errBodyTooLarge = &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeBodyTooLarge,
	Message: "request body is larger than the proxy's limit"}

// errSwitchingProtocols answers an upstream's 101 Switching Protocols.
var errSwitchingProtocols = &Error{Status: http.StatusBadGateway, Code: CodeResponseRefused,
	Message: "the upstream switched protocols; the proxy does not tunnel",
	Hint:    "the proxy passes HTTP requests and answers only (no WebSocket or other upgrades)"}

// timeout is Timeout or its default.
func (h *Handler) timeout() time.Duration {
	if h.Timeout > 0 {
		return h.Timeout
	}
	return runner.DefaultTimeout
}

// maxBody is MaxBody or its default.
func (h *Handler) maxBody() int64 {
	if h.MaxBody > 0 {
		return h.MaxBody
	}
	return DefaultMaxBody
}

// Wait blocks until the audit event of every finished request is in the
// database, and returns the first error met writing one since the last
// Wait.
func (h *Handler) Wait() error {
	if h.batcher == nil {
		return nil
	}
	if err := h.batcher.Flush(context.Background()); err != nil {
		return fmt.Errorf("proxy: audit: %v", err)
	}
	return nil
}

// Close writes the pending audit events and stops the audit writer; later
// events are written as they come. Call it once requests have finished
// (Serve does, after shutting the server down).
func (h *Handler) Close() error {
	if h.batcher == nil {
		return nil
	}
	if err := h.batcher.Close(); err != nil {
		return fmt.Errorf("proxy: audit: %v", err)
	}
	return nil
}

// ServeFastHTTP serves one request; Serve runs it on a fasthttp server.
//
// The request's headers are read into an http.Header (names in Go's
// canonical form, as the protocol documents them) and everything after
// that is independent of the server: the same checks, the same runner.
func (h *Handler) ServeFastHTTP(ctx *fasthttp.RequestCtx) {
	// An absolute request target names a host of its own, which the
	// server reports in place of the Host header: both must be loopback.
	if !h.hostOK(string(ctx.Request.Header.Host())) || !h.hostOK(string(ctx.Host())) {
		writeError(ctx, &Error{Status: http.StatusForbidden, Code: CodeHostNotLoopback,
			Message: "the Host header must name a loopback address (localhost, 127.0.0.1 or [::1])",
			Hint:    "send requests to http://127.0.0.1:PORT/proxy"})
		return
	}
	path := string(ctx.Path())
	if path == PathHealth {
		h.serveHealth(ctx)
		return
	}
	hd := requestHeader(&ctx.Request.Header)
	if !h.authorized(hd) {
		writeError(ctx, &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized,
			Message: "missing or wrong session token",
			Hint:    "send X-AS-Session-Token with the contents of the proxy.token file in the agentsecrets home"})
		return
	}
	switch path {
	case PathProxy:
		if g := h.procs.Load(); g != nil {
			g.begin()
			defer g.end()
		}
		h.serveProxy(ctx, hd)
	case PathSync:
		h.serveSync(ctx)
	default:
		writeError(ctx, &Error{Status: http.StatusNotFound, Code: CodeNotFound,
			Message: "no such endpoint", Hint: "proxied requests go to " + PathProxy})
	}
}

// requestHeader copies a request's headers into an http.Header. The
// server has put each name in the canonical form net/http uses
// ("x-as-target-url" is "X-As-Target-Url"). Cookie lines are taken as
// the client sent them (rawCookies).
func requestHeader(rh *fasthttp.RequestHeader) http.Header {
	cookies := rawCookies(rh)
	h := httpsyntax.Header(rh.All())
	if cookies != nil {
		h["Cookie"] = cookies
	}
	return h
}

// rawCookies takes the request's Cookie lines out of rh, each value byte
// for byte, before rh parses them: fasthttp parses a Cookie header into
// cookies on first use and writes them back its own way (quotes and
// blanks around a value stripped, a value holding '"' or '\' dropped,
// the lines merged), which is what All would give. Until then the lines
// are ordinary headers, in the order received; deleting them leaves
// fasthttp no cookies to parse.
func rawCookies(rh *fasthttp.RequestHeader) []string {
	raw := rh.PeekAll(fasthttp.HeaderCookie)
	if len(raw) == 0 {
		return nil
	}
	cookies := make([]string, len(raw))
	for i, v := range raw {
		cookies[i] = string(v)
	}
	rh.Del(fasthttp.HeaderCookie)
	return cookies
}

func (h *Handler) serveHealth(ctx *fasthttp.RequestCtx) {
	if !ctx.IsGet() && !ctx.IsHead() {
		writeError(ctx, &Error{Status: http.StatusMethodNotAllowed, Code: CodeMethodNotAllowed, Message: "use GET"})
		return
	}
	ctx.Response.Header.Set("Content-Type", "application/json")
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetBodyString(`{"status":"ok"}` + "\n")
}

func (h *Handler) serveSync(ctx *fasthttp.RequestCtx) {
	if !ctx.IsPost() {
		writeError(ctx, &Error{Status: http.StatusMethodNotAllowed, Code: CodeMethodNotAllowed, Message: "use POST"})
		return
	}
	if h.Sync != nil {
		if err := h.Sync(); err != nil {
			writeError(ctx, &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: err.Error()})
			return
		}
	}
	ctx.Response.Header.Set("Content-Type", "application/json")
	ctx.SetBodyString(`{"status":"synced"}` + "\n")
}

// authorized checks the session token, in X-AS-Session-Token or as
// Authorization: Bearer, in constant time.
func (h *Handler) authorized(hd http.Header) bool {
	if h.Token == "" {
		return false
	}
	if v := hd.Values(HeaderSessionToken); len(v) == 1 && h.tokenMatches(v[0]) {
		return true
	}
	return h.bearerIsToken(hd)
}

func (h *Handler) bearerIsToken(hd http.Header) bool {
	v := hd.Values("Authorization")
	if len(v) != 1 {
		return false
	}
	scheme, tok, ok := strings.Cut(v[0], " ")
	return ok && strings.EqualFold(scheme, "Bearer") && h.tokenMatches(strings.TrimSpace(tok))
}

func (h *Handler) tokenMatches(got string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(h.Token)) == 1
}

func (h *Handler) serveProxy(ctx *fasthttp.RequestCtx, hd http.Header) {
	method := string(ctx.Method())
	parsed, err := ParseHeaders(hd, method)
	if err != nil {
		writeError(ctx, parseError(err))
		return
	}
	if perr := h.identify(hd, parsed); perr != nil {
		writeError(ctx, perr)
		return
	}
	var body []byte
	if b := ctx.PostBody(); int64(len(b)) > h.maxBody() { // the server's own cap is the limit at start
		writeError(ctx, errBodyTooLarge)
		return
	} else if len(b) > 0 {
		body = bytes.Clone(b) // the server reuses its buffer after the handler returns
	}
	call := &runner.Call{
		Method: parsed.Method, URL: parsed.TargetURL, Header: upstreamHeader(hd, h.Token),
		Body: body, Policies: parsed.Policies, Agent: parsed.Agent, Source: audit.SourceProxy, Timeout: h.timeout(),
	}
	if parsed.Timeout > 0 {
		call.Timeout = parsed.Timeout
	}
	res, err := h.Runner.Do(context.Background(), call)
	if err != nil {
		writeError(ctx, callError(err))
		return
	}
	if res.Status == http.StatusSwitchingProtocols {
		// The proxy never tunnels: the client's Upgrade was not sent on
		// and the upstream connection is not handed over, so a 101 would
		// be followed by HTTP, not the protocol it announces. The audit
		// row records the refusal.
		res.Refuse(errSwitchingProtocols)
		writeError(ctx, errSwitchingProtocols)
		return
	}
	copyResponseHeader(&ctx.Response.Header, res.Header)
	ctx.SetStatusCode(res.Status)
	// A client that stops reading must not hold the upstream connection
	// and the audit event forever: the answer is bounded as the call is.
	_ = ctx.SetWriteDeadline(time.Now().Add(call.Timeout))
	switch {
	case method == http.MethodHead || !hasBody(res.Status):
		// Closing the body records the audit event: with a Batcher, a
		// queue send.
		res.Body.Close()
	case streams(res):
		// The server sends each read as a chunk and flushes it; a failed
		// read ends the response without its last chunk, so the client
		// sees the truncation. It closes the body when done.
		ctx.SetBodyStream(res.Body, -1)
	default:
		writeBounded(ctx, res)
	}
}

// hasBody reports whether a response with this status carries a body.
func hasBody(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// copyBuffers are the buffers response bodies are copied through.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// streams reports whether a response is passed on as it arrives, flushed
// after each read: server-sent events, and any body whose length the
// upstream did not declare (it may be a stream of another kind). A body
// of declared length is sent as it is read, without a flush per read.
func streams(res *runner.Result) bool {
	if res.DeclaredLength < 0 {
		return true
	}
	mediaType, _, _ := strings.Cut(res.Header.Get("Content-Type"), ";")
	return strings.EqualFold(strings.TrimSpace(mediaType), "text/event-stream")
}

// writeBounded sends a body of declared length. A redacted body that fits
// in one copy buffer goes out with its Content-Length; a longer one is
// sent as it is read, chunked. A body that fails before any of it was sent
// gets a 502 instead of a truncated answer.
func writeBounded(ctx *fasthttp.RequestCtx, res *runner.Result) {
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	buf := *bp
	n, err := readFull(res.Body, buf)
	switch {
	case err == io.EOF:
		res.Body.Close()
		ctx.SetBody(buf[:n])
	case err != nil:
		res.Body.Close()
		ctx.Response.Header.Reset()
		writeError(ctx, callError(fmt.Errorf("%w: the response body could not be read", runner.ErrUpstream)))
	default:
		// fasthttp closes the stream it was given; res.Body must be
		// closed too, which records the audit event.
		ctx.SetBodyStream(&prefixedBody{Reader: io.MultiReader(bytes.NewReader(bytes.Clone(buf[:n])), res.Body), body: res.Body}, -1)
	}
}

// prefixedBody is a response body of which the first part was already
// read: reading gives all of it, closing closes the original.
type prefixedBody struct {
	io.Reader
	body io.Closer
}

func (p *prefixedBody) Close() error { return p.body.Close() }

// readFull reads into buf until it is full (nil error) or the body ends
// (io.EOF) or fails.
func readFull(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// hostOK reports whether a host names loopback or one of AllowHosts.
func (h *Handler) hostOK(host string) bool {
	return LoopbackHost(host) || h.allowedHost(host)
}

func (h *Handler) allowedHost(host string) bool {
	if name, _, err := net.SplitHostPort(host); err == nil {
		host = name
	}
	host = strings.Trim(host, "[]")
	for _, a := range h.AllowHosts {
		if net.ParseIP(a) != nil && strings.EqualFold(a, host) {
			return true
		}
	}
	return false
}

// LoopbackHost reports whether a Host header names a loopback address:
// localhost, 127.0.0.1 or [::1], with or without a port. Any other name is
// refused, which defeats DNS rebinding from a browser.
func LoopbackHost(host string) bool {
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		name = host[1 : len(host)-1]
	}
	switch strings.ToLower(name) {
	case "localhost", "127.0.0.1", "::1":
		return true
	}
	return false
}
