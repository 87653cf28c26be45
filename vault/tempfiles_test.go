package vault

import (
	"os"
	"path/filepath"
	"testing"
)

// TestStaleDotenvTempsRemoved: a storage mode 2 write killed between its
// temporary file and the rename leaves ..env.tmp-<digits> holding
// plaintext values. The next write of the project files removes every
// such file (and only those), in either storage mode, even one refused
// because the .env is the user's own.
func TestStaleDotenvTempsRemoved(t *testing.T) {
	cases := []struct {
		name  string
		mode  int
		setup func(t *testing.T, dir string)
	}{
		{"storage mode 2 write", 2, nil},
		{"storage mode 1 write", 1, nil},
		{"write refused by the user's own .env", 2, func(t *testing.T, dir string) {
			must(t, os.WriteFile(filepath.Join(dir, ".env"), []byte("MINE=only copy\n"), 0o600))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var s *Store
			var ctx Context
			if tc.mode == 2 {
				s, ctx, _ = newMode2Store(t)
			} else {
				s, ctx = newTestStore(t)
			}
			dir := s.cwd
			must(t, s.Set(ctx, "A_KEY", []byte("a")))
			stale := []string{"..env.tmp-3141592653", "..env.tmp-7"}
			kept := []string{"..env.tmp-notours", "my..env.tmp-1"}
			for _, name := range append(stale, kept...) {
				must(t, os.WriteFile(filepath.Join(dir, name), []byte("A_KEY=plaintext left by a killed write\n"), 0o600))
			}
			if tc.setup != nil {
				tc.setup(t, dir)
			}
			_ = s.Set(ctx, "B_KEY", []byte("b"))
			for _, name := range stale {
				if _, err := os.Lstat(filepath.Join(dir, name)); !os.IsNotExist(err) {
					t.Errorf("%s left after the next write: %v", name, err)
				}
			}
			for _, name := range kept {
				if _, err := os.Lstat(filepath.Join(dir, name)); err != nil {
					t.Errorf("%s, not a temporary file of agentsecrets, was removed: %v", name, err)
				}
			}
		})
	}
}
