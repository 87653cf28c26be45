package vault

import (
	"errors"
	"fmt"
	"slices"
)

// Allowlist returns the active workspace's allowed domains, sorted. An
// empty allowlist allows no call.
func (s *Store) Allowlist() ([]string, error) {
	ws, err := s.Workspace()
	if err != nil {
		return nil, err
	}
	return s.WorkspaceAllowlist(ws)
}

// WorkspaceAllowlist returns the domain allowlist of workspace ws, sorted,
// for a front end that serves one workspace whatever becomes active later.
func (s *Store) WorkspaceAllowlist(ws string) ([]string, error) {
	ix, err := s.index()
	if err != nil {
		return nil, err
	}
	out := []string{}
	if w := ix.workspace(ws, false); w != nil {
		out = append(out, w.Allowlist...)
	}
	slices.Sort(out)
	return out, nil
}

// NormalizeDomains checks every domain and returns them canonical and
// de-duplicated; the first bad one is the error.
func NormalizeDomains(domains []string) ([]string, error) {
	out := make([]string, 0, len(domains))
	for _, d := range domains {
		n, err := NormalizeDomain(d)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// AllowlistChange is one change of a workspace's allowlist, as
// Options.AllowlistChanged is given it.
type AllowlistChange struct {
	Workspace string
	Remove    bool     // the domains were removed; else added
	Domains   []string // the domains added or removed, normalized
	Before    []string // the whole list before the change, sorted
	After     []string // the whole list after it, sorted
}

// AllowlistAdd adds domains to the active workspace's allowlist and returns
// those that were not already there. A wildcard over a single label (*.com)
// is refused (ValidateWildcardScope). When it returns them with an
// ErrNotRecorded error, they were added but the recorder failed.
func (s *Store) AllowlistAdd(domains []string) ([]string, error) {
	return s.editAllowlist(domains, false, func(w *WorkspaceIndex, norm []string) ([]string, error) {
		var added []string
		for _, d := range norm {
			if !slices.Contains(w.Allowlist, d) {
				w.Allowlist = append(w.Allowlist, d)
				added = append(added, d)
			}
		}
		slices.Sort(w.Allowlist)
		return added, nil
	})
}

// AllowlistRemove removes domains from the active workspace's allowlist. A
// domain that is not there is an ErrNotFound error and nothing changes.
// When it returns the domains with an ErrNotRecorded error, they were
// removed but the recorder failed.
func (s *Store) AllowlistRemove(domains []string) ([]string, error) {
	return s.editAllowlist(domains, true, func(w *WorkspaceIndex, norm []string) ([]string, error) {
		for _, d := range norm {
			if !slices.Contains(w.Allowlist, d) {
				return nil, newError(ErrNotFound, "agentsecrets workspace allowlist list",
					"domain %q is not in the allowlist", d)
			}
		}
		w.Allowlist = slices.DeleteFunc(w.Allowlist, func(d string) bool { return slices.Contains(norm, d) })
		return norm, nil
	})
}

// editAllowlist normalizes domains (an added wildcard must pass
// ValidateWildcardScope), then runs edit on the active workspace's index
// entry (created when missing) under the lock; edit returns the domains it
// changed. A change is recorded (recordAllowlist) under the same lock once
// the index is written. It returns the domains changed.
func (s *Store) editAllowlist(domains []string, remove bool,
	edit func(w *WorkspaceIndex, norm []string) ([]string, error)) ([]string, error) {
	norm, err := NormalizeDomains(domains)
	if err != nil {
		return nil, err
	}
	for _, d := range norm {
		if err := ValidateWildcardScope(d); err != nil && !remove { // a stored one can go
			return nil, err
		}
	}
	ws, err := s.Workspace()
	if err != nil {
		return nil, err
	}
	change := AllowlistChange{Workspace: ws, Remove: remove}
	err = s.updateThen("", "", func(_ *Config, ix *Index) error {
		w := ix.workspace(ws, true)
		change.Before = sortedClone(w.Allowlist)
		changed, err := edit(w, norm)
		change.Domains, change.After = changed, sortedClone(w.Allowlist)
		return err
	}, func() error { return s.recordAllowlist(change) })
	if err != nil && !errors.Is(err, ErrNotRecorded) {
		return nil, err
	}
	return change.Domains, err
}

// recordAllowlist gives a change to Options.AllowlistChanged, when there
// is a change and a recorder; its error is wrapped in ErrNotRecorded.
func (s *Store) recordAllowlist(c AllowlistChange) error {
	if len(c.Domains) == 0 || s.opts.AllowlistChanged == nil {
		return nil
	}
	if err := s.opts.AllowlistChanged(c); err != nil {
		return fmt.Errorf("%w: %w", ErrNotRecorded, err)
	}
	return nil
}

// sortedClone is a sorted copy of list, never nil.
func sortedClone(list []string) []string {
	out := append([]string{}, list...)
	slices.Sort(out)
	return out
}
