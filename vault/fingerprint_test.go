package vault

import (
	"fmt"
	"testing"
)

// A fingerprint key that is missing from the backend (deleted, or a fresh
// keychain) is created again; fingerprints already in the index are
// computed again under it, so equal values still compare equal.
func TestFingerprintKeyRecreated(t *testing.T) {
	for _, tc := range []struct {
		name     string
		from, to string
		want     string // OnlyInFrom OnlyInTo Differ Same
	}{
		{"old entry against new", Development, Staging, "[] [] [] [A_KEY]"},
		{"old entry against new, other value", Development, Production, "[] [] [A_KEY] []"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, ctx := newTestStore(t)
			must(t, s.Set(ctx, "A_KEY", []byte("same")))
			must(t, s.Set(ctx.WithEnvironment(Production), "A_KEY", []byte("other")))
			must(t, s.backend.Delete(fingerprintRef(ctx.Workspace)))
			s2, err := Open(s.opts)
			must(t, err)
			must(t, s2.Set(ctx.WithEnvironment(Staging), "A_KEY", []byte("same")))
			d, err := s2.Diff(ctx, tc.from, tc.to)
			must(t, err)
			if got := fmt.Sprint(d.OnlyInFrom, d.OnlyInTo, d.Differ, d.Same); got != tc.want {
				t.Fatalf("Diff = %s, want %s", got, tc.want)
			}
		})
	}
}
