// Command benchupstream is the upstream of the proxy load benchmark
// (scripts/proxy-bench.sh): a loopback HTTP server that answers every
// request with a small JSON body, like a typical API read.
//
// Usage:
//
//	benchupstream -addr 127.0.0.1:18080
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
)

const body = `{"object":"balance","available":[{"amount":1000,"currency":"usd"}],"livemode":false}` + "\n"

func main() {
	addr := flag.String("addr", "127.0.0.1:18080", "address to listen on")
	flag.Parse()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		_, _ = w.Write([]byte(body))
	})
	if err := http.ListenAndServe(*addr, h); err != nil {
		fmt.Fprintf(os.Stderr, "benchupstream: %v\n", err)
		os.Exit(1)
	}
}
