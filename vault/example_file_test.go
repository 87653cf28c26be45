package vault

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// handWritten is a .env.example as a project keeps it in its repository.
const handWritten = "# copy to .env and fill in\nDATABASE_URL=postgres://localhost/dev\n"

// TestExampleReplacedOnlyWhenOurs: in either storage mode a .env.example
// is replaced only when agentsecrets wrote it (or it is empty). One the
// user wrote is kept byte for byte, and the write goes on without it.
func TestExampleReplacedOnlyWhenOurs(t *testing.T) {
	for _, mode := range []int{1, 2} {
		for _, tc := range []struct {
			name, content string
			kept          bool
		}{
			{"the user's own", handWritten, true},
			{"empty", "", false},
			{"one agentsecrets wrote", "", false}, // the one of the previous write
		} {
			t.Run(fmt.Sprintf("%s in storage mode %d", tc.name, mode), func(t *testing.T) {
				var s *Store
				var ctx Context
				if mode == 2 {
					s, ctx, _ = newMode2Store(t)
				} else {
					s, ctx = newTestStore(t)
				}
				path := filepath.Join(s.cwd, ".env.example")
				must(t, s.Set(ctx, "A_KEY", []byte("a")))
				if tc.name != "one agentsecrets wrote" {
					must(t, os.WriteFile(path, []byte(tc.content), 0o644))
				}
				err := s.Set(ctx, "B_KEY", []byte("b"))
				got, rerr := os.ReadFile(path)
				must(t, rerr)
				if tc.kept {
					if err != nil || string(got) != tc.content {
						t.Fatalf("Set error = %v, .env.example = %q; want no error and the file kept", err, got)
					}
					if v, err := s.Get(ctx, "B_KEY"); err != nil || string(v.Bytes()) != "b" {
						t.Fatalf("B_KEY not stored: %v", err)
					}
					return
				}
				if err != nil || !strings.Contains(string(got), "\nB_KEY=\n") {
					t.Fatalf("Set error = %v, .env.example = %q", err, got)
				}
			})
		}
	}
}

// TestInitKeepsTheUsersExample: init in a directory holding a
// .env.example of the user's own succeeds and leaves the file as it was.
func TestInitKeepsTheUsersExample(t *testing.T) {
	first, _ := newTestStore(t)
	home, dir := first.Home(), filepath.Join(t.TempDir(), "other")
	must(t, os.Mkdir(dir, 0o700))
	path := filepath.Join(dir, ".env.example")
	must(t, os.WriteFile(path, []byte(handWritten), 0o644))
	s, err := Open(Options{Home: home, Cwd: dir, Backend: first.backend, Getenv: func(string) string { return "" }})
	must(t, err)
	if _, err := s.Init(InitOptions{}); err != nil {
		t.Fatalf("Init: %v", err)
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != handWritten {
		t.Fatalf(".env.example = %q, %v; want the user's file kept", got, err)
	}
}
