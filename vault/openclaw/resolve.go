package openclaw

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/The-17/agentsecrets/vault"
	"github.com/The-17/agentsecrets/vault/keychain"
)

// Vault reads values; *vault.Store is one.
type Vault interface {
	Get(ctx vault.Context, key string) (vault.Secret, error)
}

// Outcome is the audit record of a group of ids resolved alike: same
// project, environment and result. It holds names only.
type Outcome struct {
	Workspace   string
	Project     string
	Environment string
	// Keys are the key names, in request order; for an id that could not be
	// parsed, the id itself.
	Keys []string
	// Code is "" for resolved ids, else the error code they were given.
	Code string
}

// Auditor records the outcomes of one request before any value is handed
// out. An error withholds every value.
type Auditor func(ctx context.Context, provider string, outcomes []Outcome) error

// Resolver answers requests from a vault.
type Resolver struct {
	Vault Vault
	// Base is the context ids resolve in: its workspace always, its project
	// and environment for ids that do not name them. Base.Project is "" when
	// no project is active.
	Base vault.Context
	// BaseErr says why Base has no project; it is reported for short ids.
	BaseErr error
	// Audit, when set, records every request's outcomes.
	Audit Auditor
}

// resolution is the state of one request.
type resolution struct {
	resp     Response
	outcomes []Outcome
	groups   map[outcomeKey]int
	sticky   *IDError // a backend failure given to every id still to read
}

type outcomeKey struct{ project, env, code string }

// Resolve answers req: every distinct id ends up in Values or in Errors.
func (r *Resolver) Resolve(ctx context.Context, req Request) Response {
	st := &resolution{
		resp:   Response{Values: map[string]vault.Secret{}, Errors: map[string]IDError{}},
		groups: map[outcomeKey]int{},
	}
	for _, raw := range req.IDs {
		if _, done := st.resp.Values[raw]; done {
			continue
		}
		if _, done := st.resp.Errors[raw]; done {
			continue
		}
		r.resolveOne(ctx, st, raw)
	}
	if r.Audit != nil {
		if err := r.Audit(ctx, req.Provider, st.outcomes); err != nil {
			withhold(&st.resp, err)
		}
	}
	return st.resp
}

func (r *Resolver) resolveOne(ctx context.Context, st *resolution, raw string) {
	id, err := ParseID(raw)
	if err != nil {
		st.fail(raw, r.Base.Workspace, "", "", raw, IDError{CodeInvalidID, err.Error()})
		return
	}
	vctx, ierr := r.contextFor(id)
	if ierr != nil {
		st.fail(raw, r.Base.Workspace, id.Project, id.Environment, id.Key, *ierr)
		return
	}
	if st.sticky == nil && ctx.Err() != nil {
		st.sticky = &IDError{CodeTimeout, "openclaw: the deadline passed before this id was read"}
	}
	if st.sticky != nil {
		st.fail(raw, vctx.Workspace, vctx.Project, vctx.Environment, id.Key, *st.sticky)
		return
	}
	secret, err := r.Vault.Get(vctx, id.Key)
	if err != nil {
		e := classify(err)
		if isBackendFailure(err) {
			st.sticky = &e
		}
		st.fail(raw, vctx.Workspace, vctx.Project, vctx.Environment, id.Key, e)
		return
	}
	if e := checkValue(id, secret); e != nil {
		st.fail(raw, vctx.Workspace, vctx.Project, vctx.Environment, id.Key, *e)
		return
	}
	st.resp.Values[raw] = secret
	st.record(vctx.Workspace, vctx.Project, vctx.Environment, id.Key, "")
}

// contextFor fills the parts the id leaves out from Base.
func (r *Resolver) contextFor(id ID) (vault.Context, *IDError) {
	c := vault.Context{Workspace: r.Base.Workspace, Project: id.Project, Environment: id.Environment}
	if c.Project == "" {
		if r.Base.Project == "" {
			msg := "openclaw: no active project"
			if r.BaseErr != nil {
				msg += " (" + r.BaseErr.Error() + ")"
			}
			msg += "; give the id as PROJECT/ENV/KEY, pass --project to exec, or run agentsecrets project use NAME"
			return c, &IDError{CodeNoContext, msg}
		}
		c.Project = r.Base.Project
	}
	if c.Environment == "" {
		c.Environment = r.Base.Environment
		if c.Environment == "" {
			c.Environment = vault.Development
		}
	}
	return c, nil
}

// checkValue accepts non-empty UTF-8 text, the only values a JSON string
// carries unchanged.
func checkValue(id ID, s vault.Secret) *IDError {
	switch {
	case s.Len() == 0:
		return &IDError{CodeEmptyValue, fmt.Sprintf("openclaw: the value of %q is empty", id.Key)}
	case !utf8.Valid(s.Bytes()):
		return &IDError{CodeInvalidValue, fmt.Sprintf("openclaw: the value of %q is not UTF-8 text and cannot be sent as a JSON string", id.Key)}
	}
	return nil
}

// classify maps a vault error to a code; vault errors never hold a value.
func classify(err error) IDError {
	code := CodeError
	switch {
	case errors.Is(err, vault.ErrNotFound), errors.Is(err, vault.ErrProjectNotFound), errors.Is(err, keychain.ErrNotFound):
		code = CodeNotFound
	case errors.Is(err, keychain.ErrNoPassphrase), errors.Is(err, keychain.ErrBadPassphrase):
		code = CodeLocked
	case errors.Is(err, keychain.ErrUnavailable):
		code = CodeUnavailable
	case errors.Is(err, keychain.ErrTampered):
		code = CodeTampered
	case errors.Is(err, vault.ErrInvalid):
		code = CodeInvalidID
	}
	return IDError{Code: code, Message: err.Error()}
}

// isBackendFailure reports errors that every later read would repeat.
func isBackendFailure(err error) bool {
	return errors.Is(err, keychain.ErrNoPassphrase) || errors.Is(err, keychain.ErrBadPassphrase) ||
		errors.Is(err, keychain.ErrUnavailable)
}

func (st *resolution) fail(raw, ws, project, env, key string, e IDError) {
	st.resp.Errors[raw] = e
	st.record(ws, project, env, key, e.Code)
}

func (st *resolution) record(ws, project, env, key, code string) {
	k := outcomeKey{project, env, code}
	i, ok := st.groups[k]
	if !ok {
		i = len(st.outcomes)
		st.groups[k] = i
		st.outcomes = append(st.outcomes, Outcome{Workspace: ws, Project: project, Environment: env, Code: code})
	}
	st.outcomes[i].Keys = append(st.outcomes[i].Keys, key)
}

// withhold turns every value into an AUDIT_FAILED error.
func withhold(resp *Response, err error) {
	for id := range resp.Values {
		resp.Errors[id] = IDError{CodeAuditFailed, "openclaw: the resolution could not be audited, so no value is given: " + err.Error()}
		delete(resp.Values, id)
	}
}
