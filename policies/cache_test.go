package policies

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// distinctGuests writes n copies of the deny guest that differ by a custom
// section, so each has its own content hash, and returns their paths.
func distinctGuests(t *testing.T, n int) []string {
	t.Helper()
	code, err := os.ReadFile(guest("deny"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var paths []string
	for i := range n {
		name := fmt.Sprintf("copy%02d", i)
		// A custom section: id 0, size, name length, name, one byte.
		section := append(append([]byte{0, byte(2 + len(name)), byte(len(name))}, name...), 1)
		p := filepath.Join(dir, name+".wasm")
		if err := os.WriteFile(p, append(append([]byte{}, code...), section...), 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

func cached(e *Engine, path string) *policy {
	code, _ := os.ReadFile(path)
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.byHash[sha256.Sum256(code)]
}

// TestModuleCacheIsBounded: custom modules (by content, whatever the path
// or registered name) are kept up to MaxModules, the least recently used
// evicted and its compiled code closed; an evicted policy loads again.
func TestModuleCacheIsBounded(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t, Config{MaxModules: 2})
	paths := distinctGuests(t, 4)
	run := func(path string) {
		t.Helper()
		err := e.Run(ctx, []Spec{{Name: path}}, newCall(t, "https://api.example.com/", nil))
		if !errors.Is(err, ErrDenied) {
			t.Fatalf("%s: %v, want the guest's denial", filepath.Base(path), err)
		}
	}
	run(paths[0])
	run(paths[1])
	first, second := cached(e, paths[0]), cached(e, paths[1])
	run(paths[0]) // paths[1] is now the least recently used
	run(paths[2])
	if len(e.byHash) != 2 || cached(e, paths[1]) != nil || cached(e, paths[0]) != first || cached(e, paths[2]) == nil {
		t.Fatalf("cache holds %d modules; want paths 0 and 2 (paths 1 evicted)", len(e.byHash))
	}
	if len(e.byFile) > 2 {
		t.Errorf("%d file stamps kept, want at most 2", len(e.byFile))
	}
	if _, err := e.sandbox.InstantiateModule(ctx, second.compiled, e.sandboxConfig); err == nil {
		t.Error("the evicted module's compiled code is still usable: not closed")
	}
	if len(second.idle) != 0 {
		t.Errorf("the evicted module keeps %d idle instances", len(second.idle))
	}
	for _, p := range paths {
		run(p)
	}
	if len(e.byHash) != 2 {
		t.Errorf("cache holds %d modules, want 2", len(e.byHash))
	}
}

// TestEvictionWaitsForRunningCalls: a module evicted while a call runs
// it keeps its compiled code until that call is done; the instance the
// call returns is closed, not pooled.
func TestEvictionWaitsForRunningCalls(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t, Config{MaxModules: 1})
	paths := distinctGuests(t, 2)
	p, err := e.acquire(ctx, paths[0])
	if err != nil {
		t.Fatal(err)
	}
	in, err := p.get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Load(ctx, paths[1]); err != nil { // evicts paths[0]
		t.Fatal(err)
	}
	if cached(e, paths[0]) != nil {
		t.Fatal("paths[0] still cached")
	}
	other, err := p.instantiate(ctx)
	if err != nil {
		t.Fatalf("compiled code closed under a running call: %v", err)
	}
	other.discard()
	p.put(in)
	if len(p.idle) != 0 || !in.mod.IsClosed() {
		t.Error("an evicted module's instance went back to the pool")
	}
	p.release()
	if _, err := p.instantiate(ctx); err == nil {
		t.Error("the evicted module's compiled code is still usable after its last call")
	}
}
