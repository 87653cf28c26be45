package proxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/The-17/agentsecrets/runner"
)

// reportCPU reports the process's CPU time per operation since start
// (client, proxy and upstream together): unlike ns/op, it does not grow
// when other processes take the machine's cores.
// Where the CPU time is not measured (cpuTime 0), it reports nothing.
func reportCPU(b *testing.B, start time.Duration) {
	if start == 0 {
		return
	}
	b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
}

// BenchmarkRoundTrip compares a request sent straight to a loopback
// upstream with the same request through the proxy handler (on its own
// loopback server) with a bearer injection: session token check, header
// parsing, the bearer policy, allowlist, redaction of the response and
// the audit write. Both use keep-alive connections.
func BenchmarkRoundTrip(b *testing.B) {
	f := newFixture(b)
	f.upstream.setHandler(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"object":"balance","available":[{"amount":1000,"currency":"usd"}]}`)
	})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	run := func(b *testing.B, newReq func() *http.Request, parallelism int) {
		b.ReportAllocs()
		b.SetParallelism(parallelism)
		start := cpuTime(b)
		defer func() { reportCPU(b, start) }()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				resp, err := client.Do(newReq())
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	}
	b.Run("direct", func(b *testing.B) {
		run(b, func() *http.Request {
			req, _ := http.NewRequest("GET", f.upstream.URL+"/v1/balance", nil)
			req.Header.Set("Authorization", "Bearer x")
			return req
		}, 1)
	})
	proxied := func() *http.Request {
		return f.request("GET", "/v1/balance", nil, "X-AS-Inject-Bearer", "TOKEN_A")
	}
	b.Run("proxy-bearer", func(b *testing.B) { run(b, proxied, 1) })
	// 16 clients per GOMAXPROCS: with -cpu 2, the 32 connections of the
	// load test (scripts/proxy-bench.sh).
	b.Run("proxy-bearer-32conns", func(b *testing.B) { run(b, proxied, 16) })
	// The same without the audit write, to show what it costs.
	b.Run("proxy-bearer-no-audit", func(b *testing.B) {
		f.handler.Wait() // no audit write of the previous run in flight
		sink := f.handler.Runner.Audit
		f.handler.Runner.Audit = nil
		defer func() { f.handler.Wait(); f.handler.Runner.Audit = sink }()
		run(b, proxied, 1)
	})
}

// BenchmarkRoundTripSerial is BenchmarkRoundTrip's proxied request one at
// a time: the latency a single client sees.
func BenchmarkRoundTripSerial(b *testing.B) {
	f := newFixture(b)
	f.upstream.setHandler(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"object":"balance","available":[{"amount":1000,"currency":"usd"}]}`)
	})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	b.ReportAllocs()
	start := cpuTime(b)
	defer func() { reportCPU(b, start) }()
	for b.Loop() {
		resp, err := client.Do(f.request("GET", "/v1/balance", nil, "X-AS-Inject-Bearer", "TOKEN_A"))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}

// BenchmarkHandler is the proxy's own work for one request with a bearer
// injection, without the kernel: ServeFastHTTP is called with a parsed
// request, and the upstream (a fasthttp server answering the load test's
// small JSON) is reached over an in-memory connection. With -cpu 1 the
// audit writer runs on the same thread, so cpu-ns/op is everything one
// request costs the proxy (and the in-memory upstream), free of the
// loopback TCP stack that dominates the load test, and of its noise.
func BenchmarkHandler(b *testing.B) {
	ln := fasthttputil.NewInmemoryListener()
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"object":"balance","available":[{"amount":1000,"currency":"usd"}]}`)
	}}
	go srv.Serve(ln) //nolint:errcheck // ends with the listener
	defer ln.Close()
	f := newFixtureWith(b, func(f *fixture) {
		f.noProxy = true // no Serve: GOMAXPROCS stays what -cpu set
		f.handler.Runner.Transport = &runner.Transport{
			DialContext: func(context.Context, string, string) (net.Conn, error) { return ln.Dial() },
		}
	})
	var req fasthttp.Request
	req.Header.SetMethod(http.MethodGet)
	req.SetRequestURI(PathProxy)
	req.Header.SetHost("127.0.0.1:8765")
	req.Header.Set(HeaderSessionToken, f.handler.Token)
	req.Header.Set(HeaderTargetURL, f.upstream.URL+"/v1/balance")
	req.Header.Set("X-AS-Inject-Bearer", "TOKEN_A")
	req.Header.Set("Accept", "application/json")
	// A connection of its own, as the server gives every request: the
	// handler bounds the answer with the connection's write deadline.
	client, conn := net.Pipe()
	defer client.Close()
	defer conn.Close()
	var ctx fasthttp.RequestCtx
	ctx.Init2(conn, nil, false)
	req.CopyTo(&ctx.Request)
	b.ReportAllocs()
	start := cpuTime(b)
	for b.Loop() {
		ctx.Response.Reset()
		f.handler.ServeFastHTTP(&ctx)
		if ctx.Response.StatusCode() != http.StatusOK {
			b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
		}
	}
	if err := f.handler.Wait(); err != nil { // the audit rows are part of the cost
		b.Fatal(err)
	}
	reportCPU(b, start)
}
