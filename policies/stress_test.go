package policies

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// stressSecret returns a secret value unique to (g, i), of fixed length.
func stressSecret(g, i int) string {
	var r [4]byte
	_, _ = rand.Read(r[:])
	return fmt.Sprintf("Zq%02dx%04dK%s", g, i, hex.EncodeToString(r[:]))
}

// secretForms returns the forms of a secret a leak into guest memory could
// take: raw, base64 (also of a Basic "user:secret" pair) and hex.
func secretForms(s string) []string {
	return []string{
		s,
		base64.StdEncoding.EncodeToString([]byte(s)),
		base64.RawURLEncoding.EncodeToString([]byte(s)),
		base64.StdEncoding.EncodeToString([]byte("user:" + s)),
		base64.StdEncoding.EncodeToString([]byte(s + ":")),
		hex.EncodeToString([]byte(s)),
		strings.ToUpper(hex.EncodeToString([]byte(s))),
	}
}

// leakIndex finds any of many fixed strings in a byte slice by sliding a
// window of each length over it.
type leakIndex map[int]map[string]string // length -> form -> secret

func (x leakIndex) add(secret string) {
	for _, f := range secretForms(secret) {
		if x[len(f)] == nil {
			x[len(f)] = map[string]string{}
		}
		x[len(f)][f] = secret
	}
}

func (x leakIndex) find(mem []byte) (form, secret string, ok bool) {
	for n, forms := range x {
		for i := 0; i+n <= len(mem); i++ {
			if s, ok := forms[string(mem[i:i+n])]; ok {
				return string(mem[i : i+n]), s, true
			}
		}
	}
	return "", "", false
}

// pooled returns every loaded policy of e with its idle instances.
func pooled(e *Engine) map[string][]*instance {
	e.mu.RLock()
	ps := make([]*policy, 0, len(e.byName)+len(e.byHash))
	for _, p := range e.byName {
		ps = append(ps, p)
	}
	for _, p := range e.byHash {
		ps = append(ps, p)
	}
	e.mu.RUnlock()
	out := map[string][]*instance{}
	for _, p := range ps {
		p.mu.Lock()
		out[p.name] = append([]*instance(nil), p.idle...)
		p.mu.Unlock()
	}
	return out
}

// assertPoolsHealthy checks that no pool holds more than maxIdle instances
// nor one that is closed (a trapped or timed-out instance handed back).
func assertPoolsHealthy(t *testing.T, e *Engine, maxIdle int) {
	t.Helper()
	for name, idle := range pooled(e) {
		if len(idle) > maxIdle {
			t.Errorf("policy %s: %d idle instances, MaxIdle is %d", name, len(idle), maxIdle)
		}
		for _, in := range idle {
			if in.mod.IsClosed() {
				t.Errorf("policy %s: a closed instance is pooled", name)
			}
		}
	}
}

// assertNoSecretInGuestMemory scans every pooled instance's memory.
func assertNoSecretInGuestMemory(t *testing.T, e *Engine, secrets []string) {
	t.Helper()
	x := leakIndex{}
	for _, s := range secrets {
		x.add(s)
	}
	scanned := 0
	for name, idle := range pooled(e) {
		for _, in := range idle {
			mem := in.mod.Memory()
			if mem == nil {
				continue
			}
			b, ok := mem.Read(0, mem.Size())
			if !ok {
				t.Fatalf("policy %s: cannot read instance memory", name)
			}
			scanned++
			if form, s, ok := x.find(b); ok {
				t.Errorf("policy %s: guest memory holds %q (a form of secret %q)", name, form, s)
			}
		}
	}
	if scanned == 0 {
		t.Fatal("no pooled instance to scan")
	}
}

func waitGoroutines(t *testing.T, limit int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > limit {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines remain, want at most %d:\n%s", runtime.NumGoroutine(), limit, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStressMixedGuests runs 64 goroutines of chains of built-in and
// custom policies through one Engine, mixing well-behaved calls with
// hostile ones (trap, loop, memory bomb, bad pointers, stale handles).
// Every well-behaved call must get its own secret and only it; every
// hostile call its documented error; a trapped or timed-out instance is
// never reused (the counter guest denies if it is); afterwards the pools
// are bounded and healthy, no guest memory holds a secret, the engine
// serves and no goroutine is left behind.
func TestStressMixedGuests(t *testing.T) {
	const (
		goroutines = 64
		maxIdle    = 4
		// Generous, so that well-behaved guests never time out on two
		// loaded cores; the loops are stopped by the caller's deadline.
		timeout     = 5 * time.Second
		callerLimit = 100 * time.Millisecond
		// The loops share two cores with 63 busy goroutines under -race;
		// TestStressDeadlines measures the stop time more closely.
	)
	iters := 12
	if testing.Short() {
		iters = 4
	}
	before := runtime.NumGoroutine()
	e := newTestEngine(t, Config{Timeout: timeout, MemoryLimitPages: 64, MaxIdle: maxIdle})
	ctx := context.Background()
	counter := guest("counter")
	// Compile everything first: a first load waits for the others' compiles.
	for _, name := range []string{"bearer", "query", "basic", "header", "body-field", counter, guest("handles"), guest("badptr"), guest("membomb"), guest("trap"), guest("deny")} {
		if err := e.Load(ctx, name); err != nil {
			t.Fatal(err)
		}
	}

	var (
		mu      sync.Mutex
		secrets []string
		good    atomic.Int64
		hostile atomic.Int64
	)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range iters {
				val := stressSecret(g, i)
				mu.Lock()
				secrets = append(secrets, val)
				mu.Unlock()
				call := newCall(t, "https://api.example.com/v1?x=1", map[string]string{"K": val, "LOGIN": "user:" + val, "key": val})
				call.Req.Header.Set("X-Test", "1")
				var (
					specs   []Spec
					wantErr error
					wantMsg string
					check   func() error
				)
				// Every other goroutine loops once (a loop costs CPU time).
				kind := (g + i) % 8
				if g%2 == 0 && i == g%iters {
					kind = -1
				}
				switch kind {
				case -1:
					specs = []Spec{spec(t, "bearer", "K"), {Name: counter, Params: map[string]string{"key": "K", "loop": ""}}}
					// "timed out", or "was not started" when the caller's
					// deadline passed first (a loaded start-up).
					wantErr, wantMsg = context.DeadlineExceeded, ""
				case 0:
					specs = []Spec{spec(t, "bearer", "K"), {Name: counter, Params: map[string]string{"key": "K", "trap": ""}}}
					wantErr, wantMsg = ErrPolicyFailed, "trapped: wasm error: unreachable"
				case 1:
					specs = []Spec{spec(t, "query", "k=K"), {Name: guest("membomb")}}
					// Trapped at the memory limit; on two loaded cores the
					// growing may also outlast the deadline.
					wantErr, wantMsg = ErrPolicyFailed, ""
				case 2:
					specs = []Spec{{Name: guest("trap")}}
					wantErr, wantMsg = ErrPolicyFailed, "trapped: wasm error: unreachable"
				case 3, 4:
					specs = []Spec{
						spec(t, "bearer", "K"), spec(t, "query", "k=K"),
						{Name: guest("handles"), Params: map[string]string{"key": "K"}},
						{Name: counter, Params: map[string]string{"key": "K"}},
					}
					check = func() error {
						r := call.Req
						if r.Header.Get("Authorization") != "Bearer "+val || r.URL.Query().Get("k") != val ||
							r.Header.Get("X-Stolen") != val || r.Header.Get("X-Key") != val {
							return fmt.Errorf("headers %v, query %q: not (only) this call's secret %q", r.Header, r.URL.RawQuery, val)
						}
						return nil
					}
				case 5, 6:
					specs = []Spec{
						{Name: counter, Params: map[string]string{"key": "K"}},
						spec(t, "basic", "LOGIN"), spec(t, "header", "X-Api-Key=K"),
						// badptr wants ErrOutOfRange from every getter: before
						// the body holds a secret (then it is ErrDenied).
						{Name: guest("badptr"), Params: map[string]string{"key": "K"}},
						spec(t, "body-field", "auth.token=K"),
						{Name: counter, Params: map[string]string{"key": "K"}},
					}
					check = func() error {
						r := call.Req
						basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("user:"+val))
						if r.Header.Get("Authorization") != basic || r.Header.Get("X-Api-Key") != val ||
							r.Header.Get("X-Key") != val || string(r.Body) != `{"auth":{"token":"`+val+`"}}` {
							return fmt.Errorf("headers %v, body %s: not (only) this call's secret %q", r.Header, r.Body, val)
						}
						return nil
					}
				case 7:
					specs = []Spec{spec(t, "bearer", "K"), {Name: guest("deny")}}
					wantErr, wantMsg = ErrDenied, "not on weekends"
				}
				cctx, cancel := context.WithTimeout(ctx, callerLimit)
				if kind != -1 {
					cctx, cancel = context.WithCancel(ctx)
				}
				t0 := time.Now()
				err := e.Run(cctx, specs, call)
				cancel()
				if kind == -1 && time.Since(t0) > callerLimit+5*time.Second {
					t.Errorf("goroutine %d: a loop was stopped after %v, caller's deadline %v", g, time.Since(t0), callerLimit)
				}
				if check != nil {
					good.Add(1)
					if err != nil {
						t.Errorf("goroutine %d call %d: after %v: %v", g, i, time.Since(t0), err)
					} else if err := check(); err != nil {
						t.Errorf("goroutine %d call %d: %v", g, i, err)
					} else if n, err := strconv.Atoi(call.Req.Header.Get("X-Count")); err != nil || n < 1 {
						t.Errorf("goroutine %d call %d: X-Count %q", g, i, call.Req.Header.Get("X-Count"))
					}
					continue
				}
				hostile.Add(1)
				if !errors.Is(err, wantErr) || !strings.Contains(err.Error(), wantMsg) || wantErr != ErrDenied && !errors.Is(err, ErrPolicyFailed) {
					t.Errorf("goroutine %d call %d (kind %d): after %v: err = %v, want %v containing %q", g, i, kind, time.Since(t0), err, wantErr, wantMsg)
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d well-behaved and %d hostile calls", good.Load(), hostile.Load())

	assertPoolsHealthy(t, e, maxIdle)
	assertNoSecretInGuestMemory(t, e, secrets)
	assertEngineServes(t, e)
	// The engine's own goroutines (none expected) plus slack for the
	// runtime's; the 64 workers and every per-call deadline watcher are
	// gone.
	waitGoroutines(t, before+4)
}

// TestCounterRestartsAfterFailure: with a single pooled instance, the
// invocation count carries over between successful calls and restarts
// after a trap or a timeout (the failed instance was discarded, not reset
// and reused).
func TestCounterRestartsAfterFailure(t *testing.T) {
	e := newTestEngine(t, Config{Timeout: 50 * time.Millisecond, MaxIdle: 1})
	count := func(extra string) (string, error) {
		params := map[string]string{"key": "K"}
		if extra != "" {
			params[extra] = ""
		}
		call := newCall(t, "https://api.example.com/", map[string]string{"K": testSecret})
		err := e.Run(context.Background(), []Spec{{Name: guest("counter"), Params: params}}, call)
		return call.Req.Header.Get("X-Count"), err
	}
	for _, fail := range []string{"trap", "loop"} {
		for want := 1; want <= 3; want++ {
			if n, err := count(""); err != nil || n != strconv.Itoa(want) {
				t.Fatalf("before %s: X-Count %q, %v; want %d", fail, n, err, want)
			}
		}
		if _, err := count(fail); !errors.Is(err, ErrPolicyFailed) {
			t.Fatalf("%s: err = %v", fail, err)
		}
		if n, err := count(""); err != nil || n != "1" {
			t.Fatalf("after %s: X-Count %q, %v; want 1 (a fresh instance)", fail, n, err)
		}
		// Start the next round from a fresh instance too.
		_, _ = count("trap")
	}
}

// TestStressDeadlines: 64 looping custom guests at once are each stopped
// within their timeout plus a margin, and built-ins keep completing while
// they loop.
func TestStressDeadlines(t *testing.T) {
	if testing.Short() {
		t.Skip("CPU-bound: 64 guests looping until their deadline")
	}
	const (
		loopers = 64
		timeout = 1 * time.Second
		margin  = 2 * time.Second // -race on two shared cores
	)
	before := runtime.NumGoroutine()
	e := newTestEngine(t, Config{Timeout: timeout})
	ctx := context.Background()
	if err := e.Load(ctx, guest("loop")); err != nil {
		t.Fatal(err)
	}
	assertEngineServes(t, e) // compile bearer before the clock starts

	start := time.Now()
	var wg sync.WaitGroup
	var looping atomic.Int64
	looping.Store(loopers)
	for g := range loopers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer looping.Add(-1)
			call := newCall(t, "https://api.example.com/", nil)
			t0 := time.Now()
			err := e.Run(ctx, []Spec{{Name: guest("loop")}}, call)
			took := time.Since(t0)
			if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timed out") {
				t.Errorf("looper %d: err = %v, want a timeout", g, err)
			}
			if took > timeout+margin {
				t.Errorf("looper %d stopped after %v, timeout %v", g, took, timeout)
			}
		}()
	}
	// Built-ins complete while the loops run.
	var builtins, duringLoops int
	var slowest time.Duration
	for time.Since(start) < timeout/2 || looping.Load() > 0 {
		val := stressSecret(99, builtins)
		call := newCall(t, "https://api.example.com/", map[string]string{"K": val})
		t0 := time.Now()
		err := e.Run(ctx, []Spec{spec(t, "bearer", "K"), spec(t, "header", "X-Api-Key=K")}, call)
		if d := time.Since(t0); d > slowest {
			slowest = d
		}
		if err != nil || call.Req.Header.Get("X-Api-Key") != val {
			t.Fatalf("built-in during loops: %v", err)
		}
		builtins++
		if looping.Load() == loopers {
			duringLoops++
		}
		if time.Since(start) > timeout+2*margin {
			break
		}
	}
	wg.Wait()
	t.Logf("%d built-in chains, %d while all %d guests looped; slowest %v; all loops stopped after %v",
		builtins, duringLoops, loopers, slowest, time.Since(start))
	if duringLoops < 5 {
		t.Errorf("only %d built-in chains completed while the guests looped", duringLoops)
	}
	assertPoolsHealthy(t, e, 2*runtime.GOMAXPROCS(0))
	assertEngineServes(t, e)
	waitGoroutines(t, before+4)
}

// TestStressNearDeadline: custom guests that finish right around their
// deadline. A call that succeeded hands its instance back; if the deadline
// then closes that instance, the next call on it fails with a spurious
// timeout. Every short call must succeed and no closed instance may be
// pooled.
func TestStressNearDeadline(t *testing.T) {
	const timeout = 3 * time.Millisecond
	e := newTestEngine(t, Config{Timeout: time.Minute, MaxIdle: 8})
	ctx := context.Background()
	counter := guest("counter")
	run := func(e *Engine, spin int) error {
		call := newCall(t, "https://api.example.com/", map[string]string{"K": testSecret})
		params := map[string]string{"key": "K"}
		if spin > 0 {
			params["spin"] = strconv.Itoa(spin)
		}
		return e.Run(ctx, []Spec{{Name: counter, Params: params}}, call)
	}
	// Calibrate: iterations per timeout.
	const probe = 200000
	t0 := time.Now()
	if err := run(e, probe); err != nil {
		t.Fatal(err)
	}
	perTimeout := int(float64(probe) * float64(timeout) / float64(time.Since(t0)))
	if perTimeout < 10 {
		t.Skipf("guest too slow to calibrate (%v for %d iterations)", time.Since(t0), probe)
	}

	e = newTestEngine(t, Config{Timeout: timeout, MaxIdle: 8})
	dur := 4 * time.Second
	if testing.Short() {
		dur = time.Second
	}
	stop := time.Now().Add(dur)
	var wg sync.WaitGroup
	var calls, timedOut, shortFailed atomic.Int64
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(stop); i++ {
				calls.Add(1)
				if i%2 == 1 {
					// A short call: must succeed whatever instance it gets.
					t0 := time.Now()
					if err := run(e, 0); err != nil {
						shortFailed.Add(1)
						// Slow under load is a genuine timeout; failing sooner
						// than the timeout means the instance was closed
						// before the call began.
						if took := time.Since(t0); took < timeout {
							t.Errorf("goroutine %d: a short call failed after %v, before its timeout: %v", g, took, err)
						}
					}
					continue
				}
				spin := perTimeout/2 + (i*7919+g*104729)%perTimeout // 0.5x to 1.5x the timeout
				err := run(e, spin)
				if err != nil {
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("goroutine %d: %v", g, err)
						return
					}
					timedOut.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d calls, %d timed out, %d short calls timed out under load", calls.Load(), timedOut.Load(), shortFailed.Load())
	assertPoolsHealthy(t, e, 8)
	if timedOut.Load() == 0 || timedOut.Load() == calls.Load()/2 {
		t.Logf("calibration missed the deadline window (%d timeouts)", timedOut.Load())
	}
}
