package proxy

import (
	"slices"
	"sync"

	"github.com/The-17/agentsecrets/runner"
)

// BindingCache is a runner.StoreVault that also keeps each secret's domain
// bindings in memory until the next Refresh (proxy sync), as it keeps
// values and the allowlist, instead of reading the vault index on every
// request. Lookups that fail are not kept, so a secret added later is
// found.
type BindingCache struct {
	*runner.StoreVault

	mu       sync.Mutex
	gen      uint64
	bindings map[string][]string
}

// NewBindingCache wraps v.
func NewBindingCache(v *runner.StoreVault) *BindingCache { return &BindingCache{StoreVault: v} }

// Bindings implements runner.Vault.
func (c *BindingCache) Bindings(key string) ([]string, error) {
	gen := c.Generation()
	c.mu.Lock()
	if c.gen != gen {
		c.gen, c.bindings = gen, nil
	}
	domains, ok := c.bindings[key]
	c.mu.Unlock()
	if ok {
		return domains, nil
	}
	domains, err := c.StoreVault.Bindings(key)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.gen == gen {
		if c.bindings == nil {
			c.bindings = map[string][]string{}
		}
		c.bindings[key] = slices.Clone(domains)
	}
	c.mu.Unlock()
	return domains, nil
}
