package openclaw

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/The-17/agentsecrets/vault"
	"github.com/The-17/agentsecrets/vault/keychain"
)

// newStore returns a vault over backend b with project "app" initialized
// (active, development) and project "other" created.
func newStore(t *testing.T, home string, b keychain.Backend, pass func() ([]byte, error)) (*vault.Store, vault.Context) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "app")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	s, err := vault.Open(vault.Options{Home: home, Cwd: dir, Backend: b, Passphrase: pass,
		Getenv: func(k string) string { return map[string]string{"AGENTSECRETS_BACKEND": "file"}[k] }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, err := s.Init(vault.InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateProject("other", ""); err != nil {
		t.Fatal(err)
	}
	return s, ctx
}

func mustSet(t *testing.T, s *vault.Store, ctx vault.Context, key, value string) {
	t.Helper()
	if err := s.Set(ctx, key, []byte(value)); err != nil {
		t.Fatal(err)
	}
}

// countingVault counts the reads that reach the backend.
type countingVault struct {
	Vault
	mu sync.Mutex
	n  int
}

func (c *countingVault) Backend() (keychain.Backend, error) {
	b, err := c.Vault.Backend()
	if err != nil {
		return nil, err
	}
	return countingBackend{b, c}, nil
}

type countingBackend struct {
	keychain.Backend
	c *countingVault
}

func (b countingBackend) Get(ref keychain.Ref) ([]byte, error) {
	b.c.mu.Lock()
	b.c.n++
	b.c.mu.Unlock()
	return b.Backend.Get(ref)
}

func TestResolve(t *testing.T) {
	s, ctx := newStore(t, t.TempDir(), keychain.NewMemory(), nil)
	mustSet(t, s, ctx, "OPENAI_KEY", "sk-dev-1")
	mustSet(t, s, ctx.WithEnvironment(vault.Production), "OPENAI_KEY", "sk-prod-2")
	mustSet(t, s, ctx.WithProject("other").WithEnvironment(vault.Staging), "DB_URL", `postgres://u:p"w@db/x`)
	mustSet(t, s, ctx, "BINARY_KEY", "\xff\xfe\x00")

	var outcomes []Outcome
	var provider string
	r := &Resolver{Vault: s, Base: ctx, Audit: func(_ context.Context, p string, o []Outcome) error {
		provider, outcomes = p, o
		return nil
	}}
	ids := []string{"OPENAI_KEY", "production/OPENAI_KEY", "app/production/OPENAI_KEY", "other/staging/DB_URL",
		"OPENAI_KEY", "MISSING_KEY", "staging/OPENAI_KEY", "nope/development/OPENAI_KEY", "BINARY_KEY",
		"bad id", "prod/OPENAI_KEY", "a/b/c/d"}
	resp := r.Resolve(context.Background(), Request{ProtocolVersion: 1, Provider: "agentsecrets", IDs: ids})

	wantValues := map[string]string{
		"OPENAI_KEY": "sk-dev-1", "production/OPENAI_KEY": "sk-prod-2", "app/production/OPENAI_KEY": "sk-prod-2",
		"other/staging/DB_URL": `postgres://u:p"w@db/x`,
	}
	wantErrors := map[string]string{
		"MISSING_KEY": CodeNotFound, "staging/OPENAI_KEY": CodeNotFound, "nope/development/OPENAI_KEY": CodeNotFound,
		"BINARY_KEY": CodeInvalidValue, "bad id": CodeInvalidID, "prod/OPENAI_KEY": CodeInvalidID, "a/b/c/d": CodeInvalidID,
	}
	if len(resp.Values) != len(wantValues) || len(resp.Errors) != len(wantErrors) {
		t.Fatalf("%d values, %d errors; want %d, %d: %+v", len(resp.Values), len(resp.Errors), len(wantValues), len(wantErrors), resp.Errors)
	}
	for id, want := range wantValues {
		if got := string(resp.Values[id].Bytes()); got != want {
			t.Errorf("value of %q = %q, want %q", id, got, want)
		}
	}
	for id, code := range wantErrors {
		e := resp.Errors[id]
		if e.Code != code || e.Message == "" {
			t.Errorf("error of %q = %+v, want code %s", id, e, code)
		}
	}
	if m := resp.Errors["MISSING_KEY"].Message; !strings.Contains(m, `"MISSING_KEY"`) {
		t.Errorf("NOT_FOUND message %q does not name the key", m)
	}

	// Outcomes: names grouped by project, environment and code; no value.
	if provider != "agentsecrets" {
		t.Errorf("provider %q", provider)
	}
	got := fmt.Sprint(outcomes)
	want := "[{default app development [OPENAI_KEY] } {default app production [OPENAI_KEY OPENAI_KEY] } " +
		"{default other staging [DB_URL] } {default app development [MISSING_KEY] NOT_FOUND} " +
		"{default app staging [OPENAI_KEY] NOT_FOUND} {default nope development [OPENAI_KEY] NOT_FOUND} " +
		"{default app development [BINARY_KEY] INVALID_VALUE} {default   [" +
		// An id that does not parse is named by length and hash, never as
		// sent (it may be a value pasted where an id belongs).
		InvalidIDLabel("bad id") + " " + InvalidIDLabel("prod/OPENAI_KEY") + " " + InvalidIDLabel("a/b/c/d") + "] INVALID_ID}]"
	if got != want {
		t.Errorf("outcomes\n got %s\nwant %s", got, want)
	}
	for _, v := range wantValues {
		for _, e := range resp.Errors {
			if strings.Contains(e.Message, v) {
				t.Errorf("error message %q holds a value", e.Message)
			}
		}
	}
}

func TestResolveWithoutActiveProject(t *testing.T) {
	s, ctx := newStore(t, t.TempDir(), keychain.NewMemory(), nil)
	mustSet(t, s, ctx.WithEnvironment(vault.Staging), "API_KEY", "v-staging")
	r := &Resolver{Vault: s, Base: vault.Context{Workspace: ctx.Workspace},
		BaseErr: errors.New("vault: no project: none active")}
	resp := r.Resolve(context.Background(), Request{ProtocolVersion: 1, IDs: []string{"API_KEY", "staging/API_KEY", "app/staging/API_KEY"}})
	if string(resp.Values["app/staging/API_KEY"].Bytes()) != "v-staging" {
		t.Fatalf("full id not resolved: %+v", resp.Errors)
	}
	for _, id := range []string{"API_KEY", "staging/API_KEY"} {
		e := resp.Errors[id]
		if e.Code != CodeNoContext || !strings.Contains(e.Message, "none active") || !strings.Contains(e.Message, "PROJECT/ENV/KEY") {
			t.Errorf("%s: %+v", id, e)
		}
	}
}

func TestResolveAuditFailureWithholdsValues(t *testing.T) {
	s, ctx := newStore(t, t.TempDir(), keychain.NewMemory(), nil)
	mustSet(t, s, ctx, "API_KEY", "v1")
	r := &Resolver{Vault: s, Base: ctx, Audit: func(context.Context, string, []Outcome) error {
		return errors.New("audit: disk full")
	}}
	resp := r.Resolve(context.Background(), Request{ProtocolVersion: 1, IDs: []string{"API_KEY", "MISSING_KEY"}})
	if len(resp.Values) != 0 {
		t.Fatalf("values given out without audit")
	}
	if e := resp.Errors["API_KEY"]; e.Code != CodeAuditFailed || !strings.Contains(e.Message, "disk full") {
		t.Fatalf("API_KEY: %+v", e)
	}
	if e := resp.Errors["MISSING_KEY"]; e.Code != CodeNotFound {
		t.Fatalf("MISSING_KEY: %+v", e)
	}
}

// OpenClaw takes a value only if it is a string that JavaScript's trim()
// leaves non-empty; a blank value is EMPTY_VALUE here, with a message that
// says so, rather than a value OpenClaw then refuses. Values are never
// trimmed.
func TestResolveEmptyValue(t *testing.T) {
	tests := []struct {
		name, value string
		blank       bool
	}{
		{"empty", "", true},
		{"spaces", "   ", true},
		{"newline and tab", "\n\t\r\v\f", true},
		{"no-break space", "\u00a0", true},
		{"byte order mark", "\ufeff", true},
		{"line and paragraph separators", "\u2028\u2029", true},
		{"ideographic space", "\u3000", true},
		{"next line is not JavaScript whitespace", "\u0085", false},
		{"zero width space is not whitespace", "\u200b", false},
		{"padded value kept as is", " sk-1 \n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Resolver{Vault: stubVault{"A_KEY": tt.value}, Base: vault.Context{Workspace: "default", Project: "app", Environment: "development"}}
			resp := r.Resolve(context.Background(), Request{IDs: []string{"A_KEY"}})
			if !tt.blank {
				if got := string(resp.Values["A_KEY"].Bytes()); got != tt.value || len(resp.Errors) != 0 {
					t.Fatalf("value %q, errors %+v; want %q", got, resp.Errors, tt.value)
				}
				return
			}
			e := resp.Errors["A_KEY"]
			if e.Code != CodeEmptyValue || len(resp.Values) != 0 || !strings.Contains(e.Message, `"A_KEY"`) {
				t.Fatalf("%+v", resp)
			}
		})
	}
}

// A locked file vault is asked once; every id gets its error.
func TestResolveLockedVaultIsAskedOnce(t *testing.T) {
	home := t.TempDir()
	good := func() ([]byte, error) { return []byte("right passphrase"), nil }
	s, ctx := newStore(t, home, nil, good)
	for _, k := range []string{"A_KEY", "B_KEY", "C_KEY"} {
		mustSet(t, s, ctx, k, "value-"+k)
	}
	for _, tc := range []struct {
		name string
		pass func() ([]byte, error)
	}{
		{"no passphrase", func() ([]byte, error) { return nil, keychain.ErrNoPassphrase }},
		{"wrong passphrase", func() ([]byte, error) { return []byte("wrong"), nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			locked, err := vault.Open(vault.Options{Home: home, Cwd: t.TempDir(), Passphrase: tc.pass,
				Getenv: func(k string) string { return map[string]string{"AGENTSECRETS_BACKEND": "file"}[k] }})
			if err != nil {
				t.Fatal(err)
			}
			cv := &countingVault{Vault: locked}
			r := &Resolver{Vault: cv, Base: ctx}
			resp := r.Resolve(context.Background(), Request{IDs: []string{"A_KEY", "B_KEY", "C_KEY"}})
			if cv.n != 1 {
				t.Errorf("%d reads, want 1", cv.n)
			}
			for _, id := range []string{"A_KEY", "B_KEY", "C_KEY"} {
				if e := resp.Errors[id]; e.Code != CodeLocked {
					t.Errorf("%s: %+v", id, e)
				}
			}
		})
	}
}

func TestResolveAfterDeadline(t *testing.T) {
	s, ctx := newStore(t, t.TempDir(), keychain.NewMemory(), nil)
	mustSet(t, s, ctx, "A_KEY", "v")
	cv := &countingVault{Vault: s}
	cctx, cancel := context.WithCancel(context.Background())
	cancel()
	resp := (&Resolver{Vault: cv, Base: ctx}).Resolve(cctx, Request{IDs: []string{"A_KEY", "bad id"}})
	if e := resp.Errors["A_KEY"]; e.Code != CodeTimeout || cv.n != 0 {
		t.Fatalf("%+v after %d reads", e, cv.n)
	}
	if e := resp.Errors["bad id"]; e.Code != CodeInvalidID {
		t.Fatalf("%+v", e)
	}
}

// keychainNamed makes a memory backend take the OS keychain's parallel path;
// fail, when set, is its answer to every read.
type keychainNamed struct {
	keychain.Backend
	fail error
}

func (keychainNamed) Name() string { return keychain.KindKeychain }

func (k keychainNamed) Get(ref keychain.Ref) ([]byte, error) {
	if k.fail != nil {
		return nil, k.fail
	}
	return k.Backend.Get(ref)
}

type withBackend struct {
	Vault
	b keychain.Backend
}

func (w withBackend) Backend() (keychain.Backend, error) { return w.b, nil }

func TestResolveKeychainInParallel(t *testing.T) {
	mem := keychain.NewMemory()
	s, ctx := newStore(t, t.TempDir(), mem, nil)
	var ids []string
	for i := range 100 {
		k := fmt.Sprintf("KEY_%d", i)
		mustSet(t, s, ctx, k, "value-"+k)
		ids = append(ids, k, "production/"+k)
	}
	cv := &countingVault{Vault: withBackend{s, keychainNamed{Backend: mem}}}
	resp := (&Resolver{Vault: cv, Base: ctx}).Resolve(context.Background(), Request{IDs: ids})
	if len(resp.Values) != 100 || len(resp.Errors) != 100 || cv.n != 100 {
		t.Fatalf("%d values, %d errors, %d reads", len(resp.Values), len(resp.Errors), cv.n)
	}
	for i := range 100 {
		k := fmt.Sprintf("KEY_%d", i)
		if string(resp.Values[k].Bytes()) != "value-"+k || resp.Errors["production/"+k].Code != CodeNotFound {
			t.Fatalf("%s: %q %+v", k, resp.Values[k].Bytes(), resp.Errors["production/"+k])
		}
	}

	// A keychain that does not answer is asked once.
	down := fmt.Errorf("%w: no answer within 2s", keychain.ErrUnavailable)
	cv = &countingVault{Vault: withBackend{s, keychainNamed{Backend: mem, fail: down}}}
	resp = (&Resolver{Vault: cv, Base: ctx}).Resolve(context.Background(), Request{IDs: ids[:20]})
	if cv.n != 1 || len(resp.Errors) != 20 || resp.Errors["KEY_7"].Code != CodeUnavailable {
		t.Fatalf("%d reads, errors %+v", cv.n, resp.Errors["KEY_7"])
	}
}

func TestResolveListedButMissingValue(t *testing.T) {
	mem := keychain.NewMemory()
	s, ctx := newStore(t, t.TempDir(), mem, nil)
	mustSet(t, s, ctx, "GONE_KEY", "v")
	if err := mem.Delete(keychain.Ref{Workspace: ctx.Workspace, Project: ctx.Project, Environment: ctx.Environment, Key: "GONE_KEY"}); err != nil {
		t.Fatal(err)
	}
	resp := (&Resolver{Vault: s, Base: ctx}).Resolve(context.Background(), Request{IDs: []string{"GONE_KEY"}})
	if e := resp.Errors["GONE_KEY"]; e.Code != CodeNotFound || !strings.Contains(e.Message, "value is missing from the memory backend") {
		t.Fatalf("%+v", e)
	}
}

// slowKeychain takes delay to read the keys slow names.
type slowKeychain struct {
	keychainNamed
	slow  func(key string) bool
	delay time.Duration
}

func (k slowKeychain) Get(ref keychain.Ref) ([]byte, error) {
	if k.slow(ref.Key) {
		time.Sleep(k.delay)
	}
	return k.keychainNamed.Get(ref)
}

// A read still running at the deadline does not hold the answer back:
// OpenClaw kills a provider that answers late and fails the whole batch.
func TestResolveAnswersAtDeadline(t *testing.T) {
	mem := keychain.NewMemory()
	s, ctx := newStore(t, t.TempDir(), mem, nil)
	for _, k := range []string{"A_KEY", "B_KEY", "C_KEY"} {
		mustSet(t, s, ctx, k, "value-"+k)
	}
	tests := []struct {
		name       string
		slow       func(key string) bool
		wantValues []string
	}{
		{name: "first read", slow: func(string) bool { return true }},
		{name: "parallel reads", slow: func(k string) bool { return k != "A_KEY" }, wantValues: []string{"A_KEY"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := slowKeychain{keychainNamed: keychainNamed{Backend: mem}, slow: tt.slow, delay: 2 * time.Second}
			cctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			start := time.Now()
			resp := (&Resolver{Vault: withBackend{s, b}, Base: ctx}).Resolve(cctx, Request{IDs: []string{"A_KEY", "B_KEY", "C_KEY"}})
			if d := time.Since(start); d > time.Second {
				t.Fatalf("answered after %v, past the deadline", d)
			}
			if len(resp.Values) != len(tt.wantValues) || resp.Len() != 3 {
				t.Fatalf("%d values, %d errors, want values %v", len(resp.Values), len(resp.Errors), tt.wantValues)
			}
			for _, k := range tt.wantValues {
				if string(resp.Values[k].Bytes()) != "value-"+k {
					t.Errorf("%s: %q", k, resp.Values[k].Bytes())
				}
			}
			for id, e := range resp.Errors {
				if e.Code != CodeTimeout {
					t.Errorf("%s: %+v, want %s", id, e, CodeTimeout)
				}
			}
		})
	}
}

// OpenClaw stops reading after maxOutputBytes (1 MiB by default) and fails
// the batch. At its default limits (512 ids of at most 256 bytes), an answer
// of errors only, each message naming the id and its key, fits.
func TestResolveErrorsFitOpenClawOutputLimit(t *testing.T) {
	const defaultMaxRefs, defaultMaxOutput = 512, 1 << 20
	pad := func(id string, n int) string { return id + strings.Repeat("Z", n-len(id)) }
	ids := make([]string, 0, defaultMaxRefs)
	for i := range defaultMaxRefs {
		switch i % 4 {
		case 0: // a key name too long: INVALID_ID quoting the id and the key
			ids = append(ids, pad(fmt.Sprintf("app/production/K%d_", i), MaxIDLen))
		case 1: // an unknown environment
			ids = append(ids, pad(fmt.Sprintf("app/qa%d/K", i), MaxIDLen))
		case 2: // too many parts
			ids = append(ids, pad(fmt.Sprintf("a/b/c/d%d", i), MaxIDLen))
		default: // the longest valid id, not set: NOT_FOUND
			ids = append(ids, strings.Repeat("p", 64)+"/development/"+pad(fmt.Sprintf("K%d_", i), vault.MaxKeyNameLen))
		}
	}
	r := &Resolver{Vault: stubVault{}, Base: vault.Context{Workspace: "default", Project: "app", Environment: "development"}}
	resp := r.Resolve(context.Background(), Request{IDs: ids})
	if resp.Len() != defaultMaxRefs || len(resp.Values) != 0 ||
		resp.Errors[ids[0]].Code != CodeInvalidID || resp.Errors[ids[3]].Code != CodeNotFound {
		t.Fatalf("%d answers, %d values, %+v %+v", resp.Len(), len(resp.Values), resp.Errors[ids[0]], resp.Errors[ids[3]])
	}
	var b strings.Builder
	if _, err := resp.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	if b.Len() > defaultMaxOutput {
		t.Fatalf("answer of %d bytes, more than OpenClaw's default maxOutputBytes %d", b.Len(), defaultMaxOutput)
	}
	t.Logf("worst answer of errors: %d bytes", b.Len())
}

func TestInvalidIDLabel(t *testing.T) {
	// printf %s 'bad id' | sha256sum: 4b2d2ff66c98...
	if got, want := InvalidIDLabel("bad id"), "(invalid id: 6 bytes, sha256:4b2d2ff66c98)"; got != want {
		t.Errorf("InvalidIDLabel = %q, want %q", got, want)
	}
	const pasted = "sk_live_51HxPasteDValue0123456789"
	if got := InvalidIDLabel(pasted); strings.Contains(got, pasted) || strings.Contains(got, pasted[:12]) {
		t.Errorf("InvalidIDLabel(%q) = %q holds the id", pasted, got)
	}
}
