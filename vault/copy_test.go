package vault

import (
	"errors"
	"testing"

	"github.com/The-17/agentsecrets/vault/keychain"
)

// failSet is a backend whose Set fails for one reference.
type failSet struct {
	keychain.Backend
	bad keychain.Ref
}

func (f failSet) Set(r keychain.Ref, v []byte) error {
	if r == f.bad {
		return errors.New("keychain: set refused")
	}
	return f.Backend.Set(r, v)
}

// A copy that fails half way leaves the index of the destination in step
// with its values: no key listed with the fingerprint of a value it no
// longer holds, so diff never reports "same" for values that differ.
func TestCopyFailureKeepsFingerprintsTrue(t *testing.T) {
	for _, tc := range []struct {
		name    string
		breakIt func(b keychain.Backend, ctx Context) keychain.Backend
	}{
		{"source value missing", func(b keychain.Backend, ctx Context) keychain.Backend {
			must(t, b.Delete(ref(ctx, Development, "Z_KEY")))
			return b
		}},
		{"destination set fails", func(b keychain.Backend, ctx Context) keychain.Backend {
			return failSet{Backend: b, bad: ref(ctx, Staging, "Z_KEY")}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, ctx := newTestStore(t)
			stg, prod := ctx.WithEnvironment(Staging), ctx.WithEnvironment(Production)
			must(t, s.Set(stg, "A_KEY", []byte("old")))
			must(t, s.Set(prod, "A_KEY", []byte("old")))
			must(t, s.Set(ctx, "A_KEY", []byte("new")))
			must(t, s.Set(ctx, "Z_KEY", []byte("z")))
			s.backend = tc.breakIt(s.backend, ctx)
			if _, err := s.Copy(ctx, Development, Staging); err == nil {
				t.Fatal("Copy succeeded, want an error")
			}
			for _, k := range []string{"A_KEY", "Z_KEY"} {
				e, err := s.Entry(stg, k)
				if errors.Is(err, ErrNotFound) {
					continue
				}
				must(t, err)
				v, err := s.backend.Get(ref(ctx, Staging, k))
				must(t, err)
				fp, err := s.fingerprint(s.backend, nil, ctx.Workspace, v)
				must(t, err)
				if e.Fingerprint != fp {
					t.Errorf("%s: staging index fingerprint is not that of its value", k)
				}
			}
			d, err := s.Diff(ctx, Staging, Production)
			must(t, err)
			a, _ := s.backend.Get(ref(ctx, Staging, "A_KEY"))
			if string(a) != "old" && len(d.Same) > 0 {
				t.Errorf("staging and production differ but diff reports same: %v", d.Same)
			}
		})
	}
}
