package proxy

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/The-17/agentsecrets/vault"
)

// identify checks the request's X-AS-Agent-Token with h.Identify, when
// both are there, and makes the verified token's id the audit identity:
// "token:<id>". An unknown or revoked token is refused; the raw token
// appears nowhere. An X-AS-Agent-ID that holds a token or passes for a
// token identity is refused first (vault.ValidateDeclaredAgent), with or
// without Identify.
func (h *Handler) identify(hd http.Header, p *Parsed) *Error {
	for _, id := range hd.Values(HeaderAgentID) {
		if err := vault.ValidateDeclaredAgent(strings.TrimSpace(id)); err != nil {
			return &Error{Status: http.StatusBadRequest, Code: CodeBadHeader, Message: "X-AS-Agent-ID: " + err.Error(),
				Hint: "name the caller in X-AS-Agent-ID (billing-tool); send an agent token as X-AS-Agent-Token"}
		}
	}
	if h.Identify == nil {
		return nil
	}
	v := hd.Values(HeaderAgentToken)
	if len(v) != 1 {
		return nil
	}
	id, err := h.Identify(v[0])
	switch {
	case errors.Is(err, vault.ErrTokenUnknown), errors.Is(err, vault.ErrTokenRevoked):
		return &Error{Status: http.StatusUnauthorized, Code: CodeAgentTokenInvalid, Message: err.Error(),
			Hint: "ask the human for a new agent token (agentsecrets agent token issue NAME), or send X-AS-Agent-ID instead"}
	case err != nil:
		return &Error{Status: http.StatusInternalServerError, Code: CodeInternal,
			Message: "verifying the agent token failed: " + err.Error()}
	}
	p.Agent = "token:" + id
	return nil
}

// TokenCache verifies agent tokens against a snapshot of the vault's
// agents file (token hashes and revocations) kept in memory until Refresh.
// A token the snapshot does not know makes it read the file again, so a
// token issued while the proxy runs works at once; a revocation takes
// effect at the next Refresh (proxy sync) or start; a Refresh that cannot
// read the file leaves no token valid until a read succeeds. The workspace
// active at the first read is kept: tokens of another workspace never
// verify, even once it becomes the active one. It is safe for concurrent
// use.
type TokenCache struct {
	store     *vault.Store
	reload    sync.Mutex
	workspace string // guarded by reload; set by the first read
	snap      atomic.Pointer[vault.AgentTokens]
}

// NewTokenCache returns a cache over the active workspace of s. Nothing is
// read until Refresh or the first Identify.
func NewTokenCache(s *vault.Store) *TokenCache { return &TokenCache{store: s} }

// Refresh reads the agents file now.
func (c *TokenCache) Refresh() error {
	_, err := c.refresh(nil)
	return err
}

// refresh reads the agents file unless the snapshot is no longer seen,
// which another reload replaced while this one waited.
func (c *TokenCache) refresh(seen *vault.AgentTokens) (*vault.AgentTokens, error) {
	c.reload.Lock()
	defer c.reload.Unlock()
	if cur := c.snap.Load(); seen != nil && cur != seen {
		return cur, nil
	}
	if c.workspace == "" {
		ws, err := c.store.Workspace()
		if err != nil {
			return nil, err
		}
		c.workspace = ws
	}
	snap, err := c.store.WorkspaceAgentTokens(c.workspace)
	if err != nil {
		// Fail closed: the old snapshot may hold a token revoked since, so
		// none verifies until the file reads again.
		c.snap.Store(nil)
		return nil, err
	}
	c.snap.Store(snap)
	return snap, nil
}

// Identify is a Handler.Identify: the id of the token, or an error
// matching vault.ErrTokenUnknown or vault.ErrTokenRevoked.
func (c *TokenCache) Identify(token string) (string, error) {
	snap := c.snap.Load()
	if snap == nil {
		var err error
		if snap, err = c.refresh(nil); err != nil {
			return "", err
		}
	}
	_, id, err := snap.Verify(token)
	if !errors.Is(err, vault.ErrTokenUnknown) {
		return id, err
	}
	if snap, err = c.refresh(snap); err != nil {
		return "", err
	}
	_, id, err = snap.Verify(token)
	return id, err
}
