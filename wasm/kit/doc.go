// Package kit writes agentsecrets policies in Go.
//
// A policy is a WebAssembly module that shapes an outbound request. It
// receives opaque handles to secrets and asks the host to place them: the
// secret's bytes never enter the policy's memory, so a policy cannot leak
// what it never holds. This package wraps the host ABI (documented in
// package hostfns) in plain Go functions.
//
// # Writing a policy
//
//	//go:build wasip1
//
//	package main
//
//	import "github.com/The-17/agentsecrets/wasm/kit"
//
//	func main() {}
//
//	//go:wasmexport on_request
//	func onRequest() int32 {
//		key, ok := kit.Param("key")
//		if !ok {
//			return kit.Deny("param key is required")
//		}
//		s, err := kit.OpenSecret(key)
//		if err != nil {
//			return kit.Deny("secret unavailable")
//		}
//		if err := kit.SetHeaderSecret("X-Api-Token", "Token ", s, kit.Raw); err != nil {
//			return kit.Deny("cannot set the header")
//		}
//		return kit.Continue
//	}
//
// on_request returns [Continue] (0) to let the request go or 1 to stop it;
// [Deny] records a reason and returns 1. A policy may also export
// on_response with the same shape.
//
// # Building
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o policy.wasm .
//
// The host runs the module's _initialize export once per instance, then
// calls on_request for each request; instances are reused, so package
// variables survive between calls (handles do not: each call gets new
// ones). The sandbox has no files, no network, no environment, a fake
// clock and a cryptographic random source, a memory limit and a deadline.
//
// # Using it
//
//	agentsecrets policy add signer policy.wasm
//	agentsecrets call --url https://api.example.com --policy signer --param key=SIGNING_KEY
//
// See wasm/examples/hmac for a complete policy: HMAC-SHA256 request
// signing through [HMAC], where the key stays in the host.
package kit
