package wasm

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestBuiltinNames(t *testing.T) {
	want := []string{"basic", "bearer", "body-field", "form-field", "header", "query", "redact"}
	if got := BuiltinNames(); !slices.Equal(got, want) {
		t.Fatalf("BuiltinNames() = %v, want %v", got, want)
	}
	for _, n := range want {
		b, ok := Builtin(n)
		if !ok || !bytes.HasPrefix(b, []byte("\x00asm")) {
			t.Errorf("Builtin(%q) = %d bytes, %v; want a wasm module", n, len(b), ok)
		}
	}
	for _, n := range []string{"", "nope", "../doc", "bearer.wasm"} {
		if _, ok := Builtin(n); ok {
			t.Errorf("Builtin(%q) found, want not found", n)
		}
	}
}

// TestBuiltinsMatchSources proves the committed binaries are a fresh build
// of their sources (built-ins and hostile test guests).
func TestBuiltinsMatchSources(t *testing.T) {
	if _, err := exec.LookPath("wat2wasm"); err != nil {
		t.Skip("wat2wasm not on PATH (install wabt); committed binaries not checked")
	}
	srcs, _ := filepath.Glob("builtin/*.wat")
	guests, _ := filepath.Glob("../testdata/guests/*.wat")
	srcs = append(srcs, guests...)
	if len(srcs) < 7 {
		t.Fatalf("found %d sources, want at least the 7 built-ins", len(srcs))
	}
	dir := t.TempDir()
	for _, src := range srcs {
		out := filepath.Join(dir, strings.ReplaceAll(src, string(filepath.Separator), "_")+".wasm")
		if msg, err := exec.Command("wat2wasm", src, "-o", out).CombinedOutput(); err != nil {
			t.Fatalf("wat2wasm %s: %v\n%s", src, err, msg)
		}
		fresh, _ := os.ReadFile(out)
		committed, err := os.ReadFile(strings.TrimSuffix(src, ".wat") + ".wasm")
		if err != nil || !bytes.Equal(fresh, committed) {
			t.Errorf("%s: committed .wasm differs from its source; run make wasm", src)
		}
	}
}

// TestBuiltinsAreStraightLine guards the engine's assumption that built-ins
// cannot loop: their sources contain no loop or backward branch.
func TestBuiltinsAreStraightLine(t *testing.T) {
	srcs, _ := filepath.Glob("builtin/*.wat")
	for _, src := range srcs {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		for _, word := range []string{"(loop", "loop ", "br ", "br_if", "br_table", "call_indirect"} {
			if bytes.Contains(b, []byte(word)) {
				t.Errorf("%s contains %q; built-ins must be straight-line code", src, word)
			}
		}
	}
}
