package vault

import "slices"

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

// AllowlistAdd adds domains to the active workspace's allowlist and returns
// those that were not already there.
func (s *Store) AllowlistAdd(domains []string) ([]string, error) {
	var added []string
	_, err := s.editAllowlist(domains, func(w *WorkspaceIndex, norm []string) error {
		for _, d := range norm {
			if !slices.Contains(w.Allowlist, d) {
				w.Allowlist = append(w.Allowlist, d)
				added = append(added, d)
			}
		}
		slices.Sort(w.Allowlist)
		return nil
	})
	return added, err
}

// AllowlistRemove removes domains from the active workspace's allowlist. A
// domain that is not there is an ErrNotFound error and nothing changes.
func (s *Store) AllowlistRemove(domains []string) ([]string, error) {
	norm, err := s.editAllowlist(domains, func(w *WorkspaceIndex, norm []string) error {
		for _, d := range norm {
			if !slices.Contains(w.Allowlist, d) {
				return newError(ErrNotFound, "agentsecrets workspace allowlist list",
					"domain %q is not in the allowlist", d)
			}
		}
		w.Allowlist = slices.DeleteFunc(w.Allowlist, func(d string) bool { return slices.Contains(norm, d) })
		return nil
	})
	if err != nil {
		return nil, err
	}
	return norm, nil
}

// editAllowlist normalizes domains, then runs edit on the active
// workspace's index entry (created when missing) under the lock. It
// returns the normalized domains.
func (s *Store) editAllowlist(domains []string, edit func(w *WorkspaceIndex, norm []string) error) ([]string, error) {
	norm, err := NormalizeDomains(domains)
	if err != nil {
		return nil, err
	}
	ws, err := s.Workspace()
	if err != nil {
		return nil, err
	}
	err = s.update("", "", func(_ *Config, ix *Index) error {
		return edit(ix.workspace(ws, true), norm)
	})
	return norm, err
}
