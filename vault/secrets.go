package vault

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/The-17/agentsecrets/vault/keychain"
)

func (s *Store) checkKey(ctx Context, key string) error {
	if err := ValidateKeyName(key); err != nil {
		return err
	}
	return ValidateEnvironment(ctx.Environment)
}

func notFound(ctx Context, key string) error {
	return newError(ErrNotFound, "the user can set it in a terminal: agentsecrets secrets set "+key,
		"secret %q not found in project %q (%s)", key, ctx.Project, ctx.Environment)
}

// Set stores value under key in ctx (backend first, then the index, under
// the lock; a key that had another value loses its fingerprint first, see
// clearFingerprints). The key name must be valid, the value non-empty and
// the project must exist.
func (s *Store) Set(ctx Context, key string, value []byte) error {
	if err := s.checkKey(ctx, key); err != nil {
		return err
	}
	if len(value) == 0 {
		return newError(ErrInvalid, "give a non-empty value", "empty value for %q", key)
	}
	if err := s.requireProject(ctx); err != nil {
		return err
	}
	b, err := s.Backend()
	if err != nil {
		return err
	}
	return s.update(ctx.Workspace, ctx.Project, func(_ *Config, ix *Index) error {
		p, err := projectOf(ix, ctx)
		if err != nil {
			return err
		}
		fp, err := s.fingerprint(b, ix, ctx.Workspace, value)
		if err != nil {
			return err
		}
		if e := p.Environments[ctx.Environment][key]; e != nil && e.Fingerprint != fp {
			if err := s.clearFingerprints(ix, e); err != nil {
				return err
			}
		}
		if err := b.Set(ref(ctx, ctx.Environment, key), value); err != nil {
			return err
		}
		s.newVersion(p.env(ctx.Environment), key).Fingerprint = fp
		return nil
	})
}

// clearFingerprints empties the fingerprint of entries about to get
// another value and writes the index, before that value is written: a
// process killed between the value and the index then leaves a key that
// diff cannot compare (and reports as differing), never a new value under
// the old value's fingerprint, which diff would report the same as that
// old value elsewhere. A write that fails leaves it empty too: the value
// may have been written (a keychain that timed out). It runs under the
// lock, inside update; entries already without one need no write.
func (s *Store) clearFingerprints(ix *Index, entries ...*Entry) error {
	changed := false
	for _, e := range entries {
		changed = changed || e.Fingerprint != ""
		e.Fingerprint = ""
	}
	if !changed {
		return nil
	}
	return writeJSON(s.path(IndexFile), ix)
}

// newVersion returns key's entry in env, created when missing, with its
// version bumped and its update time set to now.
func (s *Store) newVersion(env map[string]*Entry, key string) *Entry {
	e := env[key]
	if e == nil {
		e = &Entry{}
		env[key] = e
	}
	e.Version++
	e.Updated = s.now().UTC()
	return e
}

// project returns ctx's project from the index, read without the lock.
func (s *Store) project(ctx Context) (*ProjectIndex, error) {
	ix, err := s.index()
	if err != nil {
		return nil, err
	}
	return projectOf(ix, ctx)
}

// requireProject fails early, without the lock, when the project is unknown.
func (s *Store) requireProject(ctx Context) error {
	_, err := s.project(ctx)
	return err
}

// updateProjectThen opens the backend and runs edit on ctx's project
// inside updateThen(ctx.Workspace, ctx.Project, ...), under the lock, with
// then (when not nil) run under the same lock once the index is written.
func (s *Store) updateProjectThen(ctx Context, edit func(b keychain.Backend, p *ProjectIndex) error, then func(b keychain.Backend) error) error {
	b, err := s.Backend()
	if err != nil {
		return err
	}
	var after func() error
	if then != nil {
		after = func() error { return then(b) }
	}
	return s.updateThen(ctx.Workspace, ctx.Project, func(_ *Config, ix *Index) error {
		p, err := projectOf(ix, ctx)
		if err != nil {
			return err
		}
		return edit(b, p)
	}, after)
}

// checkRemovable fails when b would refuse to remove refs, before a
// removal edits the index (keychain.Check: a wrong or missing passphrase
// for the file, an OS keychain locked or not answering). Every removal
// calls it first, so that such a backend changes nothing rather than
// leaving values no key lists. No refs, nothing to check.
func checkRemovable(b keychain.Backend, refs []keychain.Ref) error {
	if len(refs) == 0 {
		return nil
	}
	return keychain.Check(b)
}

// removeValues deletes refs from b (a value already missing is fine). It
// runs only once the index no longer lists them: a failure or a killed
// process half way leaves values nothing lists, never a listed key whose
// value is gone. Removals call checkRemovable before they edit the index.
// A value that fails to go does not stop the others; the error names
// every key whose value is left, with hint (when not "") saying how to
// remove them.
func removeValues(b keychain.Backend, refs []keychain.Ref, hint string) error {
	var left []string
	var first error
	for _, r := range refs {
		if err := b.Delete(r); err != nil && !errors.Is(err, keychain.ErrNotFound) {
			left = append(left, fmt.Sprintf("%s (%s)", r.Key, r.Environment))
			if first == nil {
				first = err
			}
		}
	}
	if first == nil {
		return nil
	}
	if len(left) == 1 {
		return newError(first, hint, "%s is removed from the index, but its value is left in the %s backend: %v", left[0], b.Name(), first)
	}
	return newError(first, hint, "%s are removed from the index, but their values are left in the %s backend: %v", strings.Join(left, ", "), b.Name(), first)
}

// deleteAgainHint tells how to remove the values removeValues left of
// keys deleted from ctx's environment (see Delete).
func deleteAgainHint(ctx Context) string {
	return "delete each key again to remove its value: agentsecrets secrets delete --env " + ctx.Environment + " KEY --yes"
}

// Entry returns the index entry (metadata, no value) of key in ctx.
func (s *Store) Entry(ctx Context, key string) (Entry, error) {
	if err := s.checkKey(ctx, key); err != nil {
		return Entry{}, err
	}
	p, err := s.project(ctx)
	if err != nil {
		return Entry{}, err
	}
	e := p.Environments[ctx.Environment][key]
	if e == nil {
		return Entry{}, notFound(ctx, key)
	}
	return *e, nil
}

// Get returns the value of key in ctx, or an error matching ErrNotFound.
func (s *Store) Get(ctx Context, key string) (Secret, error) {
	if _, err := s.Entry(ctx, key); err != nil {
		return Secret{}, err
	}
	b, err := s.Backend()
	if err != nil {
		return Secret{}, err
	}
	v, err := b.Get(ref(ctx, ctx.Environment, key))
	if errors.Is(err, keychain.ErrNotFound) {
		return Secret{}, newError(ErrNotFound, "set it again: agentsecrets secrets set "+key,
			"secret %q is listed but its value is missing from the %s backend", key, b.Name())
	}
	if err != nil {
		return Secret{}, err
	}
	return NewSecret(v), nil
}

// Values returns the values of those keys that are set in ctx and have a
// value in the backend, by key name, reading the backend in one batch where
// it can (the Secret Service answers a batch in a few round trips where Get
// costs several per key). Other keys are left out; only a failure of the
// backend or of the index is an error.
func (s *Store) Values(ctx Context, keys []string) (map[string]Secret, error) {
	if err := ValidateEnvironment(ctx.Environment); err != nil {
		return nil, err
	}
	p, err := s.project(ctx)
	if err != nil {
		return nil, err
	}
	refs := make([]keychain.Ref, 0, len(keys))
	for _, k := range keys {
		if p.Environments[ctx.Environment][k] != nil && ValidateKeyName(k) == nil {
			refs = append(refs, ref(ctx, ctx.Environment, k))
		}
	}
	if len(refs) == 0 {
		return map[string]Secret{}, nil
	}
	b, err := s.Backend()
	if err != nil {
		return nil, err
	}
	got, err := keychain.GetMany(b, refs)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Secret, len(got))
	for r, v := range got {
		out[r.Key] = NewSecret(v)
	}
	return out, nil
}

// GetMany returns the values of keys in ctx, in order, read as Values reads
// them. A key that is not set, or whose value is missing from the backend,
// is the error Get gives for it.
func (s *Store) GetMany(ctx Context, keys []string) ([]Secret, error) {
	got, err := s.Values(ctx, keys)
	if err != nil {
		return nil, err
	}
	out := make([]Secret, 0, len(keys))
	for _, k := range keys {
		v, ok := got[k]
		if !ok { // Get's error for k, or its value if k was set meanwhile
			if v, err = s.Get(ctx, k); err != nil {
				return nil, err
			}
		}
		out = append(out, v)
	}
	return out, nil
}

// Delete removes key from ctx. A key the index does not list is
// ErrNotFound, unless a removal that failed or was killed once the index
// no longer listed it left its value in the backend: that value is
// removed, so that a delete run again finishes the one interrupted (with
// no backend to open, no passphrase, it is ErrNotFound).
func (s *Store) Delete(ctx Context, key string) error {
	if _, err := s.Entry(ctx, key); errors.Is(err, ErrNotFound) {
		return s.RemoveLeftover(ctx, key)
	} else if err != nil {
		return err
	}
	stale := []keychain.Ref{ref(ctx, ctx.Environment, key)}
	return s.updateProjectThen(ctx, func(b keychain.Backend, p *ProjectIndex) error {
		if p.Environments[ctx.Environment][key] == nil {
			return notFound(ctx, key)
		}
		if err := checkRemovable(b, stale); err != nil {
			return err
		}
		delete(p.Environments[ctx.Environment], key)
		return nil
	}, func(b keychain.Backend) error { return removeValues(b, stale, deleteAgainHint(ctx)) })
}

// RemoveLeftover removes the value of key from the backend when the index
// does not list key in ctx: one an interrupted removal left (see Delete).
// A key the index lists is refused and keeps its value; no value there,
// or no backend to look in (no passphrase), is ErrNotFound. It changes no
// file.
func (s *Store) RemoveLeftover(ctx Context, key string) error {
	_, notListed := s.Entry(ctx, key)
	if notListed == nil {
		return fmt.Errorf("vault: %q is set in project %q (%s); nothing removed", key, ctx.Project, ctx.Environment)
	}
	if !errors.Is(notListed, ErrNotFound) {
		return notListed
	}
	b, err := s.Backend()
	if err != nil {
		return notListed
	}
	return s.update("", "", func(_ *Config, ix *Index) error {
		p, err := projectOf(ix, ctx)
		if err != nil {
			return err
		}
		if p.Environments[ctx.Environment][key] != nil {
			return fmt.Errorf("vault: %q was set in project %q (%s) meanwhile; nothing removed", key, ctx.Project, ctx.Environment)
		}
		err = b.Delete(ref(ctx, ctx.Environment, key))
		if errors.Is(err, keychain.ErrNotFound) || errors.Is(err, keychain.ErrNoPassphrase) {
			return notListed
		}
		return err
	})
}

// KeyStatus is one key of a project with its coverage across environments.
type KeyStatus struct {
	Name string `json:"name"`
	// Environments maps each of development, staging, production to
	// whether the key is set there.
	Environments map[string]bool `json:"environments"`
	// Expires maps environments to the key's expiry there, when set.
	Expires map[string]time.Time `json:"expires,omitempty"`
	// Domains maps environments to the key's domain binding, when set.
	Domains map[string][]string `json:"domains,omitempty"`
}

// List returns every key of ctx's project (any environment), sorted, with
// coverage. It never reads a value.
func (s *Store) List(ctx Context) ([]KeyStatus, error) {
	p, err := s.project(ctx)
	if err != nil {
		return nil, err
	}
	byName := map[string]*KeyStatus{}
	for _, env := range Environments {
		for name, e := range p.Environments[env] {
			ks := byName[name]
			if ks == nil {
				ks = &KeyStatus{Name: name, Environments: map[string]bool{}}
				for _, env := range Environments {
					ks.Environments[env] = false
				}
				byName[name] = ks
			}
			ks.Environments[env] = true
			if e.Expires != nil {
				if ks.Expires == nil {
					ks.Expires = map[string]time.Time{}
				}
				ks.Expires[env] = *e.Expires
			}
			if len(e.Domains) > 0 {
				if ks.Domains == nil {
					ks.Domains = map[string][]string{}
				}
				ks.Domains[env] = append([]string(nil), e.Domains...)
			}
		}
	}
	out := make([]KeyStatus, 0, len(byName))
	for _, name := range sortedKeys(byName) {
		out = append(out, *byName[name])
	}
	return out, nil
}

// Names returns the sorted key names set in ctx's environment.
func (s *Store) Names(ctx Context) ([]string, error) {
	if err := ValidateEnvironment(ctx.Environment); err != nil {
		return nil, err
	}
	p, err := s.project(ctx)
	if err != nil {
		return nil, err
	}
	return p.keys(ctx.Environment), nil
}

// Diff compares two environments of a project by fingerprint. Differ
// also lists keys whose fingerprint is missing on either side (a write
// killed before it recorded one): their values cannot be compared, so
// they are never reported the same.
type Diff struct {
	From       string   `json:"from"`
	To         string   `json:"to"`
	OnlyInFrom []string `json:"only_in_from"`
	OnlyInTo   []string `json:"only_in_to"`
	Differ     []string `json:"differ"`
	Same       []string `json:"same"`
}

// InSync reports whether both environments hold the same keys and values.
func (d Diff) InSync() bool {
	return len(d.OnlyInFrom) == 0 && len(d.OnlyInTo) == 0 && len(d.Differ) == 0
}

// Diff compares environments from and to of ctx's project.
func (s *Store) Diff(ctx Context, from, to string) (Diff, error) {
	if err := ValidateEnvironment(from); err != nil {
		return Diff{}, err
	}
	if err := ValidateEnvironment(to); err != nil {
		return Diff{}, err
	}
	p, err := s.project(ctx)
	if err != nil {
		return Diff{}, err
	}
	d := Diff{From: from, To: to, OnlyInFrom: []string{}, OnlyInTo: []string{}, Differ: []string{}, Same: []string{}}
	a, b := p.Environments[from], p.Environments[to]
	for _, k := range sortedKeys(a) {
		switch e, ok := b[k]; {
		case !ok:
			d.OnlyInFrom = append(d.OnlyInFrom, k)
		case e.Fingerprint == "" || e.Fingerprint != a[k].Fingerprint:
			d.Differ = append(d.Differ, k)
		default:
			d.Same = append(d.Same, k)
		}
	}
	for _, k := range sortedKeys(b) {
		if _, ok := a[k]; !ok {
			d.OnlyInTo = append(d.OnlyInTo, k)
		}
	}
	return d, nil
}

// EnvironmentSummary is one environment of a project.
type EnvironmentSummary struct {
	Name    string `json:"name"`
	Secrets int    `json:"secrets"`
	Active  bool   `json:"active"`
}

// EnvironmentSummaries lists the three environments of ctx's project with
// their secret counts.
func (s *Store) EnvironmentSummaries(ctx Context) ([]EnvironmentSummary, error) {
	p, err := s.project(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]EnvironmentSummary, 0, len(Environments))
	for _, env := range Environments {
		out = append(out, EnvironmentSummary{Name: env, Secrets: len(p.Environments[env]), Active: env == ctx.Environment})
	}
	return out, nil
}

// Copy copies every key of environment from into environment to (same
// values), overwriting keys that exist there. It returns the copied names.
func (s *Store) Copy(ctx Context, from, to string) ([]string, error) {
	if err := ValidateEnvironment(from); err != nil {
		return nil, err
	}
	if err := ValidateEnvironment(to); err != nil {
		return nil, err
	}
	if from == to {
		return nil, newError(ErrInvalid, "name two different environments", "cannot copy %q onto itself", from)
	}
	if err := s.requireProject(ctx); err != nil {
		return nil, err
	}
	b, err := s.Backend()
	if err != nil {
		return nil, err
	}
	var copied []string
	var setErr error
	err = s.update(ctx.Workspace, ctx.Project, func(_ *Config, ix *Index) error {
		p, err := projectOf(ix, ctx)
		if err != nil {
			return err
		}
		src, dst := p.Environments[from], p.env(to)
		// Every value is read before any is written: a missing one
		// changes nothing.
		keys := sortedKeys(src)
		values := make([][]byte, len(keys))
		for i, k := range keys {
			v, err := b.Get(ref(ctx, from, k))
			if err != nil {
				return err
			}
			values[i] = v
		}
		// Keys of to that get another value lose their fingerprint
		// first (see clearFingerprints).
		var stale []*Entry
		cleared := map[string]string{}
		for _, k := range keys {
			if e := dst[k]; e != nil && e.Fingerprint != src[k].Fingerprint {
				stale = append(stale, e)
				cleared[k] = e.Fingerprint
			}
		}
		if err := s.clearFingerprints(ix, stale...); err != nil {
			return err
		}
		for i, k := range keys {
			if err := b.Set(ref(ctx, to, k), values[i]); err != nil {
				// The index is still written, listing the keys
				// already copied with their new fingerprints; the
				// keys not tried yet get theirs back.
				for _, k := range keys[i+1:] {
					if fp, ok := cleared[k]; ok {
						dst[k].Fingerprint = fp
					}
				}
				setErr = fmt.Errorf("vault: copy from %s to %s stopped at %s after %d of %d keys: %w", from, to, k, len(copied), len(keys), err)
				return nil
			}
			e := s.newVersion(dst, k)
			e.Fingerprint = src[k].Fingerprint
			e.Expires = src[k].Expires
			e.Domains = append([]string(nil), src[k].Domains...)
			copied = append(copied, k)
		}
		return nil
	})
	if err == nil {
		err = setErr
	}
	return copied, err
}

// Clean deletes every key of ctx's environment and returns their names.
func (s *Store) Clean(ctx Context) ([]string, error) {
	if err := ValidateEnvironment(ctx.Environment); err != nil {
		return nil, err
	}
	if err := s.requireProject(ctx); err != nil {
		return nil, err
	}
	var removed []string
	var stale []keychain.Ref
	err := s.updateProjectThen(ctx, func(b keychain.Backend, p *ProjectIndex) error {
		keys := p.keys(ctx.Environment)
		var refs []keychain.Ref
		for _, k := range keys {
			refs = append(refs, ref(ctx, ctx.Environment, k))
		}
		if err := checkRemovable(b, refs); err != nil {
			return err
		}
		for _, k := range keys {
			delete(p.Environments[ctx.Environment], k)
			removed = append(removed, k)
		}
		stale = refs
		return nil
	}, func(b keychain.Backend) error { return removeValues(b, stale, deleteAgainHint(ctx)) })
	return removed, err
}

// SetExpiry records when key's value in ctx expires (nil clears it).
func (s *Store) SetExpiry(ctx Context, key string, expires *time.Time) error {
	return s.editEntry(ctx, key, func(e *Entry) error {
		if expires == nil {
			e.Expires = nil
			return nil
		}
		t := expires.UTC()
		e.Expires = &t
		return nil
	})
}

// SetBinding restricts key in ctx to the given domains (each checked with
// NormalizeDomain); an empty list removes the binding.
func (s *Store) SetBinding(ctx Context, key string, domains []string) error {
	norm := make([]string, 0, len(domains))
	for _, d := range domains {
		n, err := NormalizeDomain(d)
		if err != nil {
			return err
		}
		norm = append(norm, n)
	}
	return s.editEntry(ctx, key, func(e *Entry) error { e.Domains = norm; return nil })
}

// EditBinding replaces key's domain binding in ctx with what edit returns
// for the current one. edit runs under the lock on the binding as stored
// at that moment, so a caller can refuse when it differs from the one it
// decided on. An error from edit (or a domain NormalizeDomain rejects)
// changes nothing. The result is stored de-duplicated and sorted; an
// empty result removes the binding.
func (s *Store) EditBinding(ctx Context, key string, edit func(current []string) ([]string, error)) error {
	return s.editEntry(ctx, key, func(e *Entry) error {
		next, err := edit(slices.Clone(e.Domains))
		if err != nil {
			return err
		}
		norm, err := NormalizeDomains(next)
		if err != nil {
			return err
		}
		slices.Sort(norm)
		e.Domains = norm
		return nil
	})
}

func (s *Store) editEntry(ctx Context, key string, edit func(*Entry) error) error {
	if _, err := s.Entry(ctx, key); err != nil {
		return err
	}
	return s.update("", "", func(_ *Config, ix *Index) error {
		p, err := projectOf(ix, ctx)
		if err != nil {
			return err
		}
		e := p.Environments[ctx.Environment][key]
		if e == nil {
			return notFound(ctx, key)
		}
		return edit(e)
	})
}
