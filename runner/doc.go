// Package runner is the pipeline every front end (call, proxy, mcp) goes
// through to make an authenticated request without the caller ever holding
// a credential.
//
// # Flow
//
//  1. resolve: the call's policy specs name built-in or custom WebAssembly
//     policies, compiled once and pooled by the policies.Engine;
//  2. guard: the target host must be on the workspace allowlist, cloud
//     metadata hosts are refused, and every secret a policy opens must be
//     bound to the host (checked by the gate before the value is read);
//  3. on_request: each policy runs and asks the host to splice secrets by
//     handle into headers, query, JSON or form bodies;
//  4. transport: a shared HTTP/1.1 connection pool (Transport, on
//     fasthttp's client) whose dialer refuses link-local and metadata
//     addresses always, and loopback or private addresses unless the host
//     was allowlisted by its exact name, with a separate pool for each
//     case; header names and values are checked again before anything is
//     written; a connection that switched protocols or holds bytes no
//     request asked for never serves another request; redirects are
//     followed only on the same scheme and host, so no credential travels
//     to another host;
//  5. on_response: the response headers and (decoded) body stream through a
//     redactor loaded with every secret the call opened — and, with
//     RedactAll, every secret of the environment — in all their encodings;
//  6. audit: one event per call, with key names, never values.
//
// # Errors
//
// Failures wrap the sentinel errors in errors.go (ErrNotAllowed,
// ErrNotBound, ErrSecretMissing, ErrPolicyDenied, ErrSSRF, ...), so the CLI
// maps them to exit codes and the proxy to HTTP statuses. Messages name the
// host, key or policy involved and never a value.
package runner
