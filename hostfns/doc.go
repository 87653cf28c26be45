// Package hostfns is the wazero host module "agentsecrets": the only door a
// policy (a WebAssembly guest) has to the request being sent and to the
// secrets it may use. This comment is the ABI reference; the registration
// table in abi.go lists the same functions in the same order.
//
// # Conventions
//
// All parameters and results are i32. A string or byte range is a pair
// (ptr, len) in the guest's exported "memory". Output buffers are a pair
// (buf, cap). Every access is bounds-checked: a range outside guest memory
// yields [ErrOutOfRange], never a host panic.
//
// A result >= 0 is success (a length, a handle or 0). A negative result is
// one of the error codes:
//
//	ErrNotFound    -1  no such param, header, or secret
//	ErrDenied      -2  the secret exists but is not bound to this request's host,
//	                   a getter was asked for a field that holds a secret, or
//	                   hmac_secret was given too short a key
//	ErrBadArgument -3  malformed name, path, header value, encoding, field...
//	ErrTooSmall    -4  the output buffer is smaller than the value
//	ErrOutOfRange  -5  a (ptr, len) range lies outside guest memory
//	ErrBadHandle   -6  a handle that this guest invocation did not open
//	ErrLimit       -7  a per-call limit was reached (handles, writes, string size)
//	ErrInternal    -8  no call state, or the host could not do it
//
// Getters (param, request_get, header_get) write the value to (buf, cap) and
// return its length. When cap is 0 they write nothing and return the length,
// so a guest can size its buffer; when 0 < cap < length they return
// [ErrTooSmall] and write nothing.
//
// # Functions
//
//	param(name, name_len, buf, cap) -> len
//	    The policy's configuration value for name (e.g. "key", "name").
//	secret_open(name, name_len) -> handle
//	    A handle to the named secret. ErrNotFound if missing, ErrDenied if it
//	    is not bound to the request's host, ErrLimit past the limits (see
//	    Limits). The value stays in the host.
//	request_get(field, buf, cap) -> len
//	    field: 0 method, 1 url, 2 host, 3 path, 4 raw query, 5 body.
//	header_get(name, name_len, buf, cap) -> len
//	    First value of a plain request header (name matched without case).
//	header_set(name, name_len, value, value_len) -> 0
//	    Sets a plain header; the name is kept as given (case included).
//	header_del(name, name_len) -> 0
//	    Removes a header, matched without case.
//	header_set_secret(name, name_len, prefix, prefix_len, handle, encoding) -> 0
//	    Sets header name to prefix followed by the encoded secret.
//	    encoding: 0 raw, 1 base64 (standard), 2 basic. Basic takes the secret
//	    stored as "user:pass" and base64-encodes it; a value without ':' is a
//	    user name with an empty password (Stripe style "sk_...:"). A header
//	    the transport writes itself or that describes the connection (Host,
//	    Content-Length, Transfer-Encoding, Trailer, Connection, Keep-Alive,
//	    Proxy-Connection, TE, Upgrade) is ErrBadArgument: the secret would
//	    not leave with the request.
//	query_set_secret(name, name_len, handle) -> 0
//	    Sets URL query parameter name (case kept, other parameters untouched,
//	    an existing parameter of that exact name replaced).
//	json_set_secret(path, path_len, handle) -> 0
//	    Sets the secret as a JSON string at an sjson path ("a.b", "items.0.k")
//	    in the body; an empty body becomes "{}" first. Keys and indexes only:
//	    a path with a query, wildcard, modifier or pipe (| # @ * ? not escaped
//	    by a backslash) is ErrBadArgument. Content-Type is set to
//	    application/json when absent; a non-JSON body or Content-Type, or a
//	    body nested deeper than MaxJSONDepth, is ErrBadArgument.
//	form_set_secret(field, field_len, handle) -> 0
//	    Sets a field of an application/x-www-form-urlencoded body, keeping the
//	    other fields; sets Content-Type when absent. A body where
//	    json_set_secret put a secret is ErrBadArgument (rewritten as a form
//	    it would cut that secret into pieces).
//	hmac_secret(handle, alg, data, data_len, out, cap) -> len
//	    Writes HMAC(secret, data) to out. alg: 0 SHA-256 (32 bytes),
//	    1 SHA-512 (64 bytes). Only the MAC reaches guest memory. A secret
//	    shorter than MinHMACKeyLen (16 bytes) is refused with ErrDenied and
//	    nothing is written: the guest chooses the data and gets the MAC, so
//	    it could test every candidate of a PIN or a short password offline
//	    and recover it. The refusal ([ShortKeyError]) names the key. The
//	    rule bounds the length, not the entropy: a long but guessable
//	    secret (a passphrase, "user:" before a short password) is no
//	    signing key either.
//	redact(handle) -> 0
//	    Marks the secret for response redaction (every opened secret is
//	    redacted anyway; this makes the intent explicit).
//	deny(reason, reason_len) -> 0
//	    Records why the request must not be sent; the policy then returns 1.
//	log(level, msg, msg_len) -> 0
//	    Diagnostics: level 0 debug, 1 info, 2 warn, 3 error.
//
// # Limits
//
// One call (the whole chain of policies) may open MaxHandles secrets, fail
// MaxFailedOpens secret_open calls (a key missing, unbound or unreadable)
// and attempt MaxWrites writes (header_set, header_set_secret and the
// three *_set_secret splices; each attempt counts, whatever its outcome);
// past them the function answers ErrLimit. Past MaxFailedOpens secret_open
// answers ErrLimit for every name not already open, existing or not,
// without looking it up: a policy cannot probe key names without bound. Guest memory is capped, but writes
// copy into the request the host holds, which only these limits bound.
// Host functions answer ErrInternal outside an invocation, e.g. from a
// module's _initialize.
//
// # Guest exports
//
// A policy exports "memory", on_request() -> i32 (0 continue, 1 deny) and
// optionally on_response() -> i32. WASI (wasi_snapshot_preview1) imports are
// allowed and run with no preopens, no environment, no arguments and a
// cryptographic random source.
//
// # Handles
//
// A handle is generation<<16 | index. Each guest invocation gets a fresh
// generation from [Call.Begin]; a handle is valid only inside the invocation
// that opened it, so a handle kept from an earlier call, from another policy
// of the chain, or made up is [ErrBadHandle].
//
// # Secrets never enter guest memory
//
// No function writes a secret's bytes (or any encoding of them) into guest
// memory: values are spliced into the request by the host. hmac_secret writes
// the MAC only. Once a secret is spliced in, the getters refuse (ErrDenied)
// the fields that hold it, for the rest of the chain: header_get of that
// header (until header_set or header_del replaces it), request_get of url
// and query after query_set_secret, of body after json_set_secret or
// form_set_secret. A signing policy therefore runs before, or signs
// fields other than, those that carry injected secrets. Nor does a secret
// decide the outcome of a later call: json_set_secret and form_set_secret
// refuse a Content-Type header that holds a secret (ErrBadArgument) rather
// than parse it. After the chain ran, [Call.RedactSet] lists every value the
// response redactor must remove.
package hostfns
