package vault

import (
	"errors"
	"strings"
	"testing"

	"github.com/The-17/agentsecrets/vault/keychain"
)

// failDelete is a backend whose Delete fails for some references, after
// keychain.Check has answered (a keychain call that times out).
type failDelete struct {
	keychain.Backend
	bad map[keychain.Ref]bool
}

func (f failDelete) Delete(r keychain.Ref) error {
	if f.bad[r] {
		return errors.New("keychain: delete: no answer within 5s")
	}
	return f.Backend.Delete(r)
}

// TestDeleteAgainRemovesValueLeftBehind: a delete whose value removal
// failed, or that was killed once the index no longer listed the key, left
// the value in the backend, and deleting the key again answered "not
// found": no command could remove it. Run again, the delete finishes.
func TestDeleteAgainRemovesValueLeftBehind(t *testing.T) {
	for _, tc := range []struct {
		name      string
		interrupt func(t *testing.T, s *Store, ctx Context)
	}{
		{"value removal failed", func(t *testing.T, s *Store, ctx Context) {
			mem := s.backend
			s.backend = failDelete{Backend: mem, bad: map[keychain.Ref]bool{ref(ctx, Development, "A_KEY"): true}}
			if err := s.Delete(ctx, "A_KEY"); err == nil {
				t.Fatal("Delete succeeded, want the backend's error")
			}
			s.backend = mem
		}},
		{"killed before the value removal", func(t *testing.T, s *Store, ctx Context) {
			mem := s.backend
			s.backend = &killAt{Backend: mem, n: 1}
			if ran, _ := runUntilKilled(func() error { return s.Delete(ctx, "A_KEY") }); ran {
				t.Fatal("the delete was not killed")
			}
			s.backend = mem
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, ctx := newTestStore(t)
			must(t, s.Set(ctx, "A_KEY", []byte("the deleted value")))
			tc.interrupt(t, s, ctx)
			if _, err := s.Entry(ctx, "A_KEY"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("A_KEY still listed after the interrupted delete: %v", err)
			}
			s2, err := Open(s.opts)
			must(t, err)
			if err := s2.Delete(ctx, "A_KEY"); err != nil {
				t.Fatalf("delete run again: %v", err)
			}
			if _, err := s2.backend.Get(ref(ctx, Development, "A_KEY")); !errors.Is(err, keychain.ErrNotFound) {
				t.Fatalf("the value is still in the backend after the delete was run again (get: %v)", err)
			}
			if err := s2.Delete(ctx, "A_KEY"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("delete once the value is gone = %v, want ErrNotFound", err)
			}
		})
	}
}

// TestCleanRemovesEveryValueItCan: a value the backend fails to remove
// stopped clean there, leaving the values of every later key behind too,
// unnamed. Clean removes the others and names each key whose value is
// left; deleting that key again removes it.
func TestCleanRemovesEveryValueItCan(t *testing.T) {
	s, ctx := newTestStore(t)
	for _, k := range []string{"A_KEY", "B_KEY", "C_KEY", "D_KEY"} {
		must(t, s.Set(ctx, k, []byte("value of "+k)))
	}
	mem := s.backend
	s.backend = failDelete{Backend: mem, bad: map[keychain.Ref]bool{
		ref(ctx, Development, "A_KEY"): true, ref(ctx, Development, "C_KEY"): true}}
	_, err := s.Clean(ctx)
	if err == nil {
		t.Fatal("Clean succeeded, want the backend's error")
	}
	for _, k := range []string{"A_KEY", "C_KEY"} {
		if !strings.Contains(err.Error(), k) {
			t.Errorf("the error does not name %s, whose value is left: %v", k, err)
		}
	}
	for _, k := range []string{"B_KEY", "D_KEY"} {
		if strings.Contains(err.Error(), k) {
			t.Errorf("the error names %s, whose value was removed: %v", k, err)
		}
		if _, gerr := mem.Get(ref(ctx, Development, k)); !errors.Is(gerr, keychain.ErrNotFound) {
			t.Errorf("%s: its value is still in the backend (get: %v)", k, gerr)
		}
	}
	s.backend = mem
	for _, k := range []string{"A_KEY", "C_KEY"} {
		must(t, s.Delete(ctx, k))
		if _, gerr := mem.Get(ref(ctx, Development, k)); !errors.Is(gerr, keychain.ErrNotFound) {
			t.Errorf("%s: its value is still in the backend after delete (get: %v)", k, gerr)
		}
	}
}
