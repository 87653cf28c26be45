// Command benchbare is the floor of the proxy load benchmark
// (scripts/proxy-bench.sh): the least a Go reverse proxy on the same HTTP
// library can do. It forwards every request to one upstream over a
// keep-alive pool, setting the Authorization header, and nothing else: no
// session token, no policy, no allowlist, no redaction, no audit. Its
// throughput against nginx's is the ceiling the agentsecrets proxy can
// approach on the machine the benchmark runs on.
//
// Usage:
//
//	benchbare -addr 127.0.0.1:19000 -upstream 127.0.0.1:18080
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/valyala/fasthttp"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:19000", "address to listen on")
	upstream := flag.String("upstream", "127.0.0.1:18080", "upstream host:port")
	flag.Parse()
	client := &fasthttp.HostClient{Addr: *upstream, MaxConns: 512}
	handler := func(ctx *fasthttp.RequestCtx) {
		ctx.Request.Header.Set("Authorization", "Bearer x")
		ctx.Request.SetHost(*upstream)
		if err := client.Do(&ctx.Request, &ctx.Response); err != nil {
			ctx.Error("upstream unreachable", fasthttp.StatusBadGateway)
		}
	}
	if err := fasthttp.ListenAndServe(*addr, handler); err != nil {
		fmt.Fprintf(os.Stderr, "benchbare: %v\n", err)
		os.Exit(1)
	}
}
