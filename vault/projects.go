package vault

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/The-17/agentsecrets/vault/fsutil"
	"github.com/The-17/agentsecrets/vault/keychain"
)

// InitOptions configure Init.
type InitOptions struct {
	// Dir is the project directory; "" means the working directory.
	Dir string
	// Project names the project; "" means the directory's name.
	Project string
	// StorageMode is 1 (default) or 2.
	StorageMode int
}

// Init creates Dir/.agentsecrets/project.json, creates the project in the
// index if needed, records the backend kind on the first init (the
// $AGENTSECRETS_BACKEND override, else the OS keychain when it answers,
// else the encrypted file) and makes the project active in the global
// config when none is.
func (s *Store) Init(o InitOptions) (Context, error) {
	if o.Dir == "" {
		o.Dir = s.cwd
	}
	if o.StorageMode == 0 {
		o.StorageMode = 1
	}
	if o.StorageMode != 1 && o.StorageMode != 2 {
		return Context{}, newError(ErrInvalid, "use --storage-mode 1 (keychain only) or 2 (also a plaintext .env)",
			"unknown storage mode %d", o.StorageMode)
	}
	if o.Project == "" {
		o.Project = ProjectNameFrom(filepath.Base(o.Dir))
		if o.Project == "" {
			return Context{}, newError(ErrInvalid, "name it: agentsecrets init --project NAME",
				"cannot make a project name from the directory %q", filepath.Base(o.Dir))
		}
	}
	if err := ValidateProjectName(o.Project); err != nil {
		return Context{}, err
	}
	pcPath := filepath.Join(o.Dir, ProjectDirName, ProjectFile)
	if err := checkNotInitialized(pcPath); err != nil {
		return Context{}, err
	}
	if filepath.Join(o.Dir, ProjectDirName) == s.home {
		return Context{}, newError(ErrInvalid, "run it in a project directory", "cannot initialize a project in the agentsecrets home")
	}
	cfg, err := s.Config()
	if err != nil {
		return Context{}, err
	}
	kind, err := s.BackendKind()
	if err != nil {
		return Context{}, err
	}
	if kind == "" {
		kind = "file"
		if keychain.KeychainAvailable(s.opts.BackendTimeout) {
			kind = "keychain"
		}
	}
	pc := ProjectConfig{Project: o.Project, Workspace: cfg.Workspace, Environment: Development, StorageMode: o.StorageMode}
	ctx := Context{Workspace: pc.Workspace, Project: pc.Project, Environment: pc.Environment, ProjectFile: pcPath, StorageMode: pc.StorageMode}
	err = s.update("", "", func(cfg *Config, ix *Index) error {
		if err := checkNotInitialized(pcPath); err != nil { // another init may have won the lock
			return err
		}
		if cfg.Backend == "" {
			cfg.Backend = kind
		}
		if cfg.Project == "" {
			cfg.Project, cfg.Environment = o.Project, Development
		}
		w := ix.workspace(pc.Workspace, true)
		if w.Projects[o.Project] == nil {
			w.Projects[o.Project] = &ProjectIndex{Created: s.now().UTC(), Environments: map[string]map[string]*Entry{}}
		}
		// The files of the directory first: their values are read (and
		// the passphrase checked) before anything is written, and a
		// failure leaves no project.json behind to make the next init
		// report the directory initialized.
		if err := s.writeFilesFor(pc, filepath.Dir(filepath.Dir(pcPath)), s.kindOf(*cfg), ix); err != nil {
			return err
		}
		if err := fsutil.EnsureDir(filepath.Dir(pcPath)); err != nil {
			return err
		}
		return writeJSON(pcPath, pc)
	})
	return ctx, err
}

// checkNotInitialized fails with ErrExists when pcPath exists, and with
// ErrInvalid when its directory is a symbolic link (see checkProjectDir).
func checkNotInitialized(pcPath string) error {
	if err := checkProjectDir(filepath.Dir(pcPath)); err != nil {
		return err
	}
	if _, err := os.Stat(pcPath); err == nil {
		return newError(ErrExists, "agentsecrets status", "already initialized: %q exists", pcPath)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// ProjectInfo describes a project of the active workspace.
type ProjectInfo struct {
	Name        string         `json:"name"`
	Description string         `json:"description,omitempty"`
	Created     time.Time      `json:"created"`
	Active      bool           `json:"active"`
	Secrets     map[string]int `json:"secrets"`
}

// Projects lists the projects of the active workspace.
func (s *Store) Projects() ([]ProjectInfo, error) {
	ctx, _, err := s.resolve()
	if err != nil {
		return nil, err
	}
	ix, err := s.index()
	if err != nil {
		return nil, err
	}
	w := ix.workspace(ctx.Workspace, false)
	out := []ProjectInfo{}
	if w == nil {
		return out, nil
	}
	for _, name := range sortedKeys(w.Projects) {
		p := w.Projects[name]
		info := ProjectInfo{Name: name, Description: p.Description, Created: p.Created, Active: name == ctx.Project, Secrets: map[string]int{}}
		for _, env := range Environments {
			info.Secrets[env] = len(p.Environments[env])
		}
		out = append(out, info)
	}
	return out, nil
}

// CreateProject adds a project to the active workspace.
func (s *Store) CreateProject(name, description string) error {
	if err := ValidateProjectName(name); err != nil {
		return err
	}
	if err := ValidateDescription(description); err != nil {
		return err
	}
	ws, err := s.Workspace()
	if err != nil {
		return err
	}
	return s.update("", "", func(_ *Config, ix *Index) error {
		w := ix.workspace(ws, true)
		if w.Projects[name] != nil {
			return newError(ErrExists, "agentsecrets project use "+name, "project %q already exists", name)
		}
		w.Projects[name] = &ProjectIndex{Description: description, Created: s.now().UTC(), Environments: map[string]map[string]*Entry{}}
		return nil
	})
}

// UseProject makes an existing project active: in the project.json found
// from the working directory, if any, and in the global config (which is
// what runs outside a project directory see). The global config gets the
// project and its environment together: the directory's environment, or
// the global one outside a project directory (--env overrides both). A
// --project override naming another project is refused: the argument names
// the project.
func (s *Store) UseProject(name string) error {
	if err := ValidateProjectName(name); err != nil {
		return err
	}
	if s.opts.Project != "" && s.opts.Project != name {
		return newError(ErrInvalid, "agentsecrets project use "+name,
			"project use takes the project as its argument: --project %q conflicts with %q", s.opts.Project, name)
	}
	if _, _, err := s.resolve(); err != nil { // bad input changes nothing: checked before the lock
		return err
	}
	return s.updateContext(func(cfg *Config, ix *Index, ctx Context, pc *ProjectConfig) (Context, error) {
		ctx.Project = name
		if _, err := projectOf(ix, ctx); err != nil {
			return Context{}, err
		}
		setGlobalContext(cfg, ctx)
		if pc != nil && (pc.Project != name || pc.Environment != ctx.Environment) {
			pc.Project, pc.Environment = name, ctx.Environment
			return ctx, writeJSON(ctx.ProjectFile, pc)
		}
		return ctx, nil
	}, nil)
}

// SwitchEnvironment is ActivateEnvironment without the context.
func (s *Store) SwitchEnvironment(env string) error {
	_, err := s.ActivateEnvironment(env)
	return err
}

// ActivateEnvironment makes env the active environment of the project the
// store resolves to (the --project override, else the project.json found
// from the working directory, else the global config's project) and
// returns that context. The project must exist.
//
// It records env in the project.json found from the working directory when
// that file names the project (a --project naming another project leaves
// the directory's project.json alone), and always in the global config,
// where the project and the environment are written together: runs outside
// a project directory (exec, mcp) never see one project paired with the
// environment chosen for another. A --env override that differs from env
// is refused.
func (s *Store) ActivateEnvironment(env string) (Context, error) {
	if err := ValidateEnvironment(env); err != nil {
		return Context{}, err
	}
	if s.opts.Environment != "" && s.opts.Environment != env {
		return Context{}, newError(ErrInvalid, "agentsecrets environment switch "+env,
			"environment switch takes the environment as its argument: --env %q conflicts with %q", s.opts.Environment, env)
	}
	// Bad input changes nothing: checked before the lock, again under it.
	if ctx, _, err := s.resolve(); err != nil {
		return Context{}, err
	} else if ctx.Project == "" {
		return Context{}, s.errNoProject()
	}
	var active Context
	err := s.updateContext(func(cfg *Config, ix *Index, ctx Context, pc *ProjectConfig) (Context, error) {
		if ctx.Project == "" {
			return Context{}, s.errNoProject()
		}
		ctx.Environment = env
		own := pc != nil && pc.Project == ctx.Project && pc.Workspace == ctx.Workspace
		if !own {
			ctx.ProjectFile, ctx.StorageMode = "", 1
		}
		if _, err := projectOf(ix, ctx); err != nil {
			return Context{}, err
		}
		setGlobalContext(cfg, ctx)
		active = ctx
		if own && pc.Environment != env {
			pc.Environment = env
			return ctx, writeJSON(ctx.ProjectFile, pc)
		}
		return ctx, nil
	}, nil)
	if err != nil {
		return Context{}, err
	}
	return active, nil
}

// setGlobalContext makes ctx the context of the global config: workspace,
// project and environment always change together.
func setGlobalContext(cfg *Config, ctx Context) {
	cfg.Workspace, cfg.Project, cfg.Environment = ctx.Workspace, ctx.Project, ctx.Environment
}

// ProjectUpdate lists the changes UpdateProject makes; nil fields stay.
type ProjectUpdate struct {
	Name        *string
	Description *string
}

// UpdateProject renames a project (moving its values in the backend and
// following it in the global config and the local project.json) and/or
// sets its description.
func (s *Store) UpdateProject(name string, u ProjectUpdate) error {
	if err := ValidateProjectName(name); err != nil {
		return err
	}
	if u.Name != nil {
		if err := ValidateProjectName(*u.Name); err != nil {
			return err
		}
	}
	if u.Description != nil {
		if err := ValidateDescription(*u.Description); err != nil {
			return err
		}
	}
	ctx, _, err := s.resolve()
	if err != nil {
		return err
	}
	if err := s.requireProject(Context{Workspace: ctx.Workspace, Project: name}); err != nil {
		return err
	}
	var b keychain.Backend
	rename := u.Name != nil && *u.Name != name
	if rename {
		if b, err = s.Backend(); err != nil {
			return err
		}
	}
	// The values under the old name are removed only once the index names
	// the project by its new one: a failure before leaves every value
	// where the index looks for it.
	var stale []keychain.Ref
	removeStale := func() error {
		for _, r := range stale {
			if err := b.Delete(r); err != nil && !errors.Is(err, keychain.ErrNotFound) {
				return fmt.Errorf("vault: project %q is renamed %q, but removing its values under the old name failed: %w", name, *u.Name, err)
			}
		}
		return nil
	}
	return s.updateContext(func(cfg *Config, ix *Index, ctx Context, pc *ProjectConfig) (Context, error) {
		from := Context{Workspace: ctx.Workspace, Project: name}
		p, err := projectOf(ix, from)
		if err != nil {
			return Context{}, err
		}
		if u.Description != nil {
			p.Description = *u.Description
		}
		if !rename {
			return Context{}, nil
		}
		w := ix.workspace(ctx.Workspace, false)
		if w.Projects[*u.Name] != nil {
			return Context{}, newError(ErrExists, "choose another name", "project %q already exists", *u.Name)
		}
		to := from.WithProject(*u.Name)
		for _, env := range Environments {
			for _, k := range p.keys(env) {
				v, err := b.Get(ref(from, env, k))
				if err != nil {
					return Context{}, err
				}
				if err := b.Set(ref(to, env, k), v); err != nil {
					return Context{}, err
				}
			}
		}
		w.Projects[*u.Name] = p
		delete(w.Projects, name)
		for _, env := range Environments {
			for _, k := range p.keys(env) {
				stale = append(stale, ref(from, env, k))
			}
		}
		if cfg.Project == name {
			cfg.Project = *u.Name
		}
		if pc != nil && pc.Project == name && pc.Workspace == ctx.Workspace {
			pc.Project = *u.Name
			return Context{}, writeJSON(ctx.ProjectFile, pc)
		}
		return Context{}, nil
	}, removeStale)
}

// DeleteProject deletes a project and all of its values from the backend.
// It returns the number of values removed.
func (s *Store) DeleteProject(name string) (int, error) {
	if err := ValidateProjectName(name); err != nil {
		return 0, err
	}
	ws, err := s.Workspace()
	if err != nil {
		return 0, err
	}
	ctx := Context{Workspace: ws, Project: name}
	if err := s.requireProject(ctx); err != nil {
		return 0, err
	}
	b, err := s.Backend()
	if err != nil {
		return 0, err
	}
	// The values are removed only once the index no longer lists the
	// project: a failure or a kill half way leaves no listed key without
	// its value.
	var stale []keychain.Ref
	err = s.updateThen("", "", func(cfg *Config, ix *Index) error {
		p, err := projectOf(ix, ctx)
		if err != nil {
			return err
		}
		var refs []keychain.Ref
		for _, env := range Environments {
			for _, k := range p.keys(env) {
				refs = append(refs, ref(ctx, env, k))
			}
		}
		if err := checkRemovable(b, refs); err != nil {
			return err
		}
		stale = refs
		delete(ix.Workspaces[ws].Projects, name)
		if cfg.Project == name {
			cfg.Project = ""
		}
		return nil
	}, func() error { return removeValues(b, stale, "") })
	return len(stale), err
}

// WorkspaceInfo describes a local workspace.
type WorkspaceInfo struct {
	Name      string `json:"name"`
	Active    bool   `json:"active"`
	Projects  int    `json:"projects"`
	Allowlist int    `json:"allowlist"`
}

// Workspaces lists the local workspaces (the active one always included).
func (s *Store) Workspaces() ([]WorkspaceInfo, error) {
	active, err := s.Workspace()
	if err != nil {
		return nil, err
	}
	ix, err := s.index()
	if err != nil {
		return nil, err
	}
	if ix.Workspaces[active] == nil {
		ix.workspace(active, true)
	}
	out := []WorkspaceInfo{}
	for _, name := range sortedKeys(ix.Workspaces) {
		w := ix.Workspaces[name]
		out = append(out, WorkspaceInfo{Name: name, Active: name == active, Projects: len(w.Projects), Allowlist: len(w.Allowlist)})
	}
	return out, nil
}
