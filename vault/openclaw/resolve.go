package openclaw

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/The-17/agentsecrets/vault"
	"github.com/The-17/agentsecrets/vault/keychain"
)

// KeychainReaders is how many values are read from the OS keychain at once
// when it cannot read a batch (keychain.BatchGetter). Each read is several
// round trips, so reading in parallel divides the time of a request; the
// file backend is read one value at a time.
const KeychainReaders = 8

// Vault is what the resolver reads: the names set in an environment and the
// backend holding the values. *vault.Store is one.
type Vault interface {
	Names(ctx vault.Context) ([]string, error)
	Backend() (keychain.Backend, error)
}

// Outcome is the audit record of a group of ids resolved alike: same
// project, environment and result. It holds names only.
type Outcome struct {
	Workspace   string
	Project     string
	Environment string
	// Keys are the key names, in request order; for an id that could not be
	// parsed, its InvalidIDLabel.
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

// job is one distinct id of a request and what became of it.
type job struct {
	raw   string
	key   string // the key name, or raw when the id did not parse
	ctx   vault.Context
	value vault.Secret
	err   *IDError
}

// ref is where the job's value is stored.
func (j *job) ref() keychain.Ref {
	return keychain.Ref{Workspace: j.ctx.Workspace, Project: j.ctx.Project, Environment: j.ctx.Environment, Key: j.key}
}

// Resolve answers req: every distinct id ends up in Values or in Errors.
func (r *Resolver) Resolve(ctx context.Context, req Request) Response {
	jobs := r.plan(req.IDs)
	pending := r.checkNames(jobs)
	r.read(ctx, pending)
	resp := Response{Values: map[string]vault.Secret{}, Errors: map[string]IDError{}}
	for _, j := range jobs {
		if j.err != nil {
			resp.Errors[j.raw] = *j.err
		} else {
			resp.Values[j.raw] = j.value
		}
	}
	if r.Audit != nil {
		if err := r.Audit(ctx, req.Provider, outcomes(jobs)); err != nil {
			withhold(&resp, err)
		}
	}
	return resp
}

// plan parses the distinct ids and gives each its context.
func (r *Resolver) plan(ids []string) []*job {
	seen := make(map[string]bool, len(ids))
	jobs := make([]*job, 0, len(ids))
	for _, raw := range ids {
		if seen[raw] {
			continue
		}
		seen[raw] = true
		j := &job{raw: raw, ctx: vault.Context{Workspace: r.Base.Workspace}}
		jobs = append(jobs, j)
		id, err := ParseID(raw)
		if err != nil {
			j.key = InvalidIDLabel(raw)
			j.err = &IDError{CodeInvalidID, err.Error()}
			continue
		}
		j.key = id.Key
		j.ctx, j.err = r.contextFor(id)
	}
	return jobs
}

// InvalidIDLabel is how an id that could not be parsed is named in the
// audit log: its length and the start of its SHA-256, never the id itself.
// Whoever wrote the SecretRef can match it (printf %s ID | sha256sum); a
// value pasted by mistake where an id belongs stays out of a log the agent
// reads, and so does anything else the caller chose to send.
func InvalidIDLabel(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return fmt.Sprintf("(invalid id: %d bytes, sha256:%x)", len(raw), sum[:6])
}

// contextFor fills the parts the id leaves out from Base.
func (r *Resolver) contextFor(id ID) (vault.Context, *IDError) {
	c := vault.Context{Workspace: r.Base.Workspace, Project: id.Project, Environment: id.Environment}
	if c.Project == "" {
		c.Project = r.Base.Project
	}
	if c.Environment == "" {
		c.Environment = r.Base.Environment
	}
	if c.Project == "" || c.Environment == "" {
		msg := "openclaw: no active project"
		if r.BaseErr != nil {
			msg += " (" + r.BaseErr.Error() + ")"
		}
		msg += "; give the id as PROJECT/ENV/KEY, pass --project to exec, or run agentsecrets project use NAME"
		return c, &IDError{CodeNoContext, msg}
	}
	return c, nil
}

// checkNames fails the ids whose key is not set, reading the names of each
// environment once, and returns the jobs left to read.
func (r *Resolver) checkNames(jobs []*job) []*job {
	type names struct {
		set map[string]bool
		err error
	}
	byEnv := map[vault.Context]*names{}
	var pending []*job
	for _, j := range jobs {
		if j.err != nil {
			continue
		}
		n := byEnv[j.ctx]
		if n == nil {
			list, err := r.Vault.Names(j.ctx)
			n = &names{set: map[string]bool{}, err: err}
			for _, k := range list {
				n.set[k] = true
			}
			byEnv[j.ctx] = n
		}
		switch {
		case n.err != nil:
			e := classify(n.err)
			j.err = &e
		case !n.set[j.key]:
			j.err = &IDError{CodeNotFound, fmt.Sprintf("openclaw: secret %q not found in project %q (%s)", j.key, j.ctx.Project, j.ctx.Environment)}
		default:
			pending = append(pending, j)
		}
	}
	return pending
}

// read fetches the values of jobs from the backend: in one batch from a
// backend that reads batches, else the first alone (a locked keychain may
// prompt once) and the rest in parallel on the OS keychain. A backend
// failure is given to every job not yet read.
func (r *Resolver) read(ctx context.Context, jobs []*job) {
	if len(jobs) == 0 {
		return
	}
	b, err := r.Vault.Backend()
	if err != nil {
		e := classify(err)
		for _, j := range jobs {
			j.err = &e
		}
		return
	}
	rd := &reader{ctx: ctx, backend: b}
	if _, ok := b.(keychain.BatchGetter); ok && rd.readBatch(jobs) {
		return
	}
	rd.readOne(jobs[0])
	workers := 1
	if b.Name() == keychain.KindKeychain {
		workers = KeychainReaders
	}
	rest := make(chan *job)
	var wg sync.WaitGroup
	for range min(workers, len(jobs)-1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range rest {
				rd.readOne(j)
			}
		}()
	}
	for _, j := range jobs[1:] {
		rest <- j
	}
	close(rest)
	wg.Wait()
}

// reader reads values until the backend fails or the context ends.
type reader struct {
	ctx     context.Context
	backend keychain.Backend
	mu      sync.Mutex
	sticky  *IDError
}

func (rd *reader) stop() *IDError {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if rd.sticky == nil && rd.ctx.Err() != nil {
		rd.sticky = &IDError{CodeTimeout, "openclaw: the deadline passed before this id was read"}
	}
	return rd.sticky
}

// readBatch reads every job with one GetMany, unless the context ends
// first. It reports false, having changed nothing, when the batch failed
// for a reason of its own items (a tampered one), so that each job is read
// alone and gets its own error.
func (rd *reader) readBatch(jobs []*job) bool {
	if e := rd.stop(); e != nil {
		for _, j := range jobs {
			j.err = e
		}
		return true
	}
	refs := make([]keychain.Ref, len(jobs))
	for i, j := range jobs {
		refs[i] = j.ref()
	}
	type result struct {
		values map[keychain.Ref][]byte
		err    error
	}
	done := make(chan result, 1)
	go func() {
		values, err := keychain.GetMany(rd.backend, refs)
		done <- result{values, err}
	}()
	var res result
	select {
	case res = <-done:
	case <-rd.ctx.Done():
		e := rd.stop()
		for _, j := range jobs {
			j.err = e
		}
		return true
	}
	switch {
	case res.err == nil:
	case isBackendFailure(res.err):
		e := classify(res.err)
		for _, j := range jobs {
			j.err = &e
		}
		return true
	default:
		return false
	}
	for _, j := range jobs {
		v, ok := res.values[j.ref()]
		if !ok {
			j.err = rd.missingValue(j)
			continue
		}
		j.value = vault.NewSecret(v)
		j.err = checkValue(j.key, j.value)
	}
	return true
}

// readOne reads j's value, unless the context ends first: a read still
// running then is left behind and j gets TIMEOUT.
func (rd *reader) readOne(j *job) {
	if e := rd.stop(); e != nil {
		j.err = e
		return
	}
	type result struct {
		value []byte
		err   error
	}
	done := make(chan result, 1)
	go func() {
		v, err := rd.backend.Get(j.ref())
		done <- result{v, err}
	}()
	var res result
	select {
	case res = <-done:
	case <-rd.ctx.Done():
		j.err = rd.stop()
		return
	}
	v, err := res.value, res.err
	if err != nil {
		e := classify(err)
		if errors.Is(err, keychain.ErrNotFound) {
			e = *rd.missingValue(j)
		}
		if isBackendFailure(err) {
			rd.mu.Lock()
			if rd.sticky == nil {
				rd.sticky = &e
			}
			rd.mu.Unlock()
		}
		j.err = &e
		return
	}
	j.value = vault.NewSecret(v)
	j.err = checkValue(j.key, j.value)
}

// missingValue is the error of a key listed in its environment whose value
// the backend does not hold.
func (rd *reader) missingValue(j *job) *IDError {
	return &IDError{CodeNotFound, fmt.Sprintf("openclaw: secret %q is listed in project %q (%s) but its value is missing from the %s backend", j.key, j.ctx.Project, j.ctx.Environment, rd.backend.Name())}
}

// checkValue accepts UTF-8 text, the only values a JSON string carries
// unchanged, that is not blank: OpenClaw refuses a value JavaScript's trim()
// empties.
func checkValue(key string, s vault.Secret) *IDError {
	switch {
	case s.Len() == 0:
		return &IDError{CodeEmptyValue, fmt.Sprintf("openclaw: the value of %q is empty", key)}
	case !utf8.Valid(s.Bytes()):
		return &IDError{CodeInvalidValue, fmt.Sprintf("openclaw: the value of %q is not UTF-8 text and cannot be sent as a JSON string", key)}
	case isBlank(s.Bytes()):
		return &IDError{CodeEmptyValue, fmt.Sprintf("openclaw: the value of %q is only whitespace, which OpenClaw refuses as empty", key)}
	}
	return nil
}

// isBlank reports whether text holds nothing but what JavaScript's trim()
// removes: white space (Zs, tab, vertical tab, form feed, U+FEFF) and line
// terminators (LF, CR, U+2028, U+2029).
func isBlank(text []byte) bool {
	for len(text) > 0 {
		r, n := utf8.DecodeRune(text)
		text = text[n:]
		switch {
		case r == '\t' || r == '\n' || r == '\v' || r == '\f' || r == '\r':
		case r == '\ufeff' || r == '\u2028' || r == '\u2029':
		case unicode.Is(unicode.Zs, r):
		default:
			return false
		}
	}
	return true
}

// classify maps a vault or backend error to a code; their messages never
// hold a value.
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
	}
	return IDError{Code: code, Message: err.Error()}
}

// isBackendFailure reports errors that every later read would repeat.
func isBackendFailure(err error) bool {
	return errors.Is(err, keychain.ErrNoPassphrase) || errors.Is(err, keychain.ErrBadPassphrase) ||
		errors.Is(err, keychain.ErrUnavailable)
}

// outcomes groups the jobs by project, environment and code, in request
// order.
func outcomes(jobs []*job) []Outcome {
	type groupKey struct{ project, env, code string }
	index := map[groupKey]int{}
	var out []Outcome
	for _, j := range jobs {
		code := ""
		if j.err != nil {
			code = j.err.Code
		}
		k := groupKey{j.ctx.Project, j.ctx.Environment, code}
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, Outcome{Workspace: j.ctx.Workspace, Project: j.ctx.Project, Environment: j.ctx.Environment, Code: code})
		}
		out[i].Keys = append(out[i].Keys, j.key)
	}
	for i := range out {
		out[i].Keys = slices.Clip(out[i].Keys)
	}
	return out
}

// withhold turns every value into an AUDIT_FAILED error.
func withhold(resp *Response, err error) {
	for id := range resp.Values {
		resp.Errors[id] = IDError{CodeAuditFailed, "openclaw: the resolution could not be audited, so no value is given: " + err.Error()}
		delete(resp.Values, id)
	}
}
