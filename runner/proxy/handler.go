package proxy

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

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

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !LoopbackHost(r.Host) && !h.allowedHost(r.Host) {
		writeError(w, &Error{Status: http.StatusForbidden, Code: CodeHostNotLoopback,
			Message: "the Host header must name a loopback address (localhost, 127.0.0.1 or [::1])",
			Hint:    "send requests to http://127.0.0.1:PORT/proxy"})
		return
	}
	if r.URL.Path == PathHealth {
		h.serveHealth(w, r)
		return
	}
	viaAuthorization, ok := h.authorized(r.Header)
	if !ok {
		writeError(w, &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized,
			Message: "missing or wrong session token",
			Hint:    "send X-AS-Session-Token with the contents of the proxy.token file in the agentsecrets home"})
		return
	}
	switch r.URL.Path {
	case PathProxy:
		h.serveProxy(w, r, viaAuthorization)
	case PathSync:
		h.serveSync(w, r)
	default:
		writeError(w, &Error{Status: http.StatusNotFound, Code: CodeNotFound,
			Message: "no such endpoint", Hint: "proxied requests go to " + PathProxy})
	}
}

func (h *Handler) serveHealth(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeError(w, &Error{Status: http.StatusMethodNotAllowed, Code: CodeMethodNotAllowed, Message: "use GET"})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = io.WriteString(w, `{"status":"ok"}`+"\n")
}

func (h *Handler) serveSync(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeError(w, &Error{Status: http.StatusMethodNotAllowed, Code: CodeMethodNotAllowed, Message: "use POST"})
		return
	}
	if h.Sync != nil {
		if err := h.Sync(); err != nil {
			writeError(w, &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: err.Error()})
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"status":"synced"}`+"\n")
}

// authorized checks the session token, in X-AS-Session-Token or as
// Authorization: Bearer, in constant time. viaAuthorization reports that
// Authorization carried it, so it is not forwarded.
func (h *Handler) authorized(hd http.Header) (viaAuthorization, ok bool) {
	if h.Token == "" {
		return false, false
	}
	if v := hd.Values(HeaderSessionToken); len(v) == 1 && h.tokenMatches(v[0]) {
		return h.bearerIsToken(hd), true
	}
	if h.bearerIsToken(hd) {
		return true, true
	}
	return false, false
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

func (h *Handler) serveProxy(w http.ResponseWriter, r *http.Request, dropAuthorization bool) {
	parsed, err := ParseHeaders(r.Header, r.Method)
	if err != nil {
		writeError(w, parseError(err))
		return
	}
	if perr := h.identify(r.Header, parsed); perr != nil {
		writeError(w, perr)
		return
	}
	body, perr := h.readBody(w, r)
	if perr != nil {
		writeError(w, perr)
		return
	}
	call := &runner.Call{
		Method: parsed.Method, URL: parsed.TargetURL, Header: upstreamHeader(r.Header, dropAuthorization),
		Body: body, Policies: parsed.Policies, Agent: parsed.Agent, Source: audit.SourceProxy, Timeout: h.Timeout,
	}
	res, err := h.Runner.Do(r.Context(), call)
	if err != nil {
		writeError(w, callError(err))
		return
	}
	// Closing the body records the audit event: with a Batcher, a queue
	// send.
	defer res.Body.Close()
	copyResponseHeader(w.Header(), res.Header)
	if streams(r.Method, res) {
		w.WriteHeader(res.Status)
		streamBody(w, res.Body)
		return
	}
	writeBounded(w, res)
}

// readBody reads the request body, bounded by MaxBody.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *Error) {
	limit := h.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	tooLarge := &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeBodyTooLarge,
		Message: "request body is larger than the proxy's limit"}
	if r.ContentLength > limit {
		return nil, tooLarge
	}
	if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, tooLarge
	case err != nil:
		return nil, &Error{Status: http.StatusBadRequest, Code: CodeBadHeader, Message: "reading the request body failed"}
	}
	return body, nil
}

// copyBuffers are the buffers response bodies are copied through.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// streams reports whether a response is passed on as it arrives, flushed
// after each read: server-sent events, and any body whose length the
// upstream did not declare (it may be a stream of another kind). A body
// of declared length, or none (HEAD, 204, 304), is buffered instead.
func streams(method string, res *runner.Result) bool {
	if method == http.MethodHead || res.Status == http.StatusNoContent || res.Status == http.StatusNotModified {
		return false
	}
	if res.DeclaredLength < 0 {
		return true
	}
	mediaType, _, _ := strings.Cut(res.Header.Get("Content-Type"), ";")
	return strings.EqualFold(strings.TrimSpace(mediaType), "text/event-stream")
}

// streamBody copies the redacted body to the client, flushing after each
// read so server-sent events arrive as they are produced. A client that
// goes away ends the copy.
func streamBody(w http.ResponseWriter, body io.Reader) {
	rc := http.NewResponseController(w)
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	buf := *bp
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			if ferr := rc.Flush(); ferr != nil && !errors.Is(ferr, http.ErrNotSupported) {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// writeBounded sends a body of declared length. A redacted body that fits
// in one copy buffer goes out with its Content-Length in a single write;
// a longer one is copied without a flush per read. A body that fails
// before any of it was sent gets a 502 instead of a truncated answer.
func writeBounded(w http.ResponseWriter, res *runner.Result) {
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	buf := *bp
	n, err := readFull(res.Body, buf)
	switch {
	case err == io.EOF:
		w.Header().Set("Content-Length", strconv.Itoa(n))
		w.WriteHeader(res.Status)
		_, _ = w.Write(buf[:n])
		return
	case err != nil:
		for name := range w.Header() {
			delete(w.Header(), name)
		}
		writeError(w, callError(fmt.Errorf("%w: the response body could not be read", runner.ErrUpstream)))
		return
	}
	w.WriteHeader(res.Status)
	if _, err := w.Write(buf[:n]); err != nil {
		return
	}
	for {
		n, err := res.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

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
