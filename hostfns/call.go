package hostfns

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
)

// Sentinel errors a [Secrets] implementation wraps so that secret_open can
// tell the guest why a secret is unavailable.
var (
	ErrSecretNotFound = errors.New("hostfns: secret not found")
	ErrSecretDenied   = errors.New("hostfns: secret not bound to this host")
	// ErrUnplaceable: the request cannot take the secret where a policy
	// asked for it (a body that is not JSON, a form field without a form
	// body); see [Call.Refusal].
	ErrUnplaceable = errors.New("hostfns: the request cannot take the secret")
	// ErrShortKey: hmac_secret refused a secret shorter than
	// [MinHMACKeyLen] as a key (see [ShortKeyError]).
	ErrShortKey = errors.New("hostfns: secret too short to be an HMAC key")
)

// ShortKeyError names the secret hmac_secret refused as a key because it
// is shorter than [MinHMACKeyLen]; it wraps [ErrShortKey]. It never holds
// the value, nor its length.
type ShortKeyError struct{ Key string }

func (e *ShortKeyError) Error() string {
	return fmt.Sprintf("hostfns: secret %q is too short to be an HMAC key (hmac_secret needs at least %d bytes)", e.Key, MinHMACKeyLen)
}

// Unwrap makes errors.Is match ErrShortKey.
func (e *ShortKeyError) Unwrap() error { return ErrShortKey }

// Hint says what a human can do about it.
func (e *ShortKeyError) Hint() string {
	return fmt.Sprintf("a MAC under a short secret (a PIN, a password) would let the policy guess it; store the full signing key the service issued (%d bytes or more) as %s, or send %s with a policy that does not sign (bearer, header)", MinHMACKeyLen, e.Key, e.Key)
}

// Request is the outbound request the policies shape.
type Request struct {
	Method string
	URL    *url.URL
	Header http.Header
	Body   []byte
}

// Secrets is the gate through which secret_open reaches secret values.
// Open returns errors wrapping [ErrSecretNotFound] or [ErrSecretDenied];
// any other error is reported to the guest as [ErrInternal].
type Secrets interface {
	Open(name string) ([]byte, error)
}

// Call is the state of one request as seen by the host functions. The host
// functions find it through the context passed to the guest (see
// [WithCall]). A Call is used by one goroutine at a time; [Call.Reset]
// prepares it for reuse.
type Call struct {
	Req     *Request
	Params  map[string]string
	Secrets Secrets
	Log     func(level int, msg string)

	gen      uint32
	handles  []handle
	extra    [][]byte
	denied   bool
	reason   string
	openErr  error
	openName string
	refusal  error

	// What holds a spliced-in secret, which the getters refuse to read:
	// header names (lower case), the query and the body.
	secretHeaders []string
	secretQuery   bool
	secretBody    bool
	// secretJSON: json_set_secret put a secret in the body (as a JSON
	// string, '&' and '=' unescaped), so form_set_secret refuses it.
	secretJSON bool

	writes      int // writes attempted, bounded by MaxWrites
	failedOpens int // secret_open failures, bounded by MaxFailedOpens
}

type handle struct {
	name   string
	value  []byte
	gen    uint32
	redact bool
}

type callKey struct{}

// WithCall returns a context carrying c for the host functions. With c nil
// it hides any call ctx carries: the host functions then answer
// ErrInternal (as when a new instance runs its _initialize).
func WithCall(ctx context.Context, c *Call) context.Context {
	return context.WithValue(ctx, callKey{}, c)
}

// CallFrom returns the Call carried by ctx, or nil.
func CallFrom(ctx context.Context) *Call {
	c, _ := ctx.Value(callKey{}).(*Call)
	return c
}

var generations atomic.Uint32

// Begin starts a guest invocation with the given params: it draws a new
// handle generation (so earlier handles become invalid) and clears the
// deny state of the previous invocation.
func (c *Call) Begin(params map[string]string) {
	c.Params = params
	c.gen = generations.Add(1)%0x7fff + 1
	c.denied, c.reason = false, ""
	c.openErr, c.openName = nil, ""
	c.refusal = nil
}

// Reset forgets everything opened and recorded, keeping allocated space,
// so the Call can serve another request.
func (c *Call) Reset() {
	clear(c.handles)
	c.handles = c.handles[:0]
	clear(c.extra)
	c.extra = c.extra[:0]
	c.Params = nil
	c.gen = 0
	c.denied, c.reason = false, ""
	c.openErr, c.openName = nil, ""
	c.refusal = nil
	c.secretHeaders = c.secretHeaders[:0]
	c.secretQuery, c.secretBody, c.secretJSON = false, false, false
	c.writes, c.failedOpens = 0, 0
}

// Denied reports whether the current invocation called deny, and its reason.
func (c *Call) Denied() (bool, string) { return c.denied, c.reason }

// OpenError returns the first secret_open failure of the current invocation
// and the secret name, or nil. It wraps [ErrSecretNotFound],
// [ErrSecretDenied] or the gate's own error.
func (c *Call) OpenError() (string, error) { return c.openName, c.openErr }

// Refusal returns why the first refused operation of the current
// invocation failed, or nil: a splice the request could not take (wrapping
// [ErrUnplaceable]) or an hmac_secret on too short a key (a
// [*ShortKeyError]). It names what was wrong (never a value).
func (c *Call) Refusal() error { return c.refusal }

// write counts a write the guest attempts; false once MaxWrites were.
func (c *Call) write() bool {
	if c.writes >= MaxWrites {
		return false
	}
	c.writes++
	return true
}

// refuse records why a splice failed and returns ErrBadArgument for the
// guest.
func (c *Call) refuse(format string, args ...any) int32 {
	if c.refusal == nil {
		c.refusal = fmt.Errorf("%w: "+format, append([]any{ErrUnplaceable}, args...)...)
	}
	return ErrBadArgument
}

// refuseShortKey records that hmac_secret refused h as too short a key and
// returns ErrDenied for the guest.
func (c *Call) refuseShortKey(h *handle) int32 {
	if c.refusal == nil {
		c.refusal = &ShortKeyError{Key: h.name}
	}
	return ErrDenied
}

// Opened returns the names of the secrets opened during the call, once each,
// in opening order.
func (c *Call) Opened() []string {
	out := make([]string, 0, len(c.handles))
	for i, h := range c.handles {
		if !seenName(c.handles[:i], h.name) {
			out = append(out, h.name)
		}
	}
	return out
}

// Redacted returns the names of the secrets a guest marked with redact.
func (c *Call) Redacted() []string {
	var out []string
	for _, h := range c.handles {
		if h.redact && !containsString(out, h.name) {
			out = append(out, h.name)
		}
	}
	return out
}

// RedactSet returns every value the response redactor must remove: each
// opened secret, plus derived forms the host built (such as "user:" for a
// Basic credential without a password). The slices are the host's own;
// callers must not modify them.
func (c *Call) RedactSet() [][]byte {
	out := make([][]byte, 0, len(c.handles)+len(c.extra))
	for i, h := range c.handles {
		if !seenName(c.handles[:i], h.name) {
			out = append(out, h.value)
		}
	}
	return append(out, c.extra...)
}

func seenName(hs []handle, name string) bool {
	for _, h := range hs {
		if h.name == name {
			return true
		}
	}
	return false
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// open returns a handle for name in the current generation. A name
// already open answers its handle; past MaxHandles opened or
// MaxFailedOpens failed, any other answers ErrLimit unasked.
func (c *Call) open(name []byte) int32 {
	for i, h := range c.handles {
		if h.gen == c.gen && h.name == string(name) {
			return c.handleID(i)
		}
	}
	if len(c.handles) >= MaxHandles || c.failedOpens >= MaxFailedOpens {
		return ErrLimit
	}
	if c.Secrets == nil {
		return ErrInternal
	}
	n := string(name)
	v, err := c.Secrets.Open(n)
	if err != nil {
		c.failedOpens++
		if c.openErr == nil {
			c.openErr, c.openName = err, n
		}
		switch {
		case errors.Is(err, ErrSecretNotFound):
			return ErrNotFound
		case errors.Is(err, ErrSecretDenied):
			return ErrDenied
		}
		return ErrInternal
	}
	c.handles = append(c.handles, handle{name: n, value: v, gen: c.gen})
	return c.handleID(len(c.handles) - 1)
}

func (c *Call) handleID(i int) int32 { return int32(c.gen<<16 | uint32(i)) }

// lookup resolves a guest handle to its entry; nil when the handle was not
// opened by the current invocation.
func (c *Call) lookup(h int32) *handle {
	if h < 0 || c.gen == 0 || uint32(h)>>16 != c.gen {
		return nil
	}
	i := int(h & 0xffff)
	if i >= len(c.handles) || c.handles[i].gen != c.gen {
		return nil
	}
	return &c.handles[i]
}

func (c *Call) addExtra(v []byte) {
	// A guest may splice the same credential many times: each value is
	// kept once, so the set stays as small as the secrets opened.
	for _, e := range c.extra {
		if bytes.Equal(e, v) {
			return
		}
	}
	c.extra = append(c.extra, v)
}

// markSecretHeader records that header name now holds a secret.
func (c *Call) markSecretHeader(name string) {
	if !c.secretHeader(name) {
		c.secretHeaders = append(c.secretHeaders, strings.ToLower(name))
	}
}

// clearSecretHeader records that header name no longer holds a secret
// (replaced by a plain value or deleted).
func (c *Call) clearSecretHeader(name string) {
	c.secretHeaders = slices.DeleteFunc(c.secretHeaders, func(n string) bool { return strings.EqualFold(n, name) })
}

// secretHeader reports whether header name holds a secret.
func (c *Call) secretHeader(name string) bool {
	return slices.ContainsFunc(c.secretHeaders, func(n string) bool { return strings.EqualFold(n, name) })
}
