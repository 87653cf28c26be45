package vault

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/The-17/agentsecrets/vault/keychain"
)

// The project directory belongs to the user: init, secret writes and
// environment switches never change its mode. The tool's own directories
// and files stay 0700/0600, .env.example (names only, meant to be
// committed) is 0644 and .env (storage mode 2, values) 0600.
func TestProjectDirectoryModeKept(t *testing.T) {
	for _, tc := range []struct {
		name        string
		dirMode     os.FileMode
		storageMode int
		oldExample  os.FileMode // mode of a .env.example agentsecrets wrote before; 0: none
	}{
		{"0755 storage mode 1", 0o755, 1, 0},
		{"0750 storage mode 1", 0o750, 1, 0},
		{"0775 storage mode 2", 0o775, 2, 0},
		{"0711 storage mode 2", 0o711, 2, 0},
		{"loose .env.example narrowed", 0o755, 1, 0o666},
		{"0600 .env.example from an older version", 0o755, 1, 0o600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := filepath.Join(t.TempDir(), "home")
			dir := filepath.Join(t.TempDir(), "proj")
			must(t, os.Mkdir(dir, 0o700))
			if tc.oldExample != 0 {
				p := filepath.Join(dir, ".env.example")
				must(t, os.WriteFile(p, []byte(exampleHeader+"\"proj\" (values live in the agentsecrets vault)\nOLD=\n"), 0o600))
				must(t, os.Chmod(p, tc.oldExample))
			}
			must(t, os.Chmod(dir, tc.dirMode))
			s, err := Open(Options{Home: home, Cwd: dir, Backend: keychain.NewMemory(), Getenv: func(string) string { return "" }})
			must(t, err)
			ctx, err := s.Init(InitOptions{StorageMode: tc.storageMode})
			must(t, err)
			must(t, s.Set(ctx, "K", []byte("v")))
			must(t, s.SwitchEnvironment(Staging))
			must(t, s.Set(ctx.WithEnvironment(Staging), "K", []byte("w")))

			want := map[string]os.FileMode{
				dir:                                tc.dirMode,
				filepath.Join(dir, ".env.example"): exampleFileMode,
				filepath.Join(dir, ProjectDirName): 0o700,
				filepath.Join(dir, ProjectDirName, ProjectFile): 0o600,
				home:                            0o700,
				filepath.Join(home, ConfigFile): 0o600,
				filepath.Join(home, IndexFile):  0o600,
			}
			if tc.storageMode == 2 {
				want[filepath.Join(dir, ".env")] = 0o600
			}
			for p, m := range want {
				info, err := os.Stat(p)
				if err != nil {
					t.Errorf("%v", err)
					continue
				}
				if info.Mode().Perm() != m {
					t.Errorf("%s mode = %v, want %v", p, info.Mode().Perm(), m)
				}
			}
		})
	}
}

// scopeFixture is a home with projects "app" (active in the global config,
// initialized in dirs["app"]) and "q" (initialized in dirs["q"]), and an
// unrelated directory dirs["elsewhere"].
type scopeFixture struct {
	home    string
	dirs    map[string]string
	backend keychain.Backend
}

func newScopeFixture(t *testing.T) *scopeFixture {
	t.Helper()
	root := t.TempDir()
	f := &scopeFixture{home: filepath.Join(root, "home"), dirs: map[string]string{}, backend: keychain.NewMemory()}
	for _, name := range []string{"app", "q", "elsewhere"} {
		f.dirs[name] = filepath.Join(root, name)
		must(t, os.Mkdir(f.dirs[name], 0o700))
	}
	for _, name := range []string{"app", "q"} {
		_, err := f.open(t, name, "", "").Init(InitOptions{})
		must(t, err)
	}
	return f
}

// open opens a store in dirs[cwd] with the --project and --env overrides.
func (f *scopeFixture) open(t *testing.T, cwd, project, env string) *Store {
	t.Helper()
	s, err := Open(Options{Home: f.home, Cwd: f.dirs[cwd], Backend: f.backend, Project: project, Environment: env,
		Getenv: func(string) string { return "" }})
	must(t, err)
	return s
}

// state is what the switch may change: the global pair and each
// project.json's project and environment.
func (f *scopeFixture) state(t *testing.T) map[string]string {
	t.Helper()
	cfg, err := readConfig(filepath.Join(f.home, ConfigFile))
	must(t, err)
	st := map[string]string{"global": cfg.Workspace + "/" + cfg.Project + "/" + cfg.Environment}
	for _, name := range []string{"app", "q"} {
		pc, err := LoadProjectConfig(filepath.Join(f.dirs[name], ProjectDirName, ProjectFile))
		must(t, err)
		st[name+"/project.json"] = pc.Project + "/" + pc.Environment
	}
	return st
}

func TestActivateEnvironmentScope(t *testing.T) {
	for _, tc := range []struct {
		name              string
		cwd, project, env string // where it runs, --project, --env
		arg               string
		wantErr           error
		wantCtx           string // project/environment/project file's dir
		want              map[string]string
	}{
		{name: "in the project's directory: project.json and the global pair",
			cwd: "q", arg: Staging, wantCtx: "q/staging/q",
			want: map[string]string{"global": "default/q/staging", "app/project.json": "app/development", "q/project.json": "q/staging"}},
		{name: "--project naming the directory's project",
			cwd: "app", project: "app", arg: Production, wantCtx: "app/production/app",
			want: map[string]string{"global": "default/app/production", "app/project.json": "app/production", "q/project.json": "q/development"}},
		{name: "--project naming another project: only the global pair",
			cwd: "app", project: "q", arg: Production, wantCtx: "q/production/",
			want: map[string]string{"global": "default/q/production", "app/project.json": "app/development", "q/project.json": "q/development"}},
		{name: "outside a project directory: the global pair",
			cwd: "elsewhere", arg: Staging, wantCtx: "app/staging/",
			want: map[string]string{"global": "default/app/staging", "app/project.json": "app/development", "q/project.json": "q/development"}},
		{name: "outside, --project another project",
			cwd: "elsewhere", project: "q", arg: Staging, wantCtx: "q/staging/",
			want: map[string]string{"global": "default/q/staging", "app/project.json": "app/development", "q/project.json": "q/development"}},
		{name: "--env equal to the argument",
			cwd: "q", env: Staging, arg: Staging, wantCtx: "q/staging/q",
			want: map[string]string{"global": "default/q/staging", "app/project.json": "app/development", "q/project.json": "q/staging"}},
		{name: "--project naming an unknown project", cwd: "app", project: "nope", arg: Production, wantErr: ErrProjectNotFound},
		{name: "--env conflicting with the argument", cwd: "app", env: Staging, arg: Production, wantErr: ErrInvalid},
		{name: "unknown environment", cwd: "app", arg: "prod", wantErr: ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newScopeFixture(t)
			before := f.state(t)
			ctx, err := f.open(t, tc.cwd, tc.project, tc.env).ActivateEnvironment(tc.arg)
			if tc.wantErr != nil {
				f.wantRefused(t, before, err, tc.wantErr)
				return
			}
			must(t, err)
			pf := ""
			if ctx.ProjectFile != "" {
				pf = filepath.Base(filepath.Dir(filepath.Dir(ctx.ProjectFile)))
			}
			if got := ctx.Project + "/" + ctx.Environment + "/" + pf; got != tc.wantCtx {
				t.Errorf("context = %s, want %s", got, tc.wantCtx)
			}
			if got := f.state(t); !equalMaps(got, tc.want) {
				t.Errorf("state = %v\nwant    %v", got, tc.want)
			}
		})
	}

	// No project anywhere: a clear error, not an environment for nobody.
	s, err := Open(Options{Home: filepath.Join(t.TempDir(), "home"), Cwd: t.TempDir(), Backend: keychain.NewMemory(),
		Getenv: func(string) string { return "" }})
	must(t, err)
	if _, err := s.ActivateEnvironment(Staging); !errors.Is(err, ErrNotInitialized) {
		t.Fatalf("no project: err = %v, want ErrNotInitialized", err)
	}
}

// wantRefused wants err to be wantErr and the files to hold what they held
// before.
func (f *scopeFixture) wantRefused(t *testing.T, before map[string]string, err, wantErr error) {
	t.Helper()
	if !errors.Is(err, wantErr) {
		t.Fatalf("err = %v, want %v", err, wantErr)
	}
	if after := f.state(t); !equalMaps(before, after) {
		t.Fatalf("a refused change turned %v into %v", before, after)
	}
}

func TestUseProjectScope(t *testing.T) {
	for _, tc := range []struct {
		name              string
		cwd, project, env string
		arg               string
		wantErr           error
		want              map[string]string
	}{
		{name: "in a directory: project.json and the global pair take its environment",
			cwd: "app", arg: "q",
			want: map[string]string{"global": "default/q/staging", "app/project.json": "q/staging", "q/project.json": "q/development"}},
		{name: "outside: the global pair keeps the global environment",
			cwd: "elsewhere", arg: "q",
			want: map[string]string{"global": "default/q/production", "app/project.json": "app/staging", "q/project.json": "q/development"}},
		{name: "--env sets the environment with the project",
			cwd: "app", env: Development, arg: "q",
			want: map[string]string{"global": "default/q/development", "app/project.json": "q/development", "q/project.json": "q/development"}},
		{name: "--project equal to the argument",
			cwd: "elsewhere", project: "q", arg: "q",
			want: map[string]string{"global": "default/q/production", "app/project.json": "app/staging", "q/project.json": "q/development"}},
		{name: "--project naming another project is refused", cwd: "app", project: "app", arg: "q", wantErr: ErrInvalid},
		{name: "unknown project", cwd: "app", arg: "nope", wantErr: ErrProjectNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newScopeFixture(t)
			// app's directory in staging, the global pair (app, production).
			must(t, f.open(t, "app", "", "").SwitchEnvironment(Staging))
			must(t, f.open(t, "elsewhere", "", "").SwitchEnvironment(Production))
			before := f.state(t)
			err := f.open(t, tc.cwd, tc.project, tc.env).UseProject(tc.arg)
			if tc.wantErr != nil {
				f.wantRefused(t, before, err, tc.wantErr)
				return
			}
			must(t, err)
			if got := f.state(t); !equalMaps(got, tc.want) {
				t.Errorf("state = %v\nwant    %v", got, tc.want)
			}
		})
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
