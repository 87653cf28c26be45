package vault

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"time"
)

// indexVersion is the schema version of index.json.
const indexVersion = 1

// Index is home/index.json: names and metadata, never values.
type Index struct {
	Version    int                        `json:"version"`
	Workspaces map[string]*WorkspaceIndex `json:"workspaces"`
}

// WorkspaceIndex holds a workspace's allowlist and projects.
type WorkspaceIndex struct {
	Allowlist []string                 `json:"allowlist"`
	Projects  map[string]*ProjectIndex `json:"projects"`
}

// ProjectIndex holds a project's environments; each maps key names to
// entries.
type ProjectIndex struct {
	Description  string                       `json:"description,omitempty"`
	Created      time.Time                    `json:"created"`
	Environments map[string]map[string]*Entry `json:"environments"`
}

// Entry is what the index knows about one secret in one environment.
type Entry struct {
	// Version counts the writes of this key in this environment, from 1.
	Version int `json:"version"`
	// Updated is the time of the last write.
	Updated time.Time `json:"updated"`
	// Fingerprint is hex HMAC-SHA256 of the value under the workspace's
	// fingerprint key: equal values give equal fingerprints. It is empty
	// while a new value is being written (and after a write that was
	// killed or failed): Diff then counts the key as differing.
	Fingerprint string `json:"fingerprint"`
	// Expires is when the value stops being valid, if known.
	Expires *time.Time `json:"expires,omitempty"`
	// Domains, when non-empty, are the only hosts this secret may be sent to.
	Domains []string `json:"domains,omitempty"`
}

func readIndex(path string) (*Index, error) {
	ix := &Index{Version: indexVersion}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		ix.Workspaces = map[string]*WorkspaceIndex{}
		return ix, nil
	}
	if err != nil {
		return nil, fmt.Errorf("vault: read %q: %w", path, err)
	}
	if err := json.Unmarshal(data, ix); err != nil {
		return nil, newError(ErrInvalid, "the index holds no values; restore it from a backup or remove it and set the keys again",
			"malformed index %q: %v", path, err)
	}
	if ix.Version != indexVersion {
		return nil, newError(ErrInvalid, "upgrade agentsecrets", "index %q has unknown version %d", path, ix.Version)
	}
	if ix.Workspaces == nil {
		ix.Workspaces = map[string]*WorkspaceIndex{}
	}
	if where := ix.null(); where != "" {
		return nil, newError(ErrInvalid, "the index holds no values; remove the null entry from the file, or restore it from a backup",
			"malformed index %q: %s is null", path, where)
	}
	return ix, nil
}

// null names the first workspace, project or key entry of ix that is JSON
// null, or returns "". Readers would dereference it.
func (ix *Index) null() string {
	for _, ws := range sortedKeys(ix.Workspaces) {
		w := ix.Workspaces[ws]
		if w == nil {
			return fmt.Sprintf("workspace %q", ws)
		}
		for _, pname := range sortedKeys(w.Projects) {
			p := w.Projects[pname]
			if p == nil {
				return fmt.Sprintf("project %q of workspace %q", pname, ws)
			}
			for _, env := range sortedKeys(p.Environments) {
				for _, k := range sortedKeys(p.Environments[env]) {
					if p.Environments[env][k] == nil {
						return fmt.Sprintf("key %q in %s of project %q", k, env, pname)
					}
				}
			}
		}
	}
	return ""
}

// workspace returns the named workspace, creating it when create is true.
func (ix *Index) workspace(name string, create bool) *WorkspaceIndex {
	w := ix.Workspaces[name]
	if w == nil && create {
		w = &WorkspaceIndex{Allowlist: []string{}, Projects: map[string]*ProjectIndex{}}
		ix.Workspaces[name] = w
	}
	if w != nil && w.Projects == nil {
		w.Projects = map[string]*ProjectIndex{}
	}
	return w
}

// project returns the project or nil.
func (ix *Index) project(ws, name string) *ProjectIndex {
	w := ix.workspace(ws, false)
	if w == nil {
		return nil
	}
	p := w.Projects[name]
	if p != nil && p.Environments == nil {
		p.Environments = map[string]map[string]*Entry{}
	}
	return p
}

// env returns the keys of one environment, creating the map.
func (p *ProjectIndex) env(name string) map[string]*Entry {
	m := p.Environments[name]
	if m == nil {
		m = map[string]*Entry{}
		p.Environments[name] = m
	}
	return m
}

// keys returns the sorted key names of one environment.
func (p *ProjectIndex) keys(env string) []string {
	return sortedKeys(p.Environments[env])
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
