package policies

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/The-17/agentsecrets/hostfns"
)

var hmacBuild struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

// buildHMACExample compiles wasm/examples/hmac with the Go toolchain, once
// per test binary.
func buildHMACExample(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go toolchain not on PATH")
	}
	hmacBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "agentsecrets-hmac-")
		if err != nil {
			hmacBuild.err = err
			return
		}
		hmacBuild.path = filepath.Join(dir, "hmac.wasm")
		cmd := exec.Command(gobin, "build", "-buildmode=c-shared", "-o", hmacBuild.path, "../wasm/examples/hmac")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		hmacBuild.out, hmacBuild.err = cmd.CombinedOutput()
	})
	if hmacBuild.err != nil {
		t.Fatalf("building the hmac example: %v\n%s", hmacBuild.err, hmacBuild.out)
	}
	t.Cleanup(func() {}) // the file is shared by the tests of this binary
	return hmacBuild.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if hmacBuild.path != "" {
		os.RemoveAll(filepath.Dir(hmacBuild.path))
	}
	os.Exit(code)
}

func TestHMACExampleMatchesCryptoHMAC(t *testing.T) {
	path := buildHMACExample(t)
	e := newTestEngine(t, Config{CacheDir: t.TempDir()})
	bodies := []string{`{"amount":100}`, "", "x"}
	for _, body := range bodies {
		call := newCall(t, "https://api.example.com/hooks", map[string]string{"SIGNING_KEY": testSecret})
		call.Req.Body = []byte(body)
		specs := []Spec{{Name: path, Params: map[string]string{"key": "SIGNING_KEY"}}}
		if err := e.Run(context.Background(), specs, call); err != nil {
			t.Fatal(err)
		}
		mac := hmac.New(sha256.New, []byte(testSecret))
		mac.Write([]byte(body))
		want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
		if got := call.Req.Header.Get("X-Signature"); got != want {
			t.Errorf("body %q: X-Signature = %q, want %q", body, got, want)
		}
		assertNoSecret(t, idleMemory(t, e, path), testSecret)
		if opened := call.Opened(); len(opened) != 1 || opened[0] != "SIGNING_KEY" {
			t.Errorf("Opened() = %v", opened)
		}
	}
}

func TestHMACExampleIsValidAndDeniesWithoutKey(t *testing.T) {
	path := buildHMACExample(t)
	code, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	info, err := Inspect(code)
	if err != nil || !info.Valid {
		t.Fatalf("Inspect: %+v, %v", info, err)
	}
	e := newTestEngine(t, Config{})
	call := newCall(t, "https://api.example.com/", nil)
	err = e.Run(context.Background(), []Spec{{Name: path, Params: map[string]string{"key": "ABSENT"}}}, call)
	if err == nil || call.Req.Header.Get("X-Signature") != "" {
		t.Fatalf("err = %v, header %q; want a denial and no signature", err, call.Req.Header.Get("X-Signature"))
	}
}

// TestHMACExampleRefusesShortKey runs the Go-built example guest on a
// 6-digit secret: hmac_secret refuses it (the MAC would let the guest guess
// the PIN offline), so the request is denied with an error that wraps
// hostfns.ErrShortKey, names the key and gives a hint, holds no value, and
// no signature is set. On a 32-byte key the same guest signs, and the MAC
// equals crypto/hmac's.
func TestHMACExampleRefusesShortKey(t *testing.T) {
	path := buildHMACExample(t)
	e := newTestEngine(t, Config{CacheDir: t.TempDir()})
	const pin, key32 = "493817", "whsec_Q7vXk2Lm9PzR4tWbHq8ZpLw2Vn"
	secrets := map[string]string{"PIN": pin, "HOOK_SECRET": key32}
	run := func(key string) (*hostfns.Call, error) {
		call := newCall(t, "https://api.example.com/hooks", secrets)
		call.Req.Body = []byte(`{"amount":100}`)
		return call, e.Run(context.Background(), []Spec{{Name: path, Params: map[string]string{"key": key}}}, call)
	}

	call, err := run("PIN")
	var de *DeniedError
	var hinted interface{ Hint() string }
	if !errors.As(err, &de) || !errors.Is(err, hostfns.ErrShortKey) || !errors.As(err, &hinted) {
		t.Fatalf("err = %v, want a *DeniedError wrapping hostfns.ErrShortKey", err)
	}
	if !strings.Contains(err.Error(), `"PIN"`) || !strings.Contains(hinted.Hint(), "PIN") {
		t.Errorf("error %q / hint %q does not name the key", err, hinted.Hint())
	}
	if strings.Contains(err.Error(), "not bound") {
		t.Errorf("error %q blames a binding, not the key's length", err)
	}
	if strings.Contains(err.Error(), pin) || strings.Contains(hinted.Hint(), pin) {
		t.Errorf("error %q / hint %q holds the value", err, hinted.Hint())
	}
	if sig := call.Req.Header.Get("X-Signature"); sig != "" {
		t.Errorf("X-Signature = %q after a refusal", sig)
	}

	call, err = run("HOOK_SECRET")
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, []byte(key32))
	mac.Write([]byte(`{"amount":100}`))
	if got, want := call.Req.Header.Get("X-Signature"), "sha256="+hex.EncodeToString(mac.Sum(nil)); got != want {
		t.Errorf("X-Signature = %q, want %q", got, want)
	}
	assertNoSecret(t, idleMemory(t, e, path), key32)
}
