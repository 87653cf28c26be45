package vault

import (
	"path/filepath"
	"time"
)

// Context says where a secret lives: workspace, project and environment.
type Context struct {
	Workspace   string `json:"workspace"`
	Project     string `json:"project"`
	Environment string `json:"environment"`
	// ProjectFile is the project.json the context came from, or "".
	ProjectFile string `json:"project_file,omitempty"`
	// StorageMode is 1 (keychain only) or 2 (also a plaintext .env).
	StorageMode int `json:"storage_mode"`
}

// WithEnvironment returns a copy of c in another environment.
func (c Context) WithEnvironment(env string) Context { c.Environment = env; return c }

// WithProject returns a copy of c for another project.
func (c Context) WithProject(project string) Context { c.Project = project; return c }

// resolve builds the context without requiring a project: project.json
// (found from the working directory) beats the global config, and the
// Options overrides beat both.
func (s *Store) resolve() (Context, *ProjectConfig, error) {
	cfg, err := s.Config()
	if err != nil {
		return Context{}, nil, err
	}
	return s.resolveWith(cfg)
}

// resolveWith is resolve with the global config already read (under the
// lock, by updateContext).
func (s *Store) resolveWith(cfg Config) (Context, *ProjectConfig, error) {
	ctx := Context{Workspace: cfg.Workspace, Project: cfg.Project, Environment: cfg.Environment, StorageMode: 1}
	var pc *ProjectConfig
	if p := FindProjectConfig(s.cwd, s.home); p != "" {
		c, err := LoadProjectConfig(p)
		if err != nil {
			return Context{}, nil, err
		}
		pc = &c
		ctx = Context{Workspace: c.Workspace, Project: c.Project, Environment: c.Environment,
			ProjectFile: p, StorageMode: c.StorageMode}
	}
	if ctx.Environment == "" {
		ctx.Environment = Development
	}
	if err := ValidateEnvironment(ctx.Environment); err != nil {
		return Context{}, nil, err
	}
	if s.opts.Project != "" {
		ctx.Project = s.opts.Project
	}
	if s.opts.Environment != "" {
		ctx.Environment = s.opts.Environment
	}
	return ctx, pc, nil
}

// Context returns the active context, or ErrNotInitialized when no
// project.json is found and no project is active.
func (s *Store) Context() (Context, error) {
	ctx, _, err := s.resolve()
	if err != nil {
		return Context{}, err
	}
	if ctx.Project == "" {
		return Context{}, s.errNoProject()
	}
	return ctx, nil
}

// errNoProject is the error of a command that needs a project when there
// is none.
func (s *Store) errNoProject() error {
	return newError(ErrNotInitialized, "agentsecrets init --storage-mode 1",
		"no project: no %s/%s in %q or its parents, and no active project", ProjectDirName, ProjectFile, s.cwd)
}

// Workspace returns the active workspace.
func (s *Store) Workspace() (string, error) {
	ctx, _, err := s.resolve()
	return ctx.Workspace, err
}

// Status describes the active context without opening the backend.
type Status struct {
	Initialized bool       `json:"initialized"`
	Home        string     `json:"home"`
	Workspace   string     `json:"workspace"`
	Project     string     `json:"project,omitempty"`
	Environment string     `json:"environment"`
	Backend     string     `json:"backend"`
	StorageMode int        `json:"storage_mode"`
	ProjectFile string     `json:"project_file,omitempty"`
	ProjectDir  string     `json:"project_dir,omitempty"`
	LastSync    *time.Time `json:"last_sync,omitempty"`
	LastPull    *time.Time `json:"last_pull,omitempty"`
	LastPush    *time.Time `json:"last_push,omitempty"`
	// ProjectExists is false when the context names a project the index
	// does not know.
	ProjectExists bool `json:"project_exists"`
}

// Status returns the active context. Initialized is false when there is no
// project; a malformed project.json is an error.
func (s *Store) Status() (Status, error) {
	ctx, pc, err := s.resolve()
	if err != nil {
		return Status{}, err
	}
	cfg, err := s.Config()
	if err != nil {
		return Status{}, err
	}
	kind, _ := s.BackendKind()
	if kind == "" {
		kind = "auto"
	}
	st := Status{Initialized: ctx.Project != "", Home: s.home, Workspace: ctx.Workspace, Project: ctx.Project,
		Environment: ctx.Environment, Backend: kind, StorageMode: ctx.StorageMode, ProjectFile: ctx.ProjectFile,
		LastSync: cfg.LastSync}
	if pc != nil {
		st.ProjectDir = filepath.Dir(filepath.Dir(ctx.ProjectFile))
		st.LastPull, st.LastPush = pc.LastPull, pc.LastPush
	}
	if ctx.Project != "" {
		ix, err := s.index()
		if err != nil {
			return Status{}, err
		}
		st.ProjectExists = ix.project(ctx.Workspace, ctx.Project) != nil
	}
	return st, nil
}

// projectOf returns the context's project from ix or ErrProjectNotFound.
func projectOf(ix *Index, ctx Context) (*ProjectIndex, error) {
	p := ix.project(ctx.Workspace, ctx.Project)
	if p == nil {
		return nil, newError(ErrProjectNotFound, "agentsecrets project create "+ctx.Project+"  (or: agentsecrets project list)",
			"project %q not found in workspace %q", ctx.Project, ctx.Workspace)
	}
	return p, nil
}
