package policies

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/The-17/agentsecrets/wasm"
)

func readGuest(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(guest(name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRegistryLifecycle(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "policies")
	r := NewRegistry(dir)
	code := readGuest(t, "deny")
	e, err := r.Add("weekday-guard", code)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "sha256-"+e.SHA256+".wasm")); err != nil {
		t.Errorf("module not stored by digest: %v", err)
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("registry dir mode = %v, %v", st.Mode().Perm(), err)
	}
	got, _, err := r.Get("weekday-guard")
	if err != nil || string(got) != string(code) {
		t.Fatalf("Get = %d bytes, %v", len(got), err)
	}
	list, err := r.List()
	if err != nil || len(list) != 1 || list[0].Name != "weekday-guard" || list[0].Size != len(code) {
		t.Errorf("List = %+v, %v", list, err)
	}

	// The engine resolves registered names.
	eng := newTestEngine(t, Config{Registry: r})
	err = eng.Run(context.Background(), []Spec{{Name: "weekday-guard"}}, newCall(t, "https://api.example.com/", nil))
	if !errors.Is(err, ErrDenied) || !strings.Contains(err.Error(), `"weekday-guard"`) {
		t.Errorf("Run(registered) = %v", err)
	}

	if err := r.Remove("weekday-guard"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Get("weekday-guard"); !errors.Is(err, ErrPolicyNotFound) {
		t.Errorf("Get after Remove = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "sha256-"+e.SHA256+".wasm")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unreferenced module kept: %v", err)
	}
	if err := r.Remove("weekday-guard"); !errors.Is(err, ErrPolicyNotFound) {
		t.Errorf("second Remove = %v", err)
	}
}

func TestRegistryRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	r := NewRegistry(dir)
	good := readGuest(t, "deny")
	tests := []struct {
		name string
		code []byte
		want string
	}{
		{"bearer", good, `invalid policy name "bearer": it is a built-in policy's name`},
		{"Upper", good, "invalid policy name (5 characters): it holds characters other than lower-case letters, digits, '-' and '_'"},
		{"has/slash", good, "invalid policy name (9 characters): it holds characters other than"},
		{"x.wasm", good, "invalid policy name (6 characters): it holds characters other than"},
		{"0day", good, "invalid policy name (4 characters): it does not start with a lower-case letter"},
		{"", good, "invalid policy name (0 characters): it is empty"},
		{"sk_live_4eC39HqLyjWDarjtT1zdp7dc", good, "invalid policy name (32 characters)"},
		{"evil", readGuest(t, "badimport"), `import "fetch" from module "env" is not allowed`},
		{"junk", []byte("not wasm"), "not a valid WebAssembly module"},
		{"noexport", readGuest(t, "noexport"), `does not export "on_request"`},
	}
	for _, tt := range tests {
		_, err := r.Add(tt.name, tt.code)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Add(%q) = %v, want %q", tt.name, err, tt.want)
		}
		// A name that is not a policy name is not repeated (a value may be
		// typed where it goes); a built-in's is.
		if err != nil && !ValidName(tt.name) && !wasm.IsBuiltin(tt.name) && len(tt.name) >= 4 && strings.Contains(err.Error(), tt.name) {
			t.Errorf("Add(%q) = %v: repeats the name", tt.name, err)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != ".lock" {
			t.Errorf("refused Add left %q on disk", e.Name())
		}
	}
}

// TestRegistryNotFoundQuotesOnlyPolicyNames: Get and Remove of a name not
// registered quote it when it is a policy name (or a built-in's); any other
// is said by its length and what is wrong with it, never repeated.
func TestRegistryNotFoundQuotesOnlyPolicyNames(t *testing.T) {
	r := NewRegistry(t.TempDir())
	if _, err := r.Add("guard", readGuest(t, "deny")); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, want string }{
		{"no-such-policy", `policies: policy not found: "no-such-policy" is not registered`},
		{"bearer", `policies: policy not found: "bearer" is not registered`},
		{"SK_LIVE_4EC39HQLYJWDARJTT1ZDP7DC", "policies: policy not found: invalid policy name (32 characters): it holds characters other than lower-case letters, digits, '-' and '_'"},
		{"sk live 4eC39HqLyjWDarjtT1zdp7dc", "policies: policy not found: invalid policy name (32 characters): it holds characters other than"},
		{"9" + strings.Repeat("a", 70), "invalid policy name (71 characters): it is longer than 64 bytes"},
		{"", "invalid policy name (0 characters): it is empty"},
	}
	for _, tt := range tests {
		_, _, getErr := r.Get(tt.name)
		removeErr := r.Remove(tt.name)
		for op, err := range map[string]error{"Get": getErr, "Remove": removeErr} {
			if !errors.Is(err, ErrPolicyNotFound) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s(%q) = %v, want %q", op, tt.name, err, tt.want)
			}
			if err != nil && !ValidName(tt.name) && !wasm.IsBuiltin(tt.name) && len(tt.name) >= 4 && strings.Contains(err.Error(), tt.name) {
				t.Errorf("%s(%q) = %v: repeats the name", op, tt.name, err)
			}
		}
	}
}

func TestRegistryDetectsTampering(t *testing.T) {
	r := NewRegistry(t.TempDir())
	e, err := r.Add("guard", readGuest(t, "deny"))
	if err != nil {
		t.Fatal(err)
	}
	blob := filepath.Join(r.Dir(), "sha256-"+e.SHA256+".wasm")
	if err := os.WriteFile(blob, readGuest(t, "trap"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Get("guard"); err == nil || !strings.Contains(err.Error(), "does not match its digest") {
		t.Errorf("Get of a modified module = %v", err)
	}
}

// TestRegistryReaddRepairsModule: Get's advice for a module modified or
// removed on disk, "add it again", works: adding the same code again (or
// replacing with it) rewrites the module and changes nothing else.
func TestRegistryReaddRepairsModule(t *testing.T) {
	deny, trap := readGuest(t, "deny"), readGuest(t, "trap")
	for _, tc := range []struct {
		name    string
		damage  func(blob string) error
		replace bool
	}{
		{"modified", func(b string) error { return os.WriteFile(b, trap, 0o600) }, false},
		{"removed", os.Remove, false},
		{"modified, replace", func(b string) error { return os.WriteFile(b, trap, 0o600) }, true},
	} {
		r := NewRegistry(t.TempDir())
		first, err := r.Add("guard", deny)
		if err != nil {
			t.Fatal(err)
		}
		blob := filepath.Join(r.Dir(), "sha256-"+first.SHA256+".wasm")
		if err := tc.damage(blob); err != nil {
			t.Fatal(err)
		}
		if _, _, err := r.Get("guard"); err == nil || !strings.Contains(err.Error(), "add it again") {
			t.Fatalf("%s: Get = %v", tc.name, err)
		}
		var again Entry
		if tc.replace {
			again, _, err = r.Replace("guard", deny)
		} else {
			again, err = r.Add("guard", deny)
		}
		if err != nil || again != first {
			t.Errorf("%s: adding the same code again = %+v, %v; want %+v", tc.name, again, err, first)
		}
		if got, _, err := r.Get("guard"); err != nil || string(got) != string(deny) {
			t.Errorf("%s: Get after adding it again = %d bytes, %v", tc.name, len(got), err)
		}
		if st, err := os.Stat(blob); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: module file %v, %v; want mode 0600", tc.name, st, err)
		}
	}
}

func TestRegistryConcurrentAdds(t *testing.T) {
	r := NewRegistry(t.TempDir())
	code := readGuest(t, "deny")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := r.Add("p"+string(rune('a'+i)), code); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if list, _ := r.List(); len(list) != 8 {
		t.Errorf("List has %d entries after 8 concurrent adds", len(list))
	}
}

func TestInspect(t *testing.T) {
	bearer, _ := wasm.Builtin("bearer")
	info, err := Inspect(bearer)
	if err != nil || !info.Valid || info.Problem != "" {
		t.Fatalf("Inspect(bearer) = %+v, %v", info, err)
	}
	wantImport := "agentsecrets.header_set_secret(i32, i32, i32, i32, i32, i32) -> i32"
	if !strings.Contains(strings.Join(info.Imports, "\n"), wantImport) {
		t.Errorf("imports %v lack %q", info.Imports, wantImport)
	}
	if !strings.Contains(strings.Join(info.Exports, "\n"), "on_request() -> i32") {
		t.Errorf("exports = %v", info.Exports)
	}
	bad, err := Inspect(readGuest(t, "badsig"))
	if err != nil || bad.Valid || !strings.Contains(bad.Problem, "secret_open") {
		t.Errorf("Inspect(badsig) = %+v, %v", bad, err)
	}
	if _, err := Inspect([]byte("\x00asm garbage")); err == nil {
		t.Error("Inspect accepted garbage")
	}
}

// TestRegistryReplaceOnlyWhenAsked: a name keeps its code until Replace;
// adding the same code again is a no-op that keeps the entry.
func TestRegistryReplaceOnlyWhenAsked(t *testing.T) {
	r := NewRegistry(t.TempDir())
	deny, trap := readGuest(t, "deny"), readGuest(t, "trap")
	first, err := r.Add("guard", deny)
	if err != nil {
		t.Fatal(err)
	}
	again, err := r.Add("guard", deny)
	if err != nil || again != first {
		t.Errorf("re-adding the same code: %+v, %v; want %+v", again, err, first)
	}
	if _, err := r.Add("guard", trap); !errors.Is(err, ErrPolicyExists) {
		t.Fatalf("Add of other code under a taken name = %v, want ErrPolicyExists", err)
	}
	if got, _, err := r.Get("guard"); err != nil || string(got) != string(deny) {
		t.Fatalf("a refused Add changed the code (%v)", err)
	}
	e, old, err := r.Replace("guard", trap)
	if err != nil || old.SHA256 != first.SHA256 || e.SHA256 == first.SHA256 {
		t.Fatalf("Replace = %+v, old %+v, %v", e, old, err)
	}
	if got, _, err := r.Get("guard"); err != nil || string(got) != string(trap) {
		t.Errorf("Replace did not change the code (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(r.Dir(), "sha256-"+first.SHA256+".wasm")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the replaced module's file is still there: %v", err)
	}
	if _, old, err := r.Replace("fresh", deny); err != nil || old.SHA256 != "" {
		t.Errorf("Replace of a new name = old %+v, %v", old, err)
	}
}

func TestReadModuleFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.wasm")
	if err := os.WriteFile(good, readGuest(t, "deny"), 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.wasm")
	if err := os.WriteFile(big, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, MaxPolicyFile+1); err != nil { // sparse
		t.Fatal(err)
	}
	tests := []struct {
		path, err string
	}{
		{good, ""},
		{os.DevNull, "not a regular file"},
		{dir, "not a regular file"},
		{big, "not a regular file of at most 64 MiB"},
		// A path that is not there is not repeated, only its length: a
		// value may be typed where the file goes.
		{filepath.Join(dir, "missing.wasm"), fmt.Sprintf("policies: policy file (%d characters): no such file", len(filepath.Join(dir, "missing.wasm")))},
	}
	for _, tt := range tests {
		code, err := ReadModuleFile(tt.path)
		if tt.err == "" {
			if err != nil || len(code) == 0 {
				t.Errorf("ReadModuleFile(%q) = %d bytes, %v", tt.path, len(code), err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("ReadModuleFile(%q) err = %v, want %q", tt.path, err, tt.err)
		}
		if _, serr := os.Stat(tt.path); serr != nil && err != nil && strings.Contains(err.Error(), "missing") {
			t.Errorf("ReadModuleFile(%q) err = %v: repeats a path that is not there", tt.path, err)
		}
	}
}
