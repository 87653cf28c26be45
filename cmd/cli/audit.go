package cli

import (
	"context"
	"path/filepath"

	"github.com/The-17/agentsecrets/runner"
	"github.com/The-17/agentsecrets/runner/audit"
	"github.com/The-17/agentsecrets/runner/redact"
	"github.com/The-17/agentsecrets/vault"
)

// Audit opens the audit log, <home>/audit.db, once per Factory; Run closes
// it when the command ends. A store that fails to open gives the same error
// on every call.
func (f *Factory) Audit() (audit.Sink, error) {
	if f.auditStore != nil || f.auditErr != nil {
		return f.sink()
	}
	s, err := f.Store()
	if err != nil {
		return nil, err
	}
	f.auditStore, f.auditErr = audit.Open(filepath.Join(s.Home(), audit.FileName))
	return f.sink()
}

// sink returns the opened store as a Sink (a nil *audit.Store must not become
// a non-nil interface).
func (f *Factory) sink() (audit.Sink, error) {
	if f.auditErr != nil {
		return nil, f.auditErr
	}
	return f.auditStore, nil
}

// CloseAudit closes the audit log if Audit opened it.
func (f *Factory) CloseAudit() error {
	if f.auditStore == nil {
		return nil
	}
	err := f.auditStore.Close()
	f.auditStore = nil
	return err
}

// recordAllowlistChange is the vault's recorder of allowlist changes
// (vault.Options.AllowlistChanged): it appends the change's row to the
// audit log, under the vault's lock, as made by the declared agent.
func (f *Factory) recordAllowlistChange(c vault.AllowlistChange) error {
	sink, err := f.Audit()
	if err != nil {
		return err
	}
	return sink.Record(context.Background(), audit.AllowlistChange{Agent: f.declaredAgent(), Workspace: c.Workspace,
		Remove: c.Remove, Domains: c.Domains, Before: c.Before, After: c.After}.Event())
}

// declaredAgent is the identity a command without a token records:
// $AGENTSECRETS_AGENT_ID, else "anonymous".
func (f *Factory) declaredAgent() string {
	if agent := f.Getenv("AGENTSECRETS_AGENT_ID"); agent != "" {
		return agent
	}
	return "anonymous"
}

// redactEntry removes every value of set from the strings of e a front end
// was given: a row records them as they came, and a value may have been
// typed into a URL, a method or a host. proxy logs (and workspace allowlist
// log) and the MCP tool audit_logs print every row through it.
func redactEntry(set *redact.Set, e *audit.Entry) {
	for _, s := range []*string{&e.Agent, &e.Method, &e.URL, &e.Reason} {
		*s, _ = set.RedactString(*s)
	}
	for i := range e.Keys {
		e.Keys[i], _ = set.RedactString(e.Keys[i])
	}
}

// newValueSet compiles the values of an environment into the set that rows
// and tool arguments are searched for; values shorter than minGuardedValue
// would match ordinary text and are left out.
func newValueSet(values [][]byte) *redact.Set {
	guarded := values[:0:0]
	for _, val := range values {
		if len(val) >= minGuardedValue {
			guarded = append(guarded, val)
		}
	}
	return redact.NewSet(guarded...)
}

// envValueSet reads the active environment's values from the vault (the
// passphrase or the keychain: a locked vault is an error) and compiles them.
func (f *Factory) envValueSet() (*redact.Set, error) {
	s, ctx, err := f.storeAndContext()
	if err != nil {
		return nil, err
	}
	values, err := (&runner.StoreVault{Store: s, Ctx: ctx}).All()
	if err != nil {
		return nil, err
	}
	return newValueSet(values), nil
}

// logRedactor redacts the rows proxy logs --watch prints with the
// environment's values, read again when the vault index changes (a key set
// or rotated while it runs).
type logRedactor struct {
	f     *Factory
	stamp fileStamp
	set   *redact.Set
}

// load reads the values unless the index is unchanged since they were.
func (r *logRedactor) load() error {
	s, err := r.f.Store()
	if err != nil {
		return err
	}
	if st := statIndex(s.Home()); r.set == nil || st != r.stamp {
		set, err := r.f.envValueSet()
		if err != nil {
			return err
		}
		r.set, r.stamp = set, st
	}
	return nil
}

func (r *logRedactor) redact(e *audit.Entry) error {
	if err := r.load(); err != nil {
		return err
	}
	redactEntry(r.set, e)
	return nil
}
