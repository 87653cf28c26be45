package vault

import (
	"errors"
	"slices"
	"testing"
)

func TestEditBinding(t *testing.T) {
	s, ctx := newTestStore(t)
	must(t, s.Set(ctx, "STRIPE_KEY", []byte("sk_dev")))

	var seen [][]string
	set := func(next ...string) func([]string) ([]string, error) {
		return func(cur []string) ([]string, error) {
			seen = append(seen, cur)
			return next, nil
		}
	}
	binding := func() []string {
		t.Helper()
		e, err := s.Entry(ctx, "STRIPE_KEY")
		must(t, err)
		return e.Domains
	}

	must(t, s.EditBinding(ctx, "STRIPE_KEY", set("API.Stripe.com", "*.stripe.com", "api.stripe.com")))
	if got, want := binding(), []string{"*.stripe.com", "api.stripe.com"}; !slices.Equal(got, want) {
		t.Fatalf("binding = %q, want %q (normalized, de-duplicated, sorted)", got, want)
	}
	must(t, s.EditBinding(ctx, "STRIPE_KEY", set("api.stripe.com")))
	if len(seen) != 2 || len(seen[0]) != 0 || !slices.Equal(seen[1], []string{"*.stripe.com", "api.stripe.com"}) {
		t.Fatalf("edit saw %q, want the stored binding each time", seen)
	}

	before := snapshot(t, s.Home())
	refuse := errors.New("changed meanwhile")
	if err := s.EditBinding(ctx, "STRIPE_KEY", func([]string) ([]string, error) { return nil, refuse }); !errors.Is(err, refuse) {
		t.Fatalf("edit error = %v, want it returned", err)
	}
	if err := s.EditBinding(ctx, "STRIPE_KEY", set("https://evil.example/")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad domain = %v, want ErrInvalid", err)
	}
	if err := s.EditBinding(ctx, "NOPE_KEY", set("api.stripe.com")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing key = %v, want ErrNotFound", err)
	}
	if snapshot(t, s.Home()) != before {
		t.Fatal("a refused edit changed the home directory")
	}

	must(t, s.EditBinding(ctx, "STRIPE_KEY", set()))
	if got := binding(); len(got) != 0 {
		t.Fatalf("binding after clearing = %q, want none", got)
	}
}
