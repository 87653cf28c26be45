package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/The-17/agentsecrets/hostfns"
	"github.com/The-17/agentsecrets/internal/httpsyntax"
	"github.com/The-17/agentsecrets/policies"
	"github.com/The-17/agentsecrets/runner/audit"
	"github.com/The-17/agentsecrets/runner/redact"
	"github.com/The-17/agentsecrets/vault"
)

// DefaultTimeout bounds a call when the caller sets none.
const DefaultTimeout = 30 * time.Second

// Call is one authenticated request as a front end describes it: no value
// anywhere, only the policies that will splice them in.
type Call struct {
	Method string
	URL    string
	// Header holds the plain, non-secret headers. Do takes it over: the
	// policies add to it, so the caller must not use it afterwards.
	Header   http.Header
	Body     []byte
	Policies []policies.Spec
	// Agent is the caller's identity for the audit: "anonymous", a declared
	// id, or "token:<id>".
	Agent string
	// Source names the front end: "call", "proxy", "mcp".
	Source  string
	Timeout time.Duration
}

// Result is the upstream's answer, already scrubbed: Header is redacted and
// Body streams through the redactor. Closing Body records the audit event.
type Result struct {
	Status int
	Header http.Header
	Body   io.ReadCloser
	// Redactions reports how many replacements were made so far (headers
	// and the body read up to now).
	Redactions func() int
	// RedactString redacts s with the call's redaction set: a front end
	// that decodes the body (JSON) scrubs the decoded text again, where an
	// escape the byte redactor does not know comes out as the value.
	RedactString func(s string) (string, int)
	// DeclaredLength is the body length the upstream declared (before
	// decoding and redaction), -1 when it declared none: it tells a
	// finite message from a stream, not how long Body is.
	DeclaredLength int64

	audited *auditedBody // Body as Do returned it, which records the row
}

// Refuse closes Body for a front end that does not pass the answer on
// (the proxy refuses a 101): the call's audit row records an error, with
// why as its reason, as for a body that failed. why must name no value.
func (res *Result) Refuse(why error) error {
	if res.audited != nil {
		res.audited.refuse(why)
	}
	return res.Body.Close()
}

// Runner runs calls. It is safe for concurrent use; one Runner serves a
// whole proxy.
type Runner struct {
	Engine *policies.Engine
	Vault  Vault
	// Transport sends each request; the runner follows same-host
	// redirects itself (see nextRequest).
	Transport http.RoundTripper
	Audit     audit.Sink
	// AuditFailed, when set, is told when a call's audit row could not be
	// written (the call was already made or refused by then), so a front
	// end can say so instead of the row going missing unseen. The error
	// names no value.
	AuditFailed func(error)
	// RedactAll adds every secret of the active environment to each
	// response's redaction set, not only those the call opened.
	RedactAll bool

	envMu  sync.Mutex
	envSet *envSet

	lastDigest atomic.Pointer[listDigest]
}

// envSet is the compiled redaction set of the whole environment, kept
// between calls (compiling one costs about a millisecond for 20 secrets).
type envSet struct {
	gen    uint64
	set    *redact.Set
	values map[string]bool
}

// generationer is implemented by vaults that cache: the generation changes
// whenever the cache is dropped, so the runner recompiles its set.
type generationer interface{ Generation() uint64 }

// New returns a Runner on a fresh Transport.
func New(engine *policies.Engine, v Vault, sink audit.Sink) *Runner {
	return &Runner{Engine: engine, Vault: v, Audit: sink, Transport: NewTransport()}
}

// Do runs c through the pipeline. On error nothing carrying a credential
// has left the process unless the error wraps ErrUpstream or ErrTimeout.
func (r *Runner) Do(ctx context.Context, c *Call) (*Result, error) {
	start := time.Now()
	u, err := parseTarget(c.URL)
	logged := u
	if err != nil { // refused, but still recorded (without user info) if it parses
		logged, _ = url.Parse(c.URL)
	}
	ev := r.newEvent(c, logged)
	var res *Result
	if err == nil {
		res, err = r.do(ctx, c, u, ev)
	}
	if err != nil {
		ev.Duration = time.Since(start)
		ev.Decision, ev.Reason = decisionFor(err), err.Error()
		r.record(ev)
		return nil, err
	}
	res.audited = &auditedBody{ReadCloser: res.Body, done: func(readErr error) {
		ev.Duration = time.Since(start)
		ev.Redactions = res.Redactions()
		if readErr != nil { // the status arrived, the body did not, or was refused
			ev.Decision, ev.Reason = audit.DecisionError, readErr.Error()
		}
		r.record(ev)
	}}
	res.Body = res.audited
	return res, nil
}

// newEvent starts the audit event of c, whose target parsed as u (nil
// when it did not).
func (r *Runner) newEvent(c *Call, u *url.URL) *audit.Event {
	ws, project, env := r.Vault.Where()
	ev := &audit.Event{Source: c.Source, Agent: c.Agent, Workspace: ws, Project: project,
		Environment: env, Method: auditMethod(c.method()), Decision: audit.DecisionOK}
	if ev.Agent == "" {
		ev.Agent = "anonymous"
	}
	var credParams map[string]string // made only for a query injection
	for _, s := range c.Policies {
		ev.AuthStyles = append(ev.AuthStyles, s.Name)
		if k := s.Params["key"]; k != "" {
			ev.Keys = append(ev.Keys, auditKey(k))
		}
		if s.Name == "query" && s.Params["param"] != "" {
			if credParams == nil {
				credParams = map[string]string{}
			}
			credParams[s.Params["param"]] = auditKey(s.Params["key"])
		}
	}
	if u != nil {
		ev.URL = audit.SanitizeURL(u, credParams)
	}
	return ev
}

// auditKey is how the audit row names the secret key: the key name, or,
// for anything that is not one (a value given where a name goes), only its
// length. Agents read the log; no column may hold a value.
func auditKey(k string) string {
	if vault.IsKeyName(k) {
		return k
	}
	return "(not a key name: " + strings.Trim(vault.Characters(k), "()") + ")"
}

// maxAuditMethod is the longest method the audit row records as given.
const maxAuditMethod = 24

// auditMethod is how the audit row records method: as given when it is
// made of letters and '-' (GET, PROPFIND, M-SEARCH), else only by its
// length, "(N characters)" (a value may be given where the method goes).
func auditMethod(method string) string {
	if method != "" && len(method) <= maxAuditMethod && strings.IndexFunc(method, func(r rune) bool { return (r < 'A' || r > 'Z') && r != '-' }) < 0 {
		return method
	}
	return vault.Characters(method)
}

func (c *Call) method() string {
	if c.Method == "" {
		return http.MethodGet
	}
	return strings.ToUpper(c.Method)
}

func (r *Runner) do(ctx context.Context, c *Call, u *url.URL, ev *audit.Event) (*Result, error) {
	host := u.Hostname()
	exact, err := r.guardHost(host, ev)
	if err != nil {
		return nil, err
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	header := c.Header
	if header == nil {
		header = http.Header{}
	}
	req := &hostfns.Request{Method: c.method(), URL: u, Header: header, Body: c.Body}
	hc := &hostfns.Call{Req: req, Secrets: &gate{vault: r.Vault, host: host}}
	if err := r.Engine.Run(ctx, c.Policies, hc); err != nil {
		cancel()
		return nil, policyError(err)
	}
	if opened := hc.Opened(); len(opened) > 0 {
		ev.Keys = opened
	}
	set, err := r.redactionSet(hc.RedactSet())
	if err != nil {
		cancel()
		return nil, err
	}
	resp, err := r.send(withPrivateOK(ctx, exact), req, set)
	if err != nil {
		cancel()
		return nil, err
	}
	ev.Status = resp.StatusCode
	return r.scrub(ctx, resp, set, cancel)
}

func parseTarget(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, fmt.Errorf("%w: no target URL", ErrBadRequest)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: target URL does not parse", ErrBadRequest)
	}
	if u.Scheme != "http" && u.Scheme != "https" { // not repeated: a value pasted as the URL can parse as a scheme
		return nil, fmt.Errorf("%w: target URL must be http or https: its scheme %s is neither", ErrBadRequest, vault.Characters(u.Scheme))
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("%w: target URL has no host", ErrBadRequest)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: target URL must not carry user info; use --basic", ErrBadRequest)
	}
	return u, nil
}

// guardHost applies the allowlist and the metadata-name rule, and reports
// whether the host was named exactly (allowing loopback/private addresses).
// It records in ev the allowlist state it decided by: the digest of the
// list, and the entry that admitted the host.
func (r *Runner) guardHost(host string, ev *audit.Event) (exact bool, err error) {
	if err := CheckHostName(host); err != nil {
		// Refused whatever the list says; the row still records which
		// list was in force when it can be read.
		if list, listErr := r.Vault.Allowlist(); listErr == nil {
			ev.AllowlistDigest = r.allowlistDigest(list)
		}
		return false, err
	}
	list, err := r.Vault.Allowlist()
	if err != nil {
		return false, err
	}
	ev.AllowlistDigest = r.allowlistDigest(list)
	entry, allowed, exact := Allowlist(list).MatchEntry(host)
	if !allowed {
		return false, &HostError{Host: host, Err: ErrNotAllowed}
	}
	ev.AllowlistEntry = entry
	return exact, nil
}

// listDigest is an allowlist and its audit digest.
type listDigest struct {
	list   []string
	digest string
}

// allowlistDigest is audit.DigestAllowlist(list), computed again only
// when the list differs from the last one seen (the proxy reads the same
// cached list for every request).
func (r *Runner) allowlistDigest(list []string) string {
	if d := r.lastDigest.Load(); d != nil && slices.Equal(d.list, list) {
		return d.digest
	}
	d := &listDigest{list: slices.Clone(list), digest: audit.DigestAllowlist(list)}
	r.lastDigest.Store(d)
	return d.digest
}

// HostError names the host a guard refused.
type HostError struct {
	Host string
	Key  string
	Err  error
}

func (e *HostError) Error() string {
	if e.Key != "" {
		return fmt.Sprintf("runner: secret %q is not bound to %q", e.Key, e.Host)
	}
	return fmt.Sprintf("runner: domain %q is not on the workspace allowlist", e.Host)
}

func (e *HostError) Unwrap() error { return e.Err }

// gate is what policies open secrets through: the binding is checked before
// the value is read.
type gate struct {
	vault Vault
	host  string
}

func (g *gate) Open(name string) ([]byte, error) {
	domains, err := g.vault.Bindings(name)
	if err != nil {
		if errors.Is(err, ErrSecretMissing) {
			return nil, fmt.Errorf("%w: %w", hostfns.ErrSecretNotFound, err)
		}
		return nil, err
	}
	if !BindingAllows(domains, g.host) {
		return nil, fmt.Errorf("%w: %w", hostfns.ErrSecretDenied, &HostError{Host: g.host, Key: name, Err: ErrNotBound})
	}
	val, err := g.vault.Secret(name)
	if errors.Is(err, ErrSecretMissing) {
		return nil, fmt.Errorf("%w: %w", hostfns.ErrSecretNotFound, err)
	}
	return val, err
}

// policyError maps a policy failure to the runner's errors.
func policyError(err error) error {
	var hostErr *HostError
	switch {
	case errors.As(err, &hostErr):
		return hostErr
	case errors.Is(err, ErrSecretMissing), errors.Is(err, hostfns.ErrSecretNotFound):
		var de *policies.DeniedError
		if errors.As(err, &de) && de.Secret != "" {
			return &MissingError{Key: de.Secret}
		}
		return fmt.Errorf("%w: %w", ErrSecretMissing, err)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	case errors.Is(err, hostfns.ErrUnplaceable):
		return fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	var de *policies.DeniedError
	if errors.As(err, &de) {
		return fmt.Errorf("%w: %w", ErrPolicyDenied, err)
	}
	return err
}

func (r *Runner) redactionSet(opened [][]byte) (*redact.Set, error) {
	if !r.RedactAll {
		return redact.NewSet(opened...), nil
	}
	var gen uint64
	if g, ok := r.Vault.(generationer); ok {
		gen = g.Generation()
	}
	r.envMu.Lock()
	defer r.envMu.Unlock()
	if es := r.envSet; es != nil && es.gen == gen && es.covers(opened) {
		return es.set, nil
	}
	all, err := r.Vault.All()
	if err != nil {
		return nil, err
	}
	all = append(skipShort(all), opened...)
	es := &envSet{gen: gen, set: redact.NewSet(all...), values: make(map[string]bool, len(all))}
	for _, v := range all {
		es.values[string(v)] = true
	}
	r.envSet = es
	return es.set, nil
}

// minEnvSecretLen keeps tiny environment values (a port, "true") out of the
// environment-wide set, where they would blank out ordinary text; a secret
// the call itself opened is redacted whatever its length.
const minEnvSecretLen = 6

func skipShort(values [][]byte) [][]byte {
	out := values[:0:0]
	for _, v := range values {
		if len(v) >= minEnvSecretLen {
			out = append(out, v)
		}
	}
	return out
}

func (es *envSet) covers(values [][]byte) bool {
	for _, v := range values {
		if !es.values[string(v)] {
			return false
		}
	}
	return true
}

func (r *Runner) send(ctx context.Context, req *hostfns.Request, set *redact.Set) (*http.Response, error) {
	hreq, err := newRequest(ctx, req)
	if err != nil {
		// The message may quote the URL, and with it an injected query value.
		msg, _ := set.RedactString(err.Error())
		return nil, fmt.Errorf("%w: %s", ErrBadRequest, msg)
	}
	hreq.Header.Set("Accept-Encoding", redact.AcceptEncoding)
	// A range of the body would come back in pieces, each maybe too short
	// for the redactor to know as part of a credential (one call per
	// piece, or several in one multipart answer); a server may always
	// ignore Range, so the whole body is asked for.
	for name := range hreq.Header {
		if strings.EqualFold(name, "Range") {
			delete(hreq.Header, name)
		}
	}
	resp, err := r.roundTrip(hreq, req.Body)
	if err != nil {
		return nil, transportError(ctx, req.URL.Hostname(), err, set)
	}
	return resp, nil
}

// newRequest is the http.Request for req, on the URL the policies left
// (not parsed again from text).
func newRequest(ctx context.Context, req *hostfns.Request) (*http.Request, error) {
	var body io.Reader = http.NoBody
	if len(req.Body) > 0 {
		body = bytes.NewReader(req.Body)
	}
	hreq, err := http.NewRequestWithContext(ctx, req.Method, "", body)
	if err != nil {
		return nil, err
	}
	hreq.URL, hreq.Host, hreq.Header = req.URL, req.URL.Host, req.Header
	return hreq, nil
}

func transportError(ctx context.Context, host string, err error, set *redact.Set) error {
	switch {
	case errors.Is(err, ErrSSRF):
		return fmt.Errorf("%w: %q: %w", ErrSSRF, host, errors.Unwrap(err))
	case errors.Is(err, context.DeadlineExceeded), ctx.Err() != nil:
		return fmt.Errorf("%w: %q did not answer in time", ErrTimeout, host)
	case errors.Is(err, errRepeatedCoding):
		return fmt.Errorf("%w: %q sent Content-Encoding on several header lines", ErrUnsafeResponse, host)
	case errors.Is(err, errCodingOutsideHTTP11):
		return fmt.Errorf("%w: %q sent Transfer-Encoding in a response that is not HTTP/1.1", ErrUnsafeResponse, host)
	}
	return fmt.Errorf("%w: %q: %s", ErrUpstream, host, scrubTransportMessage(err, set))
}

// scrubTransportMessage is a transport error's message without anything
// the upstream sent. The HTTP parser quotes the bytes of a response it
// cannot parse (status line, header lines and the start of the body), and
// a quoted credential may be compressed or escaped beyond what redaction
// recognises, so everything from the first quote on is dropped. A network
// error (dial, read, write) quotes nothing itself, but the parser wraps one
// with the header read so far when the connection fails in it (a reset),
// so a network error is cut at its first quote too. What is left is
// redacted all the same.
func scrubTransportMessage(err error, set *redact.Set) string {
	msg, _ := set.RedactString(beforeQuote(err.Error()))
	return msg
}

// beforeQuote is msg up to its first double quote, without the separator
// left before it.
func beforeQuote(msg string) string {
	if i := strings.IndexByte(msg, '"'); i >= 0 {
		return strings.TrimRight(msg[:i], " :,=")
	}
	return msg
}

// decodeError is the message for a body whose Content-Encoding cannot be
// decoded: the coding's name only when it is a plain token (it is the
// upstream's text), the decompressor's own wording otherwise.
func decodeError(err error, set *redact.Set) error {
	msg := beforeQuote(err.Error())
	if coding, ok := quotedToken(err.Error()); ok {
		msg += " " + coding
	}
	msg, _ = set.RedactString(msg)
	return fmt.Errorf("%w: %s", ErrUnsafeResponse, msg)
}

// quotedToken is the first quoted string in msg when it is a short HTTP
// token, as content codings are.
func quotedToken(msg string) (string, bool) {
	i := strings.IndexByte(msg, '"')
	if i < 0 {
		return "", false
	}
	tok, err := strconv.QuotedPrefix(msg[i:])
	if err != nil {
		return "", false
	}
	tok, err = strconv.Unquote(tok)
	if err != nil || len(tok) > 32 || !httpsyntax.ValidHeaderName(tok) {
		return "", false
	}
	return tok, true
}

// bodyError is what a failed read of the response body reports: whether
// the deadline passed, never the parser's text (which may quote the body).
// It reads the decoded body, so it checks the deadline itself: a small
// compressed body arrives at once and then decodes without touching the
// connection, for as long as its expansion lasts (a decompression bomb).
type bodyError struct {
	io.ReadCloser
	ctx context.Context
}

func (b *bodyError) Read(p []byte) (int, error) {
	if errors.Is(b.ctx.Err(), context.DeadlineExceeded) {
		return 0, fmt.Errorf("%w: the response body did not arrive in time", ErrTimeout)
	}
	n, err := b.ReadCloser.Read(p)
	if err == nil || err == io.EOF {
		return n, err
	}
	if errors.Is(err, context.DeadlineExceeded) || b.ctx.Err() != nil || isTimeout(err) {
		return n, fmt.Errorf("%w: the response body did not arrive in time", ErrTimeout)
	}
	return n, fmt.Errorf("%w: the response body ended early or is malformed", ErrUpstream)
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// scrub redacts the response headers and wraps the decoded body in a
// streaming redactor.
func (r *Runner) scrub(ctx context.Context, resp *http.Response, set *redact.Set, cancel context.CancelFunc) (*Result, error) {
	headerCount := set.Headers(resp.Header)
	plain, err := redact.DecodeBody(resp.Header, resp.Body)
	if err != nil {
		resp.Body.Close()
		cancel()
		return nil, decodeError(err, set)
	}
	body := set.NewReader(&bodyError{ReadCloser: plain, ctx: ctx})
	return &Result{
		Status:         resp.StatusCode,
		Header:         resp.Header,
		Body:           &cancelOnClose{ReadCloser: body, cancel: cancel},
		Redactions:     func() int { return headerCount + body.Count() },
		RedactString:   set.RedactString,
		DeclaredLength: resp.ContentLength,
	}, nil
}

func (r *Runner) record(ev *audit.Event) {
	var err error
	switch sink := r.Audit.(type) {
	case nil:
	case *audit.Batcher: // queues the event; bounds its own wait when it must write
		err = sink.Record(context.Background(), *ev)
	default:
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = sink.Record(ctx, *ev)
	}
	if err != nil && r.AuditFailed != nil {
		r.AuditFailed(err)
	}
}

func decisionFor(err error) audit.Decision {
	switch {
	case errors.Is(err, ErrNotAllowed), errors.Is(err, ErrSSRF):
		return audit.DecisionBlockedAllowlist
	case errors.Is(err, ErrNotBound):
		return audit.DecisionDeniedBinding
	case errors.Is(err, ErrPolicyDenied):
		return audit.DecisionPolicyDenied
	}
	return audit.DecisionError
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// auditedBody records the call's audit event when it is closed, as an
// error when reading the body failed (its messages quote nothing the
// upstream sent: see bodyError) or the front end refused the answer
// (Result.Refuse).
type auditedBody struct {
	io.ReadCloser
	once    sync.Once
	readErr error
	done    func(readErr error)
}

func (a *auditedBody) Read(p []byte) (int, error) {
	n, err := a.ReadCloser.Read(p)
	if err != nil && err != io.EOF && a.readErr == nil {
		a.readErr = err
	}
	return n, err
}

// refuse makes why the error the row records, unless a read failed first.
func (a *auditedBody) refuse(why error) {
	if a.readErr == nil {
		a.readErr = why
	}
}

func (a *auditedBody) Close() error {
	err := a.ReadCloser.Close()
	a.once.Do(func() { a.done(a.readErr) })
	return err
}

// maxRedirects bounds the same-host redirects a call follows.
const maxRedirects = 10

// errTooManyRedirects ends a redirect loop.
var errTooManyRedirects = errors.New("runner: too many redirects")

// roundTrip sends hreq and follows the redirects nextRequest allows.
func (r *Runner) roundTrip(hreq *http.Request, body []byte) (*http.Response, error) {
	for redirects := 0; ; redirects++ {
		resp, err := r.Transport.RoundTrip(hreq)
		if err != nil {
			return nil, err
		}
		next := nextRequest(hreq, resp, body)
		if next == nil {
			return resp, nil
		}
		discard(resp.Body)
		if redirects == maxRedirects {
			return nil, errTooManyRedirects
		}
		hreq = next
	}
}

// nextRequest is the request that follows resp, a redirect, or nil when
// it is not followed: only to the same scheme and host as req, so an
// injected credential never travels to another host. As browsers and
// net/http do, 301, 302 and 303 turn anything but GET and HEAD into a GET
// without a body; 307 and 308 repeat the method and body. The headers,
// with the credentials the policies put there, go along.
func nextRequest(req *http.Request, resp *http.Response, body []byte) *http.Request {
	method, toGet := req.Method, false
	switch resp.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther:
		if method != http.MethodGet && method != http.MethodHead {
			method, body, toGet = http.MethodGet, nil, true
		}
	case http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
	default:
		return nil
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		return nil
	}
	u, err := req.URL.Parse(loc)
	if err != nil || u.Scheme != req.URL.Scheme || u.Host != req.URL.Host || u.User != nil {
		return nil
	}
	next, err := newRequest(req.Context(), &hostfns.Request{Method: method, URL: u, Header: req.Header, Body: body})
	if err != nil {
		return nil
	}
	if toGet { // the body, and what described it, stay behind
		next.Header = req.Header.Clone()
		next.Header.Del("Content-Type")
	}
	return next
}

// discard reads a little of a body that will not be used, so its
// connection can be reused, and closes it.
func discard(body io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, body, 4<<10)
	body.Close()
}
