package vault

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/The-17/agentsecrets/vault/keychain"
)

// unreachableKeychain is an OS keychain double: while down, every call
// fails as a locked or silent Secret Service does.
type unreachableKeychain struct {
	keychain.Backend
	down bool
}

func (u *unreachableKeychain) Name() string { return keychain.KindKeychain }

func (u *unreachableKeychain) fail(op string, r keychain.Ref) error {
	return fmt.Errorf("keychain: %s %q: no answer within 5s: %w", op, r.Account(), keychain.ErrUnavailable)
}

func (u *unreachableKeychain) Get(r keychain.Ref) ([]byte, error) {
	if u.down {
		return nil, u.fail("get", r)
	}
	return u.Backend.Get(r)
}

func (u *unreachableKeychain) Set(r keychain.Ref, v []byte) error {
	if u.down {
		return u.fail("set", r)
	}
	return u.Backend.Set(r, v)
}

func (u *unreachableKeychain) Delete(r keychain.Ref) error {
	if u.down {
		return u.fail("delete", r)
	}
	return u.Backend.Delete(r)
}

// TestRemovalWithUnreachableKeychainChangesNothing: a removal (Delete,
// Clean, DeleteProject) while the OS keychain is locked or does not
// answer fails before it edits the index: nothing changes on disk, every
// key stays listed, and its value is there once the keychain answers
// again (instead of keys dropped from the index whose values stay).
func TestRemovalWithUnreachableKeychainChangesNothing(t *testing.T) {
	removals := []struct {
		name   string
		remove func(s *Store, ctx Context) error
	}{
		{"delete", func(s *Store, ctx Context) error { return s.Delete(ctx, "A_KEY") }},
		{"clean", func(s *Store, ctx Context) error { return second(s.Clean(ctx)) }},
		{"delete project", func(s *Store, ctx Context) error { return second(s.DeleteProject(ctx.Project)) }},
	}
	for _, tc := range removals {
		t.Run(tc.name, func(t *testing.T) {
			home, dir := t.TempDir(), filepath.Join(t.TempDir(), "app")
			must(t, os.Mkdir(dir, 0o700))
			backend := &unreachableKeychain{Backend: keychain.NewMemory()}
			s, err := Open(Options{Home: home, Cwd: dir, Backend: backend, Getenv: func(string) string { return "" }})
			must(t, err)
			ctx, err := s.Init(InitOptions{})
			must(t, err)
			must(t, s.Set(ctx, "A_KEY", []byte("value a")))
			must(t, s.Set(ctx, "B_KEY", []byte("value b")))
			before := snapshot(t, home) + snapshot(t, dir)

			backend.down = true
			err = tc.remove(s, ctx)
			backend.down = false
			if !errors.Is(err, keychain.ErrUnavailable) {
				t.Fatalf("error = %v, want ErrUnavailable", err)
			}
			if after := snapshot(t, home) + snapshot(t, dir); after != before {
				t.Fatalf("the refused %s changed files:\n%s\n---\n%s", tc.name, before, after)
			}
			for _, k := range []string{"A_KEY", "B_KEY"} {
				if _, err := s.Get(ctx, k); err != nil {
					t.Errorf("%s after the refused %s: %v", k, tc.name, err)
				}
			}
		})
	}
}
