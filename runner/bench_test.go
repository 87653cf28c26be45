package runner

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/The-17/agentsecrets/hostfns"
	"github.com/The-17/agentsecrets/policies"
	"github.com/The-17/agentsecrets/runner/audit"
)

// benchBody is a typical small JSON answer.
const benchBody = `{"object":"balance","available":[{"amount":2000,"currency":"usd"}],"livemode":false}`

func benchServer(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, benchBody)
	}))
	b.Cleanup(srv.Close)
	return srv
}

func benchDo(b *testing.B, specs []policies.Spec, parallel, redactAll bool) {
	srv := benchServer(b)
	v := newFakeVault([]string{"127.0.0.1"}, map[string]string{"API_KEY": testSecret, "OTHER_KEY": otherSecret})
	r := New(testEngine(b), v, &discardSink{})
	r.RedactAll = redactAll
	b.Cleanup(r.Transport.(*Transport).CloseIdleConnections)
	call := &Call{URL: srv.URL + "/v1/balance", Policies: specs, Source: "call"}
	one := func() {
		res, err := r.Do(context.Background(), call)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, res.Body); err != nil {
			b.Fatal(err)
		}
		res.Body.Close()
	}
	one() // open the connection outside the timing
	b.ReportAllocs()
	b.ResetTimer()
	if parallel {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				one()
			}
		})
		return
	}
	for b.Loop() {
		one()
	}
}

// BenchmarkDoBearer is a whole Runner.Do round trip over loopback with a
// bearer injection: guard, policy, transport, redaction, audit. Compare
// with BenchmarkPlainHTTPBearer; the difference is the pipeline.
func BenchmarkDoBearer(b *testing.B) {
	benchDo(b, []policies.Spec{spec("bearer", "key", "API_KEY")}, false, false)
}

// BenchmarkDoBearerRedactAll is BenchmarkDoBearer as a long-running front
// end runs it: the whole environment in the redaction set, compiled once.
func BenchmarkDoBearerRedactAll(b *testing.B) {
	benchDo(b, []policies.Spec{spec("bearer", "key", "API_KEY")}, false, true)
}

// BenchmarkDoChainOfFour injects in four places at once.
func BenchmarkDoChainOfFour(b *testing.B) {
	benchDo(b, []policies.Spec{
		spec("bearer", "key", "API_KEY"),
		spec("header", "name", "X-Api-Key", "key", "OTHER_KEY"),
		spec("query", "param", "api_key", "key", "API_KEY"),
		spec("body-field", "path", "client_secret", "key", "OTHER_KEY"),
	}, false, false)
}

// BenchmarkDoBearerParallel is BenchmarkDoBearerRedactAll from GOMAXPROCS
// goroutines, as the proxy serves.
func BenchmarkDoBearerParallel(b *testing.B) {
	benchDo(b, []policies.Spec{spec("bearer", "key", "API_KEY")}, true, true)
}

// BenchmarkPlainHTTPBearer is the same request with plain net/http on the
// same transport: the header set by hand, the body read unscrubbed.
func BenchmarkPlainHTTPBearer(b *testing.B) {
	srv := benchServer(b)
	client := &http.Client{Transport: NewTransport()}
	b.Cleanup(client.CloseIdleConnections)
	ctx := withPrivateOK(context.Background(), true)
	one := func() {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/v1/balance", nil)
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+testSecret)
		req.Header.Set("Accept-Encoding", "identity")
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	one()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		one()
	}
}

type discardSink struct{}

func (discardSink) Record(context.Context, audit.Event) error { return nil }

// BenchmarkPolicyColdStart is the policy part of a one-shot `call`
// process: a new engine (runtimes, host module, WASI), compiling the
// bearer built-in, instantiating it and running it once, then closing.
func BenchmarkPolicyColdStart(b *testing.B) {
	ctx := context.Background()
	cacheDir := b.TempDir()
	v := newFakeVault([]string{"127.0.0.1"}, map[string]string{"API_KEY": testSecret})
	specs := []policies.Spec{spec("bearer", "key", "API_KEY")}
	u, _ := url.Parse("https://api.example.com/v1/balance")
	b.ReportAllocs()
	for b.Loop() {
		e, err := policies.NewEngine(ctx, policies.Config{CacheDir: cacheDir})
		if err != nil {
			b.Fatal(err)
		}
		call := &hostfns.Call{Req: &hostfns.Request{Method: "GET", URL: u, Header: http.Header{}},
			Secrets: &gate{vault: v, host: "api.example.com"}}
		if err := e.Run(ctx, specs, call); err != nil {
			b.Fatal(err)
		}
		e.Close(ctx)
	}
}
