package vault

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/The-17/agentsecrets/vault/keychain"
)

// newTestStore returns a store over a memory backend with a project "app"
// initialized in a fresh directory.
func newTestStore(t *testing.T) (*Store, Context) {
	t.Helper()
	home, dir := t.TempDir(), filepath.Join(t.TempDir(), "app")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	s, err := Open(Options{Home: home, Cwd: dir, Backend: keychain.NewMemory(),
		Getenv: func(k string) string { return map[string]string{"AGENTSECRETS_BACKEND": "file"}[k] }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, err := s.Init(InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s, ctx
}

func TestSetGetListDelete(t *testing.T) {
	s, ctx := newTestStore(t)
	if ctx.Project != "app" || ctx.Environment != Development || ctx.Workspace != DefaultWorkspace {
		t.Fatalf("init context = %+v", ctx)
	}
	must(t, s.Set(ctx, "STRIPE_KEY", []byte("sk_dev")))
	must(t, s.Set(ctx.WithEnvironment(Production), "STRIPE_KEY", []byte("sk_prod")))
	must(t, s.Set(ctx, "OPENAI_KEY", []byte("oa")))

	v, err := s.Get(ctx, "STRIPE_KEY")
	if err != nil || string(v.Bytes()) != "sk_dev" {
		t.Fatalf("Get = %v, %v", string(v.Bytes()), err)
	}
	list, err := s.List(ctx)
	must(t, err)
	got := fmt.Sprint(list)
	want := "[{OPENAI_KEY map[development:true production:false staging:false] map[] map[]} {STRIPE_KEY map[development:true production:true staging:false] map[] map[]}]"
	if got != want {
		t.Fatalf("List = %s\nwant %s", got, want)
	}
	e, err := s.Entry(ctx, "STRIPE_KEY")
	must(t, err)
	must(t, s.Set(ctx, "STRIPE_KEY", []byte("sk_dev2")))
	e2, _ := s.Entry(ctx, "STRIPE_KEY")
	if e2.Version != e.Version+1 || e2.Fingerprint == e.Fingerprint {
		t.Fatalf("second set: version %d -> %d, fingerprint changed %v", e.Version, e2.Version, e2.Fingerprint != e.Fingerprint)
	}
	must(t, s.Delete(ctx, "STRIPE_KEY"))
	if _, err := s.Get(ctx, "STRIPE_KEY"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after delete = %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, "STRIPE_KEY"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Delete = %v, want ErrNotFound", err)
	}
}

func TestBadInputChangesNothing(t *testing.T) {
	s, ctx := newTestStore(t)
	must(t, s.Set(ctx, "A_KEY", []byte("v")))
	before := snapshot(t, s.Home())
	checks := []struct {
		name string
		err  error
		kind error
	}{
		{"bad key", s.Set(ctx, "lower", []byte("v")), ErrInvalid},
		{"empty value", s.Set(ctx, "B_KEY", nil), ErrInvalid},
		{"bad env", s.Set(ctx.WithEnvironment("prod"), "B_KEY", []byte("v")), ErrInvalid},
		{"missing project", s.Set(ctx.WithProject("nope"), "B_KEY", []byte("v")), ErrProjectNotFound},
		{"missing key", s.Delete(ctx, "NOPE_KEY"), ErrNotFound},
		{"copy onto itself", second(s.Copy(ctx, Development, Development)), ErrInvalid},
		{"bad domain", second(s.AllowlistAdd([]string{"https://x.com/"})), ErrInvalid},
		{"remove absent domain", second(s.AllowlistRemove([]string{"x.com"})), ErrNotFound},
		{"duplicate project", s.CreateProject("app", ""), ErrExists},
		{"use missing project", s.UseProject("nope"), ErrProjectNotFound},
	}
	for _, c := range checks {
		if !errors.Is(c.err, c.kind) {
			t.Errorf("%s: error %v, want %v", c.name, c.err, c.kind)
		}
	}
	if after := snapshot(t, s.Home()); after != before {
		t.Fatalf("home changed by rejected input:\n%s\n---\n%s", before, after)
	}
}

func TestDiffCopyClean(t *testing.T) {
	s, ctx := newTestStore(t)
	must(t, s.Set(ctx, "SAME_KEY", []byte("1")))
	must(t, s.Set(ctx, "DIFF_KEY", []byte("a")))
	must(t, s.Set(ctx, "DEV_ONLY", []byte("x")))
	prod := ctx.WithEnvironment(Production)
	must(t, s.Set(prod, "SAME_KEY", []byte("1")))
	must(t, s.Set(prod, "DIFF_KEY", []byte("b")))
	must(t, s.Set(prod, "PROD_ONLY", []byte("y")))
	d, err := s.Diff(ctx, Development, Production)
	must(t, err)
	if fmt.Sprint(d.OnlyInFrom, d.OnlyInTo, d.Differ, d.Same) != "[DEV_ONLY] [PROD_ONLY] [DIFF_KEY] [SAME_KEY]" {
		t.Fatalf("Diff = %+v", d)
	}
	copied, err := s.Copy(ctx, Development, Staging)
	must(t, err)
	if len(copied) != 3 {
		t.Fatalf("copied %v", copied)
	}
	v, _ := s.Get(ctx.WithEnvironment(Staging), "DIFF_KEY")
	if string(v.Bytes()) != "a" {
		t.Fatal("copy did not copy the value")
	}
	if d, _ := s.Diff(ctx, Development, Staging); !d.InSync() {
		t.Fatalf("after copy: %+v", d)
	}
	removed, err := s.Clean(ctx.WithEnvironment(Staging))
	must(t, err)
	sums, _ := s.EnvironmentSummaries(ctx)
	if len(removed) != 3 || fmt.Sprint(sums) != "[{development 3 true} {staging 0 false} {production 3 false}]" {
		t.Fatalf("clean removed %v, summaries %v", removed, sums)
	}
}

func TestProjectsLifecycle(t *testing.T) {
	s, ctx := newTestStore(t)
	must(t, s.Set(ctx, "K", []byte("v")))
	must(t, s.CreateProject("other", "second"))
	newName := "renamed"
	must(t, s.UpdateProject("app", ProjectUpdate{Name: &newName}))
	cur, err := s.Context()
	must(t, err)
	if cur.Project != "renamed" {
		t.Fatalf("project.json not following the rename: %+v", cur)
	}
	v, err := s.Get(cur, "K")
	if err != nil || string(v.Bytes()) != "v" {
		t.Fatalf("value lost in rename: %v", err)
	}
	if _, err := s.backend.Get(keychain.Ref{Workspace: "default", Project: "app", Environment: Development, Key: "K"}); !errors.Is(err, keychain.ErrNotFound) {
		t.Fatalf("old value left behind: %v", err)
	}
	n, err := s.DeleteProject("renamed")
	if err != nil || n != 1 {
		t.Fatalf("DeleteProject = %d, %v", n, err)
	}
	if _, err := s.backend.Get(ref(cur, Development, "K")); !errors.Is(err, keychain.ErrNotFound) {
		t.Fatalf("delete left the value in the backend: %v", err)
	}
	ps, _ := s.Projects()
	if len(ps) != 1 || ps[0].Name != "other" || ps[0].Description != "second" {
		t.Fatalf("Projects = %+v", ps)
	}
}

func TestStorageModeFiles(t *testing.T) {
	s, ctx := newTestStore(t)
	must(t, s.Set(ctx, "B_KEY", []byte("secret value")))
	dir := filepath.Dir(filepath.Dir(ctx.ProjectFile))
	ex, err := os.ReadFile(filepath.Join(dir, ".env.example"))
	must(t, err)
	if !strings.Contains(string(ex), "\nB_KEY=\n") || strings.Contains(string(ex), "secret value") {
		t.Fatalf(".env.example = %q", ex)
	}
	if _, err := os.Stat(filepath.Join(dir, ".env")); !os.IsNotExist(err) {
		t.Fatalf("storage mode 1 wrote .env: %v", err)
	}

	var warn strings.Builder
	dir2 := filepath.Join(t.TempDir(), "two")
	must(t, os.Mkdir(dir2, 0o700))
	s2, err := Open(Options{Home: s.Home(), Cwd: dir2, Backend: s.backend, Warn: &warn, Getenv: func(string) string { return "" }})
	must(t, err)
	ctx2, err := s2.Init(InitOptions{StorageMode: 2})
	must(t, err)
	must(t, s2.Set(ctx2, "C_KEY", []byte(`a "b"`)))
	env, err := os.ReadFile(filepath.Join(dir2, ".env"))
	must(t, err)
	if !strings.Contains(string(env), `C_KEY='a "b"'`) || !strings.Contains(warn.String(), "PLAINTEXT") {
		t.Fatalf(".env = %q, warning %q", env, warn.String())
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := NewSecret([]byte("hunter2"))
	js, _ := json.Marshal(map[string]any{"s": s})
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s %q %x %X %d", s, s, s, s, s, s, s, s), string(js)} {
		if strings.Contains(out, "hunter2") || strings.Contains(out, "68756e") {
			t.Fatalf("secret printed: %s", out)
		}
	}
	if string(s.Bytes()) != "hunter2" {
		t.Fatal("Bytes lost the value")
	}
}

func TestContextNotInitialized(t *testing.T) {
	s, err := Open(Options{Home: t.TempDir(), Cwd: t.TempDir(), Backend: keychain.NewMemory()})
	must(t, err)
	if _, err := s.Context(); !errors.Is(err, ErrNotInitialized) {
		t.Fatalf("Context = %v, want ErrNotInitialized", err)
	}
	st, err := s.Status()
	if err != nil || st.Initialized {
		t.Fatalf("Status = %+v, %v", st, err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func second[T any](_ T, err error) error { return err }

// snapshot lists every file under dir with its content.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %v\n", p, info.Mode())
		if !info.IsDir() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			b.Write(data)
		}
		return nil
	})
	must(t, err)
	return b.String()
}

// TestInitStorageMode2ChoosesBackendUnderTheLock: the first init in storage
// mode 2, with no backend recorded nor named, opens the backend while
// holding the lock; it must not wait for that lock again.
func TestInitStorageMode2ChoosesBackendUnderTheLock(t *testing.T) {
	home, dir := filepath.Join(t.TempDir(), "home"), filepath.Join(t.TempDir(), "app")
	must(t, os.Mkdir(dir, 0o700))
	s, err := Open(Options{Home: home, Cwd: dir, BackendTimeout: time.Second,
		Getenv: func(k string) string { return map[string]string{"AGENTSECRETS_PASSPHRASE": "pw"}[k] }})
	must(t, err)
	done := make(chan error, 1)
	go func() { _, err := s.Init(InitOptions{StorageMode: 2}); done <- err }()
	select {
	case err := <-done:
		must(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("Init in storage mode 2 did not return: it waits for the lock it holds")
	}
	cfg, err := s.Config()
	must(t, err)
	if cfg.Backend != keychain.KindFile && cfg.Backend != keychain.KindKeychain {
		t.Fatalf("backend recorded at init = %q", cfg.Backend)
	}
}

// flakyDeletes is a backend whose deletes fail after the first ok ones,
// as an OS keychain that stops answering does.
type flakyDeletes struct {
	keychain.Backend
	ok int
}

func (f *flakyDeletes) Delete(ref keychain.Ref) error {
	if f.ok == 0 {
		return keychain.ErrUnavailable
	}
	f.ok--
	return f.Backend.Delete(ref)
}

// TestRenameProjectKeepsEverySecret: a rename that fails half way leaves
// every value readable under the name the index gives the project.
func TestRenameProjectKeepsEverySecret(t *testing.T) {
	home, dir := t.TempDir(), filepath.Join(t.TempDir(), "app")
	must(t, os.Mkdir(dir, 0o700))
	backend := &flakyDeletes{Backend: keychain.NewMemory(), ok: 1 << 30}
	s, err := Open(Options{Home: home, Cwd: dir, Backend: backend, Getenv: func(string) string { return "" }})
	must(t, err)
	ctx, err := s.Init(InitOptions{})
	must(t, err)
	keys := []string{"A_KEY", "B_KEY", "C_KEY"}
	for _, k := range keys {
		must(t, s.Set(ctx, k, []byte("value of "+k)))
	}
	backend.ok = 1
	renamed := "renamed"
	renameErr := s.UpdateProject("app", ProjectUpdate{Name: &renamed})
	backend.ok = 1 << 30

	ps, err := s.Projects()
	must(t, err)
	if len(ps) != 1 {
		t.Fatalf("projects after rename (error %v): %+v", renameErr, ps)
	}
	at := ctx.WithProject(ps[0].Name)
	for _, k := range keys {
		if v, err := s.Get(at, k); err != nil || string(v.Bytes()) != "value of "+k {
			t.Errorf("%s in project %q after rename (error %v): %v", k, at.Project, renameErr, err)
		}
	}
}

// TestInterruptedRemovalNeverListsAMissingValue: a removal (Delete, Clean,
// DeleteProject) that stops half way, as a backend that stops answering or
// a process killed between two writes does, never leaves a key in the
// index whose value is gone from the backend.
func TestInterruptedRemovalNeverListsAMissingValue(t *testing.T) {
	keys := []string{"A_KEY", "B_KEY", "C_KEY"}
	for name, remove := range map[string]func(s *Store, ctx Context) error{
		"delete": func(s *Store, ctx Context) error { return s.Delete(ctx, "B_KEY") },
		"clean":  func(s *Store, ctx Context) error { return second(s.Clean(ctx)) },
		"delete project": func(s *Store, ctx Context) error {
			return second(s.DeleteProject(ctx.Project))
		},
	} {
		for ok := 0; ok < len(keys); ok++ {
			t.Run(fmt.Sprintf("%s after %d deletes", name, ok), func(t *testing.T) {
				home, dir := t.TempDir(), filepath.Join(t.TempDir(), "app")
				must(t, os.Mkdir(dir, 0o700))
				backend := &flakyDeletes{Backend: keychain.NewMemory(), ok: 1 << 30}
				s, err := Open(Options{Home: home, Cwd: dir, Backend: backend, Getenv: func(string) string { return "" }})
				must(t, err)
				ctx, err := s.Init(InitOptions{})
				must(t, err)
				for _, k := range keys {
					must(t, s.Set(ctx, k, []byte("value of "+k)))
				}
				backend.ok = ok
				removeErr := remove(s, ctx)
				backend.ok = 1 << 30
				if _, err := s.project(ctx); err != nil {
					return // the project is gone from the index
				}
				names, err := s.Names(ctx)
				must(t, err)
				for _, k := range names {
					if _, err := s.Get(ctx, k); err != nil {
						t.Errorf("%s is listed but unreadable after an interrupted %s (error %v): %v", k, name, removeErr, err)
					}
				}
			})
		}
	}
}

// TestUnknownBackendKindIsRefused: a misspelt AGENTSECRETS_BACKEND is bad
// input at init (nothing recorded, nothing written), and a kind recorded
// in config.json that no backend has is reported against that file.
func TestUnknownBackendKindIsRefused(t *testing.T) {
	cases := []struct{ name, env, recorded string }{
		{"misspelt variable at init", "kechain", ""},
		{"other case at init", "File", ""},
		{"unknown kind recorded", "", "kechain"},
		{"value pasted into the variable", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			home, dir := filepath.Join(t.TempDir(), "home"), filepath.Join(t.TempDir(), "app")
			must(t, os.Mkdir(dir, 0o700))
			if tc.recorded != "" {
				must(t, os.Mkdir(home, 0o700))
				must(t, os.WriteFile(filepath.Join(home, ConfigFile), []byte(`{"backend":"`+tc.recorded+`"}`), 0o600))
			}
			env := map[string]string{"AGENTSECRETS_BACKEND": tc.env, "AGENTSECRETS_PASSPHRASE": "pw"}
			s, err := Open(Options{Home: home, Cwd: dir, BackendTimeout: time.Second,
				Getenv: func(k string) string { return env[k] }})
			must(t, err)
			_, err = s.Init(InitOptions{})
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Init error = %v, want ErrInvalid", err)
			}
			if _, err := os.Stat(filepath.Join(dir, ProjectDirName)); err == nil {
				t.Error("Init with an unknown backend wrote project files")
			}
			cfg, err := s.Config()
			must(t, err)
			if cfg.Backend != tc.recorded {
				t.Errorf("recorded backend = %q, want %q", cfg.Backend, tc.recorded)
			}
			if _, err := s.Backend(); !errors.Is(err, ErrInvalid) {
				t.Errorf("Backend error = %v, want ErrInvalid", err)
			}
			// The kind is not repeated (a value may be pasted into the
			// variable): its length, and the kinds there are.
			kind := tc.env + tc.recorded
			_, err = s.BackendKind()
			if want := fmt.Sprintf("unknown backend (%d characters)", len(kind)); err == nil || !strings.Contains(err.Error(), want) ||
				!strings.Contains(err.Error(), "not keychain or file") {
				t.Errorf("BackendKind error = %v, want %q and the kinds", err, want)
			}
			var ve *Error
			if err != nil && (strings.Contains(err.Error(), kind) || errors.As(err, &ve) && strings.Contains(ve.Hint(), kind)) {
				t.Errorf("BackendKind error = %v: repeats the kind", err)
			}
			if tc.recorded != "" {
				if _, err := s.BackendKind(); err == nil || !strings.Contains(err.Error(), ConfigFile) {
					t.Errorf("BackendKind error = %v, want one naming %s", err, ConfigFile)
				}
			}
		})
	}
}

// TestProjectDescriptionRefused: a description with a control character
// is refused on create and on update, and changes nothing.
func TestProjectDescriptionRefused(t *testing.T) {
	s, _ := newTestStore(t)
	if err := s.CreateProject("esc", "\x1b]0;owned\x07"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("CreateProject with an escape = %v, want ErrInvalid", err)
	}
	must(t, s.CreateProject("plain", "first"))
	bad := "line\nforged row"
	if err := s.UpdateProject("plain", ProjectUpdate{Description: &bad}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("UpdateProject with a newline = %v, want ErrInvalid", err)
	}
	ps, err := s.Projects()
	must(t, err)
	for _, p := range ps {
		if p.Name == "esc" || (p.Name == "plain" && p.Description != "first") {
			t.Fatalf("a refused description changed the index: %+v", ps)
		}
	}
}

// newFileStore opens a store over the encrypted file backend in home,
// working in dir, with pass as $AGENTSECRETS_PASSPHRASE ("" for none).
func newFileStore(t *testing.T, home, dir, pass string) *Store {
	t.Helper()
	env := map[string]string{"AGENTSECRETS_BACKEND": keychain.KindFile, "AGENTSECRETS_PASSPHRASE": pass}
	s, err := Open(Options{Home: home, Cwd: dir, Getenv: func(k string) string { return env[k] }})
	must(t, err)
	return s
}

// TestRemovalWithUnusableVaultChangesNothing: a removal (Delete, Clean,
// DeleteProject) that the encrypted file would refuse as a whole (a wrong
// passphrase, none, a vault.enc that does not parse) is an error that
// changes nothing: the index keeps listing every key, whose value is still
// there for the right passphrase, instead of dropping keys whose values
// then stay in the file with nothing to reach them.
func TestRemovalWithUnusableVaultChangesNothing(t *testing.T) {
	removals := map[string]func(s *Store, ctx Context) error{
		"delete":         func(s *Store, ctx Context) error { return s.Delete(ctx, "A_KEY") },
		"clean":          func(s *Store, ctx Context) error { return second(s.Clean(ctx)) },
		"delete project": func(s *Store, ctx Context) error { return second(s.DeleteProject(ctx.Project)) },
	}
	vaults := []struct {
		name, pass string
		truncate   bool
		want       error // nil: any error
	}{
		{"wrong passphrase", "wrong", false, keychain.ErrBadPassphrase},
		{"no passphrase", "", false, keychain.ErrNoPassphrase},
		{"truncated vault file", "pw", true, nil},
	}
	for name, remove := range removals {
		for _, v := range vaults {
			t.Run(name+"/"+v.name, func(t *testing.T) {
				home, dir := t.TempDir(), filepath.Join(t.TempDir(), "app")
				must(t, os.Mkdir(dir, 0o700))
				s := newFileStore(t, home, dir, "pw")
				ctx, err := s.Init(InitOptions{})
				must(t, err)
				must(t, s.Set(ctx, "A_KEY", []byte("value a")))
				must(t, s.Set(ctx, "B_KEY", []byte("value b")))
				vaultPath := filepath.Join(home, keychain.VaultFileName)
				sealed, err := os.ReadFile(vaultPath)
				must(t, err)
				if v.truncate {
					must(t, os.WriteFile(vaultPath, sealed[:len(sealed)/2], 0o600))
				}
				before := snapshot(t, home) + snapshot(t, dir)
				err = remove(newFileStore(t, home, dir, v.pass), ctx)
				if err == nil || (v.want != nil && !errors.Is(err, v.want)) {
					t.Fatalf("error = %v, want %v", err, v.want)
				}
				if after := snapshot(t, home) + snapshot(t, dir); after != before {
					t.Fatalf("the refused %s changed files:\n%s\n---\n%s", name, before, after)
				}
				must(t, os.WriteFile(vaultPath, sealed, 0o600))
				s = newFileStore(t, home, dir, "pw")
				for _, k := range []string{"A_KEY", "B_KEY"} {
					if got, err := s.Get(ctx, k); err != nil || string(got.Bytes()) != "value "+strings.ToLower(k[:1]) {
						t.Errorf("%s after the refused %s: %v", k, name, err)
					}
				}
			})
		}
	}
}

// TestIndexWithNullsIsAnError: an index.json edited by hand (or by another
// tool) to hold null where a workspace, project or key entry belongs is
// reported as a malformed index naming the file and the place, by every
// reader and writer, instead of a nil dereference; nothing is written.
func TestIndexWithNullsIsAnError(t *testing.T) {
	const project = `{"created":"2025-01-01T00:00:00Z","environments":{"development":{"A_KEY":{"version":1,"fingerprint":""}}}}`
	cases := []struct{ name, index, place string }{
		{"null workspace", `{"version":1,"workspaces":{"default":{"projects":{"app":` + project + `}},"other":null}}`, `"other"`},
		{"null project", `{"version":1,"workspaces":{"default":{"projects":{"app":` + project + `,"old":null}}}}`, `"old"`},
		{"null key", `{"version":1,"workspaces":{"default":{"projects":{"app":{"created":"2025-01-01T00:00:00Z","environments":{"development":{"A_KEY":{"version":1,"fingerprint":""}},"staging":{"A_KEY":null}}}}}}}`, `"A_KEY"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, ctx := newTestStore(t)
			must(t, s.Set(ctx, "A_KEY", []byte("v")))
			must(t, os.WriteFile(filepath.Join(s.Home(), IndexFile), []byte(tc.index), 0o600))
			before := snapshot(t, s.Home())
			ops := map[string]func() error{
				"list":       func() error { return second(s.List(ctx)) },
				"diff":       func() error { return second(s.Diff(ctx, Development, Staging)) },
				"copy":       func() error { return second(s.Copy(ctx.WithEnvironment(Staging), Staging, Production)) },
				"workspaces": func() error { return second(s.Workspaces()) },
				"projects":   func() error { return second(s.Projects()) },
				"set":        func() error { return s.Set(ctx.WithEnvironment(Staging), "A_KEY", []byte("w")) },
			}
			for name, op := range ops {
				var err error
				func() {
					defer func() {
						if r := recover(); r != nil {
							err = fmt.Errorf("panic: %v", r)
						}
					}()
					err = op()
				}()
				if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), IndexFile) || !strings.Contains(err.Error(), tc.place) {
					t.Errorf("%s: error = %v, want ErrInvalid naming %s and %s", name, err, IndexFile, tc.place)
				}
			}
			if after := snapshot(t, s.Home()); after != before {
				t.Errorf("home changed:\n%s\n---\n%s", before, after)
			}
		})
	}
}
