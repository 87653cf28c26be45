package keychain

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// getOnly hides a backend's GetMany, so GetMany falls back to Get.
type getOnly struct {
	Backend
	gets *int
}

func (g getOnly) Get(ref Ref) ([]byte, error) {
	*g.gets++
	return g.Backend.Get(ref)
}

// wantBatch checks that got holds exactly want, comparing values without
// printing them.
func wantBatch(t *testing.T, got map[Ref][]byte, want map[Ref]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("GetMany returned %d values, want %d", len(got), len(want))
	}
	for ref, w := range want {
		v, ok := got[ref]
		switch {
		case !ok:
			t.Errorf("%s: missing", ref.Account())
		case string(v) != w:
			t.Errorf("%s: a different value (%d bytes, want %d)", ref.Account(), len(v), len(w))
		}
	}
}

// batchFixture stores values in b and returns refs to ask for (with a
// duplicate, missing refs and none of another project's) and the answer.
func batchFixture(t testing.TB, b Backend, workspace string) ([]Ref, map[Ref]string) {
	ref := func(project, env, key string) Ref {
		return Ref{Workspace: workspace, Project: project, Environment: env, Key: key}
	}
	stored := map[Ref]string{
		ref("api", "development", "A_KEY"):   "value-a",
		ref("api", "development", "B_KEY"):   "bytes \x00\x01\xfe\xff and ünïcode",
		ref("api", "production", "A_KEY"):    "value-a-prod",
		ref("other", "development", "A_KEY"): "value-other",
		ref("other", "development", "C_KEY"): "value-other-c",
	}
	for r, v := range stored {
		if err := b.Set(r, []byte(v)); err != nil {
			t.Fatalf("Set %s: %v", r.Account(), err)
		}
	}
	refs := []Ref{
		ref("api", "development", "A_KEY"), ref("api", "development", "B_KEY"),
		ref("api", "development", "C_KEY"), ref("api", "staging", "A_KEY"),
		ref("api", "production", "A_KEY"), ref("api", "development", "A_KEY"),
	}
	want := map[Ref]string{}
	for _, r := range refs {
		if v, ok := stored[r]; ok {
			want[r] = v
		}
	}
	return refs, want
}

func TestGetMany(t *testing.T) {
	gets := 0
	backends := map[string]Backend{
		"memory":   NewMemory(),
		"file":     openFile(t, filepath.Join(t.TempDir(), "home"), "pw"),
		"get loop": getOnly{NewMemory(), &gets},
	}
	for name, b := range backends {
		t.Run(name, func(t *testing.T) {
			refs, want := batchFixture(t, b, "acme")
			before := gets
			got, err := GetMany(b, refs)
			if err != nil {
				t.Fatal(err)
			}
			wantBatch(t, got, want)
			if name == "get loop" && gets-before != 5 {
				t.Errorf("the Get loop made %d reads for 5 distinct refs", gets-before)
			}

			empty, err := GetMany(b, nil)
			if err != nil || empty == nil || len(empty) != 0 {
				t.Fatalf("GetMany(nil) = %d values, %v; want an empty map", len(empty), err)
			}
			// A value changed by the caller does not change the stored one.
			a := refs[0]
			got[a][0] ^= 0xff
			again, err := GetMany(b, []Ref{a})
			if err != nil {
				t.Fatal(err)
			}
			wantBatch(t, again, map[Ref]string{a: want[a]})
		})
	}
}

func TestGetManyRejectsBadRefsBeforeReading(t *testing.T) {
	gets := 0
	for name, b := range map[string]Backend{"memory": NewMemory(), "get loop": getOnly{NewMemory(), &gets}} {
		t.Run(name, func(t *testing.T) {
			bad := testRef("A_KEY")
			bad.Project = "a/b"
			got, err := GetMany(b, []Ref{testRef("B_KEY"), bad})
			if err == nil || !strings.Contains(err.Error(), "contains '/'") || got != nil {
				t.Fatalf("GetMany = %v, %v; want a ref error", got, err)
			}
		})
	}
	if gets != 0 {
		t.Fatalf("%d reads before the bad ref was rejected", gets)
	}
}

func TestFileGetManyErrors(t *testing.T) {
	a, b := testRef("A_KEY"), testRef("B_KEY")
	dir := t.TempDir()
	mustSet(t, openFile(t, dir, "pw"), a, "secret-a")
	mustSet(t, openFile(t, dir, "pw"), b, "secret-b")

	_, err := GetMany(openFile(t, dir, "wrong"), []Ref{a, b})
	wantErr(t, err, ErrBadPassphrase, "wrong passphrase")

	calls := 0
	counting, err := Open(Options{Dir: dir, Kind: KindFile, Passphrase: func() ([]byte, error) {
		calls++
		return []byte("pw"), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := GetMany(counting, []Ref{testRef("C_KEY"), testRef("D_KEY")})
	if err != nil || len(got) != 0 || calls != 0 {
		t.Fatalf("only missing refs: %d values, %v, passphrase asked %d times", len(got), err, calls)
	}
	got, err = GetMany(counting, []Ref{a, b, testRef("C_KEY")})
	if err != nil || calls != 1 {
		t.Fatalf("%v, passphrase asked %d times", err, calls)
	}
	wantBatch(t, got, map[Ref]string{a: "secret-a", b: "secret-b"})

	editVault(t, dir, func(vf *vaultFile) { vf.Items[b.Account()] = vf.Items[a.Account()] })
	got, err = GetMany(openFile(t, dir, "pw"), []Ref{a, b})
	wantErr(t, err, ErrTampered, "a moved item")
	if got != nil || strings.Contains(err.Error(), "secret-") {
		t.Fatalf("a failed batch returned %d values or an error holding one: %v", len(got), err)
	}

	missing, err := Open(Options{Dir: filepath.Join(t.TempDir(), "none"), Kind: KindFile})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := GetMany(missing, []Ref{a}); err != nil || len(got) != 0 {
		t.Fatalf("missing vault file: %d values, %v", len(got), err)
	}
}

func TestGetManyLoopStopsAtBackendFailure(t *testing.T) {
	gets := 0
	down := errorf(ErrUnavailable, "keychain: no answer")
	b := getOnly{failing{down}, &gets}
	_, err := GetMany(b, []Ref{testRef("A_KEY"), testRef("B_KEY")})
	if !errors.Is(err, ErrUnavailable) || gets != 1 {
		t.Fatalf("%v after %d reads", err, gets)
	}
}

// failing answers every call with err.
type failing struct{ err error }

func (failing) Name() string              { return "failing" }
func (f failing) Get(Ref) ([]byte, error) { return nil, f.err }
func (f failing) Set(Ref, []byte) error   { return f.err }
func (f failing) Delete(Ref) error        { return f.err }

func BenchmarkFileGetMany100(b *testing.B) {
	be, err := Open(Options{Dir: b.TempDir(), Kind: KindFile, Passphrase: fixedPassphrase("pw")})
	if err != nil {
		b.Fatal(err)
	}
	refs := benchRefs(b, be, fmt.Sprintf("bench-%d", b.N))
	benchBatch(b, be, refs)
}

// benchRefs stores 100 values and returns their refs.
func benchRefs(b *testing.B, be Backend, workspace string) []Ref {
	refs := make([]Ref, 100)
	for i := range refs {
		refs[i] = Ref{Workspace: workspace, Project: "api", Environment: "development", Key: fmt.Sprintf("KEY_%03d", i)}
		if err := be.Set(refs[i], []byte(fmt.Sprintf("value-%d-abcdefghijklmnop", i))); err != nil {
			b.Fatal(err)
		}
	}
	return refs
}

// benchBatch compares one GetMany with 100 Gets.
func benchBatch(b *testing.B, be Backend, refs []Ref) {
	b.Run("GetMany", func(b *testing.B) {
		for b.Loop() {
			if got, err := GetMany(be, refs); err != nil || len(got) != len(refs) {
				b.Fatalf("%d values, %v", len(got), err)
			}
		}
	})
	b.Run("Get", func(b *testing.B) {
		for b.Loop() {
			for _, r := range refs {
				if _, err := be.Get(r); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
