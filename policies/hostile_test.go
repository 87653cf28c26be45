package policies

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/The-17/agentsecrets/hostfns"
)

func guest(name string) string { return "../testdata/guests/" + name + ".wasm" }

// TestHostileGuests runs each hostile guest and checks the error it gets,
// then that the same Engine still serves the same guest slot and a
// built-in.
func TestHostileGuests(t *testing.T) {
	e := newTestEngine(t, Config{Timeout: 200 * time.Millisecond, MemoryLimitPages: 64})
	ctx := context.Background()
	tests := []struct {
		guest   string
		wantErr error
		wantMsg string
	}{
		{"loop", ErrPolicyFailed, "timed out"},
		{"membomb", ErrPolicyFailed, "trapped"},
		{"recurse", ErrPolicyFailed, "trapped"},
		{"trap", ErrPolicyFailed, "trapped: wasm error: unreachable"},
		{"bigmem", nil, "over limit of 64 pages"},
		{"badimport", nil, `import "fetch" from module "env" is not allowed`},
		{"badsig", nil, "import agentsecrets.secret_open has signature (i32) -> i32, want (i32, i32) -> i32"},
		{"noexport", nil, `does not export "on_request"`},
		{"deny", ErrDenied, `denied the request: not on weekends`},
	}
	for _, tt := range tests {
		t.Run(tt.guest, func(t *testing.T) {
			for round := 0; round < 2; round++ {
				call := newCall(t, "https://api.example.com/", map[string]string{"API_KEY": testSecret})
				err := e.Run(ctx, []Spec{{Name: guest(tt.guest), Params: map[string]string{"key": "API_KEY"}}}, call)
				if err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
					t.Fatalf("round %d: err = %v, want it to contain %q", round, err, tt.wantMsg)
				}
				if !strings.Contains(err.Error(), guest(tt.guest)) {
					t.Errorf("error does not name the policy: %v", err)
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Errorf("err = %v, want errors.Is %v", err, tt.wantErr)
				}
				assertEngineServes(t, e)
			}
		})
	}
}

func assertEngineServes(t *testing.T, e *Engine) {
	t.Helper()
	call := newCall(t, "https://api.example.com/", map[string]string{"API_KEY": testSecret})
	if err := e.Run(context.Background(), []Spec{spec(t, "bearer", "API_KEY")}, call); err != nil {
		t.Fatalf("engine no longer serves after a hostile guest: %v", err)
	}
	if call.Req.Header.Get("Authorization") != "Bearer "+testSecret {
		t.Fatal("bearer did not place the secret after a hostile guest")
	}
}

// TestHostileGuestsKeepInstanceHealthy runs the guests whose host calls
// must all be refused: they deny (naming the case) if the host accepts one.
// The second round reuses the pooled instance, so stale handles are tried.
func TestHostileGuestsKeepInstanceHealthy(t *testing.T) {
	e := newTestEngine(t, Config{})
	for _, g := range []string{"badptr", "handles"} {
		t.Run(g, func(t *testing.T) {
			for round := 0; round < 3; round++ {
				// badptr opens the secret named "key" itself.
				call := newCall(t, "https://api.example.com/", map[string]string{"API_KEY": testSecret, "key": testSecret})
				call.Req.Header.Set("X-Test", "1")
				if err := e.Run(context.Background(), []Spec{{Name: guest(g), Params: map[string]string{"key": "API_KEY"}}}, call); err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
			}
			p, err := e.load(context.Background(), guest(g))
			if err != nil {
				t.Fatal(err)
			}
			if len(p.idle) != 1 {
				t.Errorf("pool holds %d instances after sequential calls, want the one reused", len(p.idle))
			}
		})
	}
}

func TestStaleHandleFromAnotherCallOfTheChain(t *testing.T) {
	// Two copies of the handles guest in one chain share one Call; each
	// invocation draws a new generation, so the first one's handle is
	// stale in the second (the guest's global is per instance, so the
	// pool is forced to one instance by running the same policy twice).
	e := newTestEngine(t, Config{MaxIdle: 1})
	s := Spec{Name: guest("handles"), Params: map[string]string{"key": "API_KEY"}}
	call := newCall(t, "https://api.example.com/", map[string]string{"API_KEY": testSecret})
	if err := e.Run(context.Background(), []Spec{s, s, s}, call); err != nil {
		t.Fatal(err)
	}
}

func TestDeadlineFromCaller(t *testing.T) {
	e := newTestEngine(t, Config{Timeout: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	call := newCall(t, "https://api.example.com/", nil)
	err := e.Run(ctx, []Spec{{Name: guest("loop")}}, call)
	if !errors.Is(err, ErrPolicyFailed) {
		t.Fatalf("err = %v, want a failed policy", err)
	}
	assertEngineServes(t, e)
}

func TestUnknownPolicy(t *testing.T) {
	e := newTestEngine(t, Config{})
	call := newCall(t, "https://api.example.com/", nil)
	err := e.Run(context.Background(), []Spec{{Name: "nope"}}, call)
	if !errors.Is(err, ErrPolicyNotFound) || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("err = %v", err)
	}
	// A name that is not a policy name, or a file that is not there, is
	// not repeated (a value may be typed where it goes): its length.
	const typed = "SK_LIVE_4EC39HQLYJWDARJTT1ZDP7DC"
	err = e.Run(context.Background(), []Spec{{Name: typed}}, call)
	if !errors.Is(err, ErrPolicyNotFound) || !strings.Contains(err.Error(), "policy not found: invalid policy name (32 characters): it holds characters other than") ||
		strings.Contains(err.Error(), typed) {
		t.Errorf("err = %v", err)
	}
	err = e.Run(context.Background(), []Spec{{Name: "./missing.wasm"}}, call)
	if err == nil || !strings.Contains(err.Error(), "policy file (14 characters): no such file") || strings.Contains(err.Error(), "missing") {
		t.Errorf("err = %v", err)
	}
	if _, err := os.Stat("missing.wasm"); err == nil {
		t.Fatal("test precondition: missing.wasm exists")
	}
}

// TestPolicyFileMustBeARegularFile: a device or a directory named as a
// policy is refused before anything is read (/dev/zero would be read
// forever).
func TestPolicyFileMustBeARegularFile(t *testing.T) {
	e := newTestEngine(t, Config{})
	call := newCall(t, "https://api.example.com/", nil)
	for _, path := range []string{"/dev/zero", t.TempDir() + "/"} {
		err := e.Run(context.Background(), []Spec{{Name: path}}, call)
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("%s: err = %v", path, err)
		}
	}
}

// TestNonFunctionImportRefusedAtLoad: the allowed set holds functions
// only, so a module importing a global (or a table) is refused by Load and
// Inspect, like any other import outside the set, instead of passing
// validation and failing on every call.
func TestNonFunctionImportRefusedAtLoad(t *testing.T) {
	e := newTestEngine(t, Config{})
	const want = `import "secret" from module "agentsecrets" is a global; only functions may be imported`
	if err := e.Load(context.Background(), guest("badglobal")); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Load: err = %v, want it to contain %q", err, want)
	}
	info, err := Inspect(readGuest(t, "badglobal"))
	if err != nil || info.Valid || !strings.Contains(info.Problem, want) {
		t.Errorf("Inspect = %+v, %v; want invalid with %q", info, err, want)
	}
}

// FuzzCheckImportKinds: the import-section reader never panics nor reads
// out of bounds, whatever the module bytes.
func FuzzCheckImportKinds(f *testing.F) {
	for _, name := range []string{"badglobal", "badimport"} {
		if code, err := os.ReadFile(guest(name)); err == nil {
			f.Add(code)
		}
	}
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x02\x05\x01\x00\x00\x03"))
	f.Fuzz(func(t *testing.T, code []byte) {
		_ = checkImportKinds(code)
	})
}

// TestNoHostCallsDuringInstantiation: a module's _initialize runs when a
// pooled instance is created, inside a call but before its on_request
// has begun. There, host functions must find no call: otherwise a policy
// reads the previous policy's params and uses its handles (their
// generation is still current), outside any invocation and under the
// instantiation timeout rather than the call's.
func TestNoHostCallsDuringInstantiation(t *testing.T) {
	e := newTestEngine(t, Config{})
	call := newCall(t, "https://api.example.com/", map[string]string{"API_KEY": testSecret})
	specs := []Spec{spec(t, "bearer", "API_KEY"), {Name: guest("initcall")}}
	if err := e.Run(context.Background(), specs, call); err != nil {
		t.Fatal(err)
	}
	if v := call.Req.Header.Get("X-Init"); v != "" {
		t.Error("a secret was spliced in during instantiation")
	}
}

// TestGuestCannotGrowTheRequestUntilItsDeadline: guest memory is capped,
// but each header_set copies up to 64 KiB into the host. A guest that sets
// new headers in a loop must be stopped by a per-call limit (ErrLimit,
// which it returns), not by its deadline with the request grown to
// hundreds of megabytes.
func TestGuestCannotGrowTheRequestUntilItsDeadline(t *testing.T) {
	// The deadline is long enough for a loaded machine to reach the limit
	// (256 writes of 64 KiB); without the limit the guest would run into it.
	e := newTestEngine(t, Config{Timeout: 3 * time.Second})
	call := newCall(t, "https://api.example.com/", nil)
	err := e.Run(context.Background(), []Spec{{Name: guest("headerbomb")}}, call)
	if !errors.Is(err, ErrDenied) || !strings.Contains(err.Error(), "on_request returned -7") {
		t.Errorf("err = %v, want a denial after ErrLimit (-7)", err)
	}
	if n := len(call.Req.Header); n > hostfns.MaxWrites {
		t.Errorf("the guest set %d headers, want at most %d", n, hostfns.MaxWrites)
	}
}
