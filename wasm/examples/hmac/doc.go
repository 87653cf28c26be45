//go:build !wasip1

// Command hmac is an example agentsecrets policy; it only makes sense built
// for WebAssembly (see main.go):
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o hmac.wasm ./wasm/examples/hmac
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "hmac: build with GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared")
	os.Exit(2)
}
