// Package policies loads, validates, pools and runs the WebAssembly policies
// that place secrets into outbound requests.
//
// # Resolving a policy
//
// A [Spec] names a policy and carries its params. The name is, in order: a
// built-in (bearer, header, query, basic, body-field, form-field, redact;
// see package wasm), a path to a .wasm file (it contains a slash or ends in
// ".wasm"), or a name registered in the [Registry]. [ParseInjection] maps the
// injection flags of "call" (--bearer KEY, --header Name=KEY, ...) to
// built-in specs.
//
// # Validation
//
// A module must export "memory" and on_request() -> i32, may export
// on_response() -> i32, and may import only the host ABI (module
// "agentsecrets", exact signatures, see package hostfns) and WASI preview 1.
// Anything else is refused at load with an error naming the import.
// [Inspect] reports the same verdict with the module's exports and imports.
//
// # Engine
//
// An [Engine] holds two wazero runtimes. Custom policies run in a sandbox:
// memory page limit, a deadline on every invocation (the module is closed
// when it passes), WASI with no preopened directory, no environment, no
// arguments and crypto/rand as its random source, compiled code cached on
// disk. The built-ins run without the termination instrumentation: they are
// straight-line code (a test in package wasm asserts it), so they end after
// a handful of host calls; the context is checked before each one.
//
// Compiled modules are kept per Engine (built-ins by name, custom modules by
// content digest) and each has a pool of instances. Custom modules are kept
// up to Config.MaxModules (DefaultMaxModules): beyond it the least recently
// used is evicted, its idle instances closed and its compiled code closed
// as soon as no run uses it (a long-running proxy given ever new .wasm
// files stays bounded); it compiles again on its next use (from the disk
// cache when there is one). The digests of files (by path) are bounded
// likewise. An instance serves one invocation at a time; one that
// trapped, timed out or hit a limit is closed and never reused, so the
// next call gets a fresh instance.
//
// # Errors
//
// [Engine.Run] returns a *[DeniedError] (errors.Is ErrDenied, and the
// secret gate's error when a secret could not be opened) or a
// *[FailedError] (errors.Is ErrPolicyFailed) naming the policy.
//
// # Dry runs
//
// [Engine.DryRun] runs a chain against a sample request with [Placeholders]
// instead of secrets and renders the request it would send with each secret
// shown as [SECRET:NAME].
package policies
