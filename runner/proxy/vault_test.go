package proxy

import (
	"errors"
	"testing"

	"github.com/The-17/agentsecrets/runner"
)

func TestBindingCacheFindsNewSecretsAndForgetsOnRefresh(t *testing.T) {
	f := newFixture(t)
	c := NewBindingCache(f.vault)
	if _, err := c.Bindings("LATER_KEY"); !errors.Is(err, runner.ErrSecretMissing) {
		t.Fatalf("missing key: %v", err)
	}
	ctx, err := f.store.Context()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.Set(ctx, "LATER_KEY", []byte("later-value-123456")); err != nil {
		t.Fatal(err)
	}
	if d, err := c.Bindings("LATER_KEY"); err != nil || len(d) != 0 {
		t.Fatalf("a key added later: %v %v", d, err)
	}
	if err := f.store.Delete(ctx, "LATER_KEY"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Bindings("LATER_KEY"); err != nil {
		t.Fatalf("cached until refresh: %v", err)
	}
	c.Refresh()
	if _, err := c.Bindings("LATER_KEY"); !errors.Is(err, runner.ErrSecretMissing) {
		t.Fatalf("after refresh: %v", err)
	}
}
