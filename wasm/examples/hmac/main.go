//go:build wasip1

// Command hmac is a custom agentsecrets policy: it signs the request body
// with HMAC-SHA256 and sets
//
//	X-Signature: sha256=<hex HMAC(secret, body)>
//
// The key stays in the host: the policy holds a handle and gets the MAC.
//
// Params: key=SECRET_NAME (required), header=Header-Name (default
// X-Signature), prefix (default "sha256=").
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o hmac.wasm ./wasm/examples/hmac
package main

import (
	"encoding/hex"

	"github.com/The-17/agentsecrets/wasm/kit"
)

func main() {}

//go:wasmexport on_request
func onRequest() int32 {
	name, ok := kit.Param("key")
	if !ok {
		return kit.Deny("hmac: param key is required")
	}
	secret, err := kit.OpenSecret(name)
	if err != nil {
		return kit.Deny("hmac: secret unavailable: " + err.Error())
	}
	body, err := kit.RequestBody()
	if err != nil {
		return kit.Deny("hmac: cannot read the body: " + err.Error())
	}
	mac, err := kit.HMAC(secret, kit.SHA256, body)
	if err != nil {
		return kit.Deny("hmac: " + err.Error())
	}
	header := kit.ParamOr("header", "X-Signature")
	prefix := kit.ParamOr("prefix", "sha256=")
	if err := kit.SetHeader(header, prefix+hex.EncodeToString(mac)); err != nil {
		return kit.Deny("hmac: cannot set " + header + ": " + err.Error())
	}
	return kit.Continue
}
