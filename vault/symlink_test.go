package vault

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSymlinkedProjectDirRefused: a project's .agentsecrets that is a
// symbolic link (a cloned repository can hold one pointing anywhere) is
// never followed: init and every command that reads or writes
// project.json fail with ErrInvalid, a lowercase message naming the link
// and a hint, and the link's target keeps its mode and content.
func TestSymlinkedProjectDirRefused(t *testing.T) {
	cases := []struct {
		name        string
		projectJSON string // in the link's target; "": an empty directory
		op          func(s *Store) error
	}{
		{"init through a link to an empty directory", "", func(s *Store) error { return second(s.Init(InitOptions{})) }},
		{"init through a link to a project", `{"project":"app","storage_mode":1}`, func(s *Store) error { return second(s.Init(InitOptions{})) }},
		{"context", `{"project":"app","storage_mode":1}`, func(s *Store) error { return second(s.Context()) }},
		{"environment switch", `{"project":"app","storage_mode":1}`, func(s *Store) error { return s.SwitchEnvironment(Staging) }},
		{"project use", `{"project":"app","storage_mode":2}`, func(s *Store) error { return s.UseProject("app") }},
		{"project rename", `{"project":"app","storage_mode":1}`, func(s *Store) error {
			name := "renamed"
			return s.UpdateProject("app", ProjectUpdate{Name: &name})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			first, _ := newTestStore(t) // project "app" exists in the home
			target := filepath.Join(t.TempDir(), "elsewhere")
			must(t, os.Mkdir(target, 0o755))
			if tc.projectJSON != "" {
				must(t, os.WriteFile(filepath.Join(target, ProjectFile), []byte(tc.projectJSON), 0o644))
			}
			must(t, os.Chmod(target, 0o755))
			clone := filepath.Join(t.TempDir(), "clone")
			must(t, os.Mkdir(clone, 0o755))
			link := filepath.Join(clone, ProjectDirName)
			must(t, os.Symlink(target, link))
			s, err := Open(Options{Home: first.Home(), Cwd: clone, Backend: first.backend, Getenv: func(string) string { return "" }})
			must(t, err)
			state := func() string { return snapshot(t, target) + listDir(t, clone) + snapshot(t, first.Home()) }
			before := state()

			err = tc.op(s)
			if after := state(); after != before {
				t.Errorf("the refused command changed files:\n%s\n---\n%s", before, after)
			}
			var ve *Error
			if !errors.Is(err, ErrInvalid) || !errors.As(err, &ve) {
				t.Fatalf("error = %v, want ErrInvalid", err)
			}
			if msg := err.Error(); !strings.Contains(msg, link) || !strings.Contains(msg, "symbolic link") || msg != strings.ToLower(msg[:1])+msg[1:] {
				t.Errorf("message %q: want it lowercase, naming %s as a symbolic link", msg, link)
			}
			if h := ve.Hint(); h == "" || h != strings.ToLower(h[:1])+h[1:] || strings.HasSuffix(h, ".") {
				t.Errorf("hint %q: want one, lowercase, no final period", h)
			}
		})
	}
}

// listDir lists the entries of dir with their modes, and where a
// symbolic link points, without following it.
func listDir(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	must(t, err)
	var b strings.Builder
	for _, e := range entries {
		info, err := e.Info()
		must(t, err)
		b.WriteString(e.Name() + " " + info.Mode().String())
		if info.Mode()&os.ModeSymlink != 0 {
			to, err := os.Readlink(filepath.Join(dir, e.Name()))
			must(t, err)
			b.WriteString(" -> " + to)
		}
		b.WriteString("\n")
	}
	return b.String()
}
