package runner

import (
	"errors"
	"fmt"
	"sync"

	"github.com/The-17/agentsecrets/runner/audit"
	"github.com/The-17/agentsecrets/vault"
)

// Vault is what the runner needs of the vault: values by name, the domains
// each may go to, the workspace allowlist, and where it is.
type Vault interface {
	// Secret returns the value of key, or an error wrapping ErrSecretMissing.
	Secret(key string) ([]byte, error)
	// Bindings returns the domains key is bound to (none: any allowlisted host).
	Bindings(key string) ([]string, error)
	// Allowlist returns the workspace's allowed domains.
	Allowlist() ([]string, error)
	// All returns every value of the active environment, for RedactAll.
	All() ([][]byte, error)
	// Where names the workspace, project and environment, for the audit.
	Where() (workspace, project, environment string)
}

// StoreVault adapts a vault.Store in one context to Vault. With Cache set,
// values and the allowlist are read once and kept until Refresh — for
// long-running front ends, where a keychain round trip per request would
// dominate.
type StoreVault struct {
	Store *vault.Store
	Ctx   vault.Context
	Cache bool

	mu        sync.Mutex
	values    map[string][]byte
	allowlist []string
	gen       uint64
}

// Generation counts the Refresh calls, so users of cached data derived from
// the values know when to rebuild it.
func (v *StoreVault) Generation() uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.gen
}

// Where implements Vault.
func (v *StoreVault) Where() (string, string, string) {
	return v.Ctx.Workspace, v.Ctx.Project, v.Ctx.Environment
}

// Secret implements Vault.
func (v *StoreVault) Secret(key string) ([]byte, error) {
	if v.Cache {
		v.mu.Lock()
		val, ok := v.values[key]
		v.mu.Unlock()
		if ok {
			return val, nil
		}
	}
	s, err := v.Store.Get(v.Ctx, key)
	if errors.Is(err, vault.ErrNotFound) {
		return nil, fmt.Errorf("%w: %q in %s/%s", ErrSecretMissing, key, v.Ctx.Project, v.Ctx.Environment)
	}
	if err != nil {
		return nil, err
	}
	v.remember(key, s.Bytes())
	return s.Bytes(), nil
}

// Bindings implements Vault.
func (v *StoreVault) Bindings(key string) ([]string, error) {
	e, err := v.Store.Entry(v.Ctx, key)
	if errors.Is(err, vault.ErrNotFound) {
		return nil, fmt.Errorf("%w: %q in %s/%s", ErrSecretMissing, key, v.Ctx.Project, v.Ctx.Environment)
	}
	if err != nil {
		return nil, err
	}
	return e.Domains, nil
}

// Allowlist implements Vault.
func (v *StoreVault) Allowlist() ([]string, error) {
	if v.Cache {
		v.mu.Lock()
		list := v.allowlist
		v.mu.Unlock()
		if list != nil {
			return list, nil
		}
	}
	list, err := v.Store.WorkspaceAllowlist(v.Ctx.Workspace) // the context's, not the active one
	if err != nil {
		return nil, err
	}
	if v.Cache {
		v.mu.Lock()
		v.allowlist = append([]string{}, list...)
		v.mu.Unlock()
	}
	return list, nil
}

// All implements Vault. Values not cached are read in one batch; a key
// whose value is missing from the backend is left out.
func (v *StoreVault) All() ([][]byte, error) {
	names, err := v.Store.Names(v.Ctx)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, 0, len(names))
	unread := names
	if v.Cache {
		unread = unread[:0:0]
		v.mu.Lock()
		for _, name := range names {
			if val, ok := v.values[name]; ok {
				out = append(out, val)
			} else {
				unread = append(unread, name)
			}
		}
		v.mu.Unlock()
	}
	if len(unread) == 0 {
		return out, nil
	}
	got, err := v.Store.Values(v.Ctx, unread)
	if err != nil {
		return nil, err
	}
	for _, name := range unread {
		if s, ok := got[name]; ok {
			out = append(out, s.Bytes())
			v.remember(name, s.Bytes())
		}
	}
	return out, nil
}

// remember caches val as key's value when v caches values.
func (v *StoreVault) remember(key string, val []byte) {
	if !v.Cache {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.values == nil {
		v.values = map[string][]byte{}
	}
	v.values[key] = val
}

// Refresh forgets cached values and the allowlist, so the next request
// reads the vault again (proxy sync, or a change made by another process).
func (v *StoreVault) Refresh() {
	v.mu.Lock()
	v.values, v.allowlist = nil, nil
	v.gen++
	v.mu.Unlock()
}

var _ audit.Sink = (*audit.MemorySink)(nil)
