package proxy

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/valyala/fasthttp"

	"github.com/The-17/agentsecrets/hostfns"
	"github.com/The-17/agentsecrets/policies"
	"github.com/The-17/agentsecrets/runner"
)

// The stable error codes of the JSON error body. Clients branch on these.
const (
	CodeMissingTarget       = "missing_target"
	CodeBadHeader           = "bad_header"
	CodeUnauthorized        = "unauthorized"
	CodeAgentTokenInvalid   = "agent_token_invalid"
	CodeDomainNotAllowed    = "domain_not_allowed"
	CodeSecretNotBound      = "secret_not_bound"
	CodeAddressRefused      = "address_refused"
	CodeHostNotLoopback     = "host_not_loopback"
	CodePolicyDenied        = "policy_denied"
	CodeNotFound            = "not_found"
	CodeSecretNotFound      = "secret_not_found"
	CodeMethodNotAllowed    = "method_not_allowed"
	CodeBodyTooLarge        = "body_too_large"
	CodeInternal            = "internal_error"
	CodePolicyFailed        = "policy_failed"
	CodeUpstreamUnreachable = "upstream_unreachable"
	CodeResponseRefused     = "response_refused"
	CodeUpstreamTimeout     = "upstream_timeout"
)

// Error is the JSON body of every response the proxy makes itself:
// {"error": CODE, "message": ..., "hint": ...}. Messages name hosts, keys
// and headers, never a value.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"error"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

func (e *Error) Error() string { return "proxy: " + e.Code + ": " + e.Message }

// parseError maps a ParseHeaders error to its response.
func parseError(err error) *Error {
	if errors.Is(err, errMissingTarget) {
		return &Error{Status: http.StatusBadRequest, Code: CodeMissingTarget, Message: err.Error(),
			Hint: "send the upstream URL in X-AS-Target-URL"}
	}
	return &Error{Status: http.StatusBadRequest, Code: CodeBadHeader, Message: err.Error(),
		Hint: "see the X-AS-* protocol: X-AS-Inject-Bearer: KEY, X-AS-Inject-Header: Name=KEY, X-AS-Inject-Query: param=KEY, ..."}
}

// callError maps a runner error to its response.
func callError(err error) *Error {
	var hostErr *runner.HostError
	e := &Error{Message: err.Error()}
	switch {
	case errors.As(err, &hostErr) && hostErr.Key != "":
		e.Status, e.Code = http.StatusForbidden, CodeSecretNotBound
		e.Hint = "secret " + hostErr.Key + " may only be sent to its bound domains; ask the human to review its bindings"
	case errors.As(err, &hostErr):
		e.Status, e.Code = http.StatusForbidden, CodeDomainNotAllowed
		e.Hint = allowlistHint(hostErr.Host)
	case errors.Is(err, runner.ErrSSRF):
		e.Status, e.Code = http.StatusForbidden, CodeAddressRefused
		e.Hint = "metadata and link-local addresses are always refused; loopback and private ones need the exact host on the allowlist"
	case errors.Is(err, runner.ErrSecretMissing):
		e.Status, e.Code = http.StatusNotFound, CodeSecretNotFound
		e.Hint = "check agentsecrets secrets list; ask the human to run agentsecrets secrets set " + runner.MissingKey(err) + " in their terminal, then agentsecrets proxy sync"
	case errors.Is(err, runner.ErrPolicyDenied):
		e.Status, e.Code = http.StatusForbidden, CodePolicyDenied
		var h interface{ Hint() string } // the host's reason, e.g. a key too short to sign with
		if errors.As(err, &h) {
			e.Hint = h.Hint()
		}
	case errors.Is(err, hostfns.ErrUnplaceable):
		e.Status, e.Code = http.StatusBadRequest, CodeBadHeader
		e.Hint = "send a body of the type the injection needs: JSON for X-AS-Inject-Body, application/x-www-form-urlencoded for X-AS-Inject-Form"
	case errors.Is(err, runner.ErrBadRequest):
		e.Status, e.Code = http.StatusBadRequest, CodeBadHeader
		e.Hint = "X-AS-Target-URL must be an absolute http or https URL without user info"
	case errors.Is(err, runner.ErrTimeout):
		e.Status, e.Code = http.StatusGatewayTimeout, CodeUpstreamTimeout
	case errors.Is(err, runner.ErrUnsafeResponse):
		e.Status, e.Code = http.StatusBadGateway, CodeResponseRefused
		e.Hint = "the upstream used a content encoding that cannot be scanned for secrets"
	case errors.Is(err, runner.ErrUpstream):
		e.Status, e.Code = http.StatusBadGateway, CodeUpstreamUnreachable
	case errors.Is(err, policies.ErrPolicyNotFound):
		e.Status, e.Code = http.StatusBadRequest, CodeBadHeader
		e.Hint = "list registered policies with agentsecrets policy list"
	case errors.Is(err, policies.ErrPolicyFailed):
		e.Status, e.Code = http.StatusInternalServerError, CodePolicyFailed
	default:
		e.Status, e.Code = http.StatusInternalServerError, CodeInternal
	}
	return e
}

// allowlistHint is the command that would allow host, when host is safe
// to paste into a shell (runner.PlainHost).
func allowlistHint(host string) string {
	if !runner.PlainHost(host) {
		return runner.NotPlainHostHint
	}
	return "ask the human to run: agentsecrets workspace allowlist add " + host + " (then agentsecrets proxy sync)"
}

// writeError sends e as the JSON error body.
func writeError(ctx *fasthttp.RequestCtx, e *Error) {
	h := &ctx.Response.Header
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	ctx.SetStatusCode(e.Status)
	body, _ := json.Marshal(e) // strings only: always marshals
	ctx.SetBody(append(body, '\n'))
}
