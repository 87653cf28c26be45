package vault

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"time"

	"github.com/The-17/agentsecrets/vault/fsutil"
)

// File names inside the home directory and a project directory.
const (
	ConfigFile     = "config.json"
	IndexFile      = "index.json"
	LockFile       = ".lock"
	ProjectDirName = ".agentsecrets"
	ProjectFile    = "project.json"
)

// HomeDir returns the agentsecrets home: $AGENTSECRETS_HOME, else
// ~/.agentsecrets where ~ is $HOME or, when that is unset, the home
// directory of the current user from the user database.
func HomeDir(getenv func(string) string) (string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if h := getenv("AGENTSECRETS_HOME"); h != "" {
		return filepath.Abs(h)
	}
	home := getenv("HOME")
	if home == "" {
		if u, err := user.Current(); err == nil {
			home = u.HomeDir
		}
	}
	if home == "" {
		return "", newError(ErrInvalid, "set AGENTSECRETS_HOME or HOME", "cannot find the home directory")
	}
	return filepath.Join(home, ProjectDirName), nil
}

// Config is the global configuration in home/config.json.
type Config struct {
	// Workspace is the active workspace ("default" when empty).
	Workspace string `json:"workspace"`
	// Backend is the backend kind chosen at the first init ("keychain" or
	// "file"), kept so that automatic selection never changes later.
	Backend string `json:"backend,omitempty"`
	// Project and Environment are used where no project.json is found.
	Project     string `json:"project,omitempty"`
	Environment string `json:"environment,omitempty"`
	// LastSync is the time of the last sync with a server, if any.
	LastSync *time.Time `json:"last_sync,omitempty"`
}

func readConfig(path string) (Config, error) {
	var c Config
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		c.Workspace = DefaultWorkspace
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("vault: read %q: %w", path, err)
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return c, newError(ErrInvalid, "fix or remove the file", "malformed config %q: %v", path, err)
	}
	if c.Workspace == "" {
		c.Workspace = DefaultWorkspace
	}
	return c, nil
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("vault: encode %q: %w", path, err)
	}
	return fsutil.WriteFileAtomic(path, append(data, '\n'))
}

// ProjectConfig is .agentsecrets/project.json in a project directory.
type ProjectConfig struct {
	Project     string     `json:"project"`
	Workspace   string     `json:"workspace,omitempty"`
	Environment string     `json:"environment,omitempty"`
	StorageMode int        `json:"storage_mode"`
	LastPull    *time.Time `json:"last_pull,omitempty"`
	LastPush    *time.Time `json:"last_push,omitempty"`
}

// ParseProjectConfig parses and validates project.json strictly: one JSON
// object, no unknown fields, a valid project name, storage mode 1 or 2, a
// known environment (development when empty). Workspace defaults to
// "default".
func ParseProjectConfig(data []byte) (ProjectConfig, error) {
	var pc ProjectConfig
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&pc); err != nil {
		return ProjectConfig{}, fmt.Errorf("malformed JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return ProjectConfig{}, errors.New("malformed JSON: data after the object")
	}
	if pc.Project == "" {
		return ProjectConfig{}, errors.New("missing project name")
	}
	if err := ValidateProjectName(pc.Project); err != nil {
		return ProjectConfig{}, errors.New(invalidProjectName(pc.Project))
	}
	if pc.StorageMode != 1 && pc.StorageMode != 2 {
		return ProjectConfig{}, fmt.Errorf("unknown storage_mode %d (want 1 or 2)", pc.StorageMode)
	}
	if pc.Environment == "" {
		pc.Environment = Development
	}
	if ValidateEnvironment(pc.Environment) != nil {
		return ProjectConfig{}, errors.New(unknownEnvironment(pc.Environment))
	}
	if pc.Workspace == "" {
		pc.Workspace = DefaultWorkspace
	}
	return pc, nil
}

// LoadProjectConfig reads and parses the project.json at path; errors name
// the file. A project.json in an .agentsecrets that is a symbolic link is
// refused (see checkProjectDir).
func LoadProjectConfig(path string) (ProjectConfig, error) {
	if err := checkProjectDir(filepath.Dir(path)); err != nil {
		return ProjectConfig{}, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return ProjectConfig{}, fmt.Errorf("vault: read %q: %w", path, err)
	}
	pc, err := ParseProjectConfig(data)
	if err != nil {
		return ProjectConfig{}, newError(ErrInvalid,
			"fix the file, or remove it and run: agentsecrets init --storage-mode 1",
			"bad project config %q: %v", path, err)
	}
	return pc, nil
}

// checkProjectDir fails with ErrInvalid when dir, a project's
// .agentsecrets, is a symbolic link. A cloned repository can hold one
// pointing anywhere: following it would read a project.json from there
// and write into (and chmod 0700) a directory that is not the project's.
// A missing dir is fine (init creates it).
func checkProjectDir(dir string) error {
	info, err := os.Lstat(dir)
	if err != nil || info.Mode()&fs.ModeSymlink == 0 {
		return nil
	}
	return newError(ErrInvalid, "remove the link (a cloned repository may hold it), then run: agentsecrets init --storage-mode 1",
		"%q is a symbolic link: a project's %s must be a directory of its own", dir, ProjectDirName)
}

// FindProjectConfig looks for .agentsecrets/project.json in dir and its
// parents and returns its path, or "" when there is none. The home
// directory's own .agentsecrets is not a project.
func FindProjectConfig(dir, home string) string {
	dir = filepath.Clean(dir)
	for i := 0; i < 256; i++ {
		p := filepath.Join(dir, ProjectDirName, ProjectFile)
		if filepath.Join(dir, ProjectDirName) != home {
			if info, err := os.Stat(p); err == nil && !info.IsDir() {
				return p
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
	return ""
}
