package policies

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/The-17/agentsecrets/wasm"
)

func benchCall(b *testing.B, specs []Spec, e *Engine) {
	call := newCall(b, "https://api.example.com/v1", map[string]string{"API_KEY": testSecret})
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		call.Reset()
		clear(call.Req.Header)
		if err := e.Run(ctx, specs, call); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBearerPolicy is the per-policy overhead of a built-in on a
// pooled instance (compare with BenchmarkBearerPlainGo).
func BenchmarkBearerPolicy(b *testing.B) {
	e := newTestEngine(b, Config{})
	benchCall(b, []Spec{{Name: "bearer", Params: map[string]string{"key": "API_KEY"}}}, e)
}

// BenchmarkBearerPlainGo is the same injection written directly in Go.
func BenchmarkBearerPlainGo(b *testing.B) {
	h := http.Header{}
	s := fakeSecrets{values: map[string]string{"API_KEY": testSecret}}
	b.ReportAllocs()
	for b.Loop() {
		clear(h)
		v, _ := s.Open("API_KEY")
		h.Set("Authorization", "Bearer "+string(v))
		s.opened = s.opened[:0]
	}
}

// BenchmarkBearerSandboxed runs the bearer module as a custom policy: with
// termination checks and a per-call deadline.
func BenchmarkBearerSandboxed(b *testing.B) {
	code, _ := wasm.Builtin("bearer")
	path := filepath.Join(b.TempDir(), "bearer-copy.wasm")
	if err := os.WriteFile(path, code, 0o600); err != nil {
		b.Fatal(err)
	}
	e := newTestEngine(b, Config{})
	benchCall(b, []Spec{{Name: path, Params: map[string]string{"key": "API_KEY"}}}, e)
}

// BenchmarkChainOfFour is bearer + header + query + body-field in one call.
func BenchmarkChainOfFour(b *testing.B) {
	e := newTestEngine(b, Config{})
	p := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	benchCall(b, []Spec{
		{Name: "bearer", Params: p("key", "API_KEY")},
		{Name: "header", Params: p("name", "X-Api-Key", "key", "API_KEY")},
		{Name: "query", Params: p("param", "api_key", "key", "API_KEY")},
		{Name: "body-field", Params: p("path", "a.b", "key", "API_KEY")},
	}, e)
}

// BenchmarkCompileBuiltin is compiling the bearer module in a new runtime.
func BenchmarkCompileBuiltin(b *testing.B) {
	code, _ := wasm.Builtin("bearer")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		r := wazero.NewRuntime(ctx)
		b.StartTimer()
		if _, err := r.CompileModule(ctx, code); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		r.Close(ctx)
		b.StartTimer()
	}
}

// BenchmarkInstantiateBuiltin is creating (and closing) one instance of a
// compiled built-in.
func BenchmarkInstantiateBuiltin(b *testing.B) {
	e := newTestEngine(b, Config{})
	p, err := e.load(context.Background(), "bearer")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		in, err := p.instantiate(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		in.discard()
	}
}
