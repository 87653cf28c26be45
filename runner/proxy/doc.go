// Package proxy is the HTTP front end of the runner: a local server that
// takes a request described by X-AS-* headers, has the runner inject the
// named secrets and send it, and streams the redacted answer back.
//
// # Protocol
//
// A client sends any method to /proxy:
//
//	POST /proxy HTTP/1.1
//	Host: 127.0.0.1:8765
//	X-AS-Session-Token: <contents of proxy.token>
//	X-AS-Target-URL: https://api.stripe.com/v1/charges
//	X-AS-Inject-Bearer: STRIPE_KEY
//	Content-Type: application/json
//
//	{"amount":1000}
//
// The headers it reads:
//
//	X-AS-Target-URL: URL              required; absolute http(s) URL
//	X-AS-Method: METHOD               default: the request's own method
//	X-AS-Timeout: DURATION            this call's bound, up to 1h (e.g. 5m for
//	                                  a long stream); default: the proxy's
//	X-AS-Inject-Bearer: KEY           Authorization: Bearer <KEY>
//	X-AS-Inject-Basic: KEY            Authorization: Basic (KEY holds user:password)
//	X-AS-Inject-Header: Name=KEY      header Name
//	X-AS-Inject-Query: param=KEY      query parameter param
//	X-AS-Inject-Body: path=KEY        JSON body field at path (sjson syntax)
//	X-AS-Inject-Form: field=KEY       form-urlencoded body field
//	X-AS-Inject-Header-<Name>: KEY    seed forms of the four above
//	X-AS-Inject-Query-<param>: KEY
//	X-AS-Inject-Body-<path>: KEY
//	X-AS-Inject-Form-<field>: KEY
//	X-AS-Policy: NAME                 a registered custom policy
//	X-AS-Param: k=v, X-AS-Param-<k>: v   its parameters
//	X-AS-Agent-ID: ID                 the caller's declared identity
//	X-AS-Agent-Token: TOKEN           the caller's token
//	X-AS-Session-Token: TOKEN         the proxy's session token
//
// Injection headers may be repeated and may list several items separated
// by commas. Built-in injections run in the order bearer, basic, header,
// query, body, form; custom policies run after them, in the order given.
// Only registered policy names are accepted, never file paths.
//
// HTTP does not keep the case of header names: the server turns
// X-AS-Inject-Query-api_key into X-As-Inject-Query-Api_key (Go's canonical
// form, whatever case the client used), and HTTP/2 sends every name in
// lower case. The seed forms therefore lose the case of
// their suffix: a header name is used as canonicalised (header names are
// case-insensitive anyway), and a query parameter, body path or form field
// is taken in lower case. To name anything else — apiKey, user.Token — use
// the case-keeping forms, whose name is in the value (X-AS-Inject-Query:
// apiKey=MAPS_KEY). X-AS-Param-<k> likewise gives k in lower case; use
// X-AS-Param: k=v to keep it.
//
// Any other X-AS-* header, one spelt with underscores (X_AS_Inject_Bearer),
// or a header name that is not an HTTP token, is an error (bad_header), so
// a misspelt injection never becomes an unauthenticated request. Every
// X-AS-* header, the hop-by-hop headers and every header value that
// carries the session token (in Authorization or elsewhere) are removed
// before the request leaves; all other headers and the body (at most
// 32 MiB) are passed on. Responses keep the upstream's status and
// headers (redacted, without hop-by-hop ones and Content-Length) and pass
// the body through the redactor. Server-sent
// events (text/event-stream) and bodies of undeclared length are streamed,
// flushed after every read, so events arrive as they are sent. A body of
// declared length that fits in 32 KiB once redacted goes out with its new
// Content-Length in one write, a longer one chunked as it is read, and one
// that fails before any of it was sent gets 502 upstream_unreachable
// rather than a truncated answer.
//
// # Identity
//
// The audit log records the caller as "anonymous", as its X-AS-Agent-ID (a
// declared id, not checked), or as "token:<id>" when X-AS-Agent-Token holds
// a token issued by `agentsecrets agent token issue`: Handler.Identify
// (TokenCache.Identify) verifies it against the SHA-256 hashes in the
// vault's agents file, and an unknown or revoked token is refused with 401
// agent_token_invalid before anything leaves. The raw token is never stored
// or logged. Revocations are read at start and by POST /sync (proxy sync);
// a token issued while the proxy runs is found at once. Without Identify a
// token is an unchecked label, logged as "token:" and the first 8 hex
// digits of its SHA-256.
//
// # Security
//
// Every request but GET /health needs the session token, in
// X-AS-Session-Token or as Authorization: Bearer <token>, compared in
// constant time; the token is random, new at each start, and kept in a
// 0600 file, so other local users and web pages cannot use the proxy. The
// Host header, and the host of a request target in absolute form, must be
// localhost, 127.0.0.1 or [::1] (any port), which defeats DNS rebinding
// from a browser. /health answers {"status":"ok"}
// and nothing else. The server listens on loopback unless the caller
// passes a non-loopback address to CheckBind with allowRemote.
//
// # Errors
//
// The proxy's own errors are JSON, {"error": CODE, "message": ...,
// "hint": ...}, with stable codes:
//
//	status  code                  when
//	400     missing_target        no X-AS-Target-URL
//	400     bad_header            a malformed or unknown X-AS-* header, a bad
//	                              target URL, an unknown policy
//	401     unauthorized          no or wrong session token
//	401     agent_token_invalid   X-AS-Agent-Token is unknown or revoked
//	403     host_not_loopback     the Host header is not a loopback name
//	403     domain_not_allowed    the target host is not on the allowlist
//	403     secret_not_bound      a secret is bound to other domains
//	403     address_refused       metadata, link-local or unallowed private address
//	403     policy_denied         a policy refused the call
//	404     secret_not_found      a named secret does not exist
//	404     not_found             no such endpoint
//	405     method_not_allowed    /health is GET, /sync is POST
//	413     body_too_large        the request body exceeds 32 MiB
//	500     policy_failed         a policy trapped or timed out
//	500     internal_error        anything else (e.g. the vault cannot be read)
//	502     upstream_unreachable  the upstream could not be reached
//	502     response_refused      the response cannot be scanned (e.g. br encoding),
//	                              or switches protocols (101: the proxy does not tunnel)
//	504     upstream_timeout      the upstream did not answer in time
//
// A request refused with any 4xx code never reached the upstream. A
// bad_header message names the header (a seed form by its form,
// X-AS-Inject-Query-<param>) and says what is wrong, giving a refused key
// name, header name, parameter, path, field or policy name by its length,
// never its text: a value sent by mistake where a name goes is not sent
// back. X-AS-Param's key, the secret a custom policy uses, must be a key
// name too.
//
// # Endpoints
//
//	ANY  /proxy   the protocol above
//	GET  /health  {"status":"ok"}; no token
//	POST /sync    forget cached values and allowlist, re-read them now
//
// # Server
//
// Serve runs the Handler on fasthttp's server (NewServer), which costs a
// fraction of net/http's CPU per request: no per-request goroutine hand-off
// or background read, pooled buffers. The handler reads the request's
// headers into an http.Header once; from there on the checks and the
// runner are the same as for every front end. Requests are bounded (64 KiB
// of header, 32 MiB of body, 60 s to read one), responses are not (events
// may stream for minutes), and the server adds nothing to a response
// (no Server, Date or default Content-Type) and logs nothing a client sent.
//
// # Lifecycle
//
// Listen, Serve (graceful: in-flight requests finish and their audit events
// are written), Files (pid, token, state and log files in the agentsecrets
// home), Alive, Health and RequestSync are the pieces the command line
// builds proxy start, status, stop and sync from. While Serve runs, unless
// GOGC or GOMAXPROCS is set, the garbage collector's target is GCPercent
// (400: the live heap is small and each request allocates; the vault's
// key-derivation memory is returned first), and the number of threads
// running Go code follows the load: every CPU while at most one request
// per CPU is in flight (lowest latency), half of them beyond that, where
// Go's scheduler otherwise spends as much CPU handing work between threads
// as the proxy spends on requests (see procsGovernor).
//
// # Audit
//
// Each proxied request is one audit event (source "proxy"), recorded when
// its response body is done. An answer the proxy refuses after it arrived
// (a 101) is recorded with the status the upstream sent, decision error
// and the refusal as its reason. NewHandler puts an audit.Batcher in front of
// an audit.Store: the event is queued, and the events of concurrent
// requests are appended together in one transaction, as one segment of the
// log, up to 10 ms later; a full queue makes the request write its own
// (nothing is dropped). Handler.Wait flushes the queue and Handler.Close, which Serve
// calls after shutdown, drains it. Rows of concurrent requests may be in
// another order than the requests; each row's time is when it was queued.
//
// # Caching
//
// A long-running proxy reads the vault once: values, the allowlist
// (runner.StoreVault with Cache) and each secret's domain bindings
// (BindingCache) are kept in memory until POST /sync (agentsecrets proxy
// sync). A secret added later is read when first used.
package proxy
