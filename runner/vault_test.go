package runner

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/The-17/agentsecrets/vault"
	"github.com/The-17/agentsecrets/vault/keychain"
)

// readCounter counts the reads that reach a batch-reading backend.
type readCounter struct {
	keychain.Backend
	reads atomic.Int32 // a Get or a GetMany
	refs  atomic.Int32 // the refs they asked for
}

func (c *readCounter) Get(ref keychain.Ref) ([]byte, error) {
	c.reads.Add(1)
	c.refs.Add(1)
	return c.Backend.Get(ref)
}

func (c *readCounter) GetMany(refs []keychain.Ref) (map[keychain.Ref][]byte, error) {
	c.reads.Add(1)
	c.refs.Add(int32(len(refs)))
	return keychain.GetMany(c.Backend, refs)
}

// StoreVault.All reads the environment's values in one batch, leaves out a
// key whose value is gone from the backend, and, caching, reads again only
// that key until Refresh.
func TestStoreVaultAllReadsOneBatch(t *testing.T) {
	home, dir := t.TempDir(), filepath.Join(t.TempDir(), "app")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	b := &readCounter{Backend: keychain.NewMemory()}
	s, err := vault.Open(vault.Options{Home: home, Cwd: dir, Backend: b, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, err := s.Init(vault.InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 30 {
		k := fmt.Sprintf("KEY_%02d", i)
		if err := s.Set(ctx, k, []byte("value-"+k)); err != nil {
			t.Fatal(err)
		}
		want = append(want, "value-"+k)
	}
	gone := keychain.Ref{Workspace: ctx.Workspace, Project: ctx.Project, Environment: ctx.Environment, Key: "KEY_05"}
	if err := b.Backend.Delete(gone); err != nil {
		t.Fatal(err)
	}
	want = slices.DeleteFunc(want, func(v string) bool { return v == "value-KEY_05" })

	for _, cache := range []bool{false, true} {
		t.Run(fmt.Sprint("cache=", cache), func(t *testing.T) {
			v := &StoreVault{Store: s, Ctx: ctx, Cache: cache}
			all := func(wantRefs int32) {
				t.Helper()
				b.reads.Store(0)
				b.refs.Store(0)
				got, err := v.All()
				if err != nil {
					t.Fatal(err)
				}
				var values []string
				for _, g := range got {
					values = append(values, string(g))
				}
				slices.Sort(values)
				if !slices.Equal(values, want) {
					t.Fatalf("All = %q, want %q", values, want)
				}
				if n, r := b.reads.Load(), b.refs.Load(); n != 1 || r != wantRefs {
					t.Fatalf("All read the backend %d times for %d refs, want once for %d", n, r, wantRefs)
				}
			}
			all(30)
			if cache {
				all(1) // only the key without a value
				b.reads.Store(0)
				if got, err := v.Secret("KEY_11"); err != nil || string(got) != "value-KEY_11" || b.reads.Load() != 0 {
					t.Fatalf("Secret after All: %v, %d reads", err, b.reads.Load())
				}
				v.Refresh()
			}
			all(30)
		})
	}
}
