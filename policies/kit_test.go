package policies

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
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
