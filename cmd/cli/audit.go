package cli

import (
	"context"
	"path/filepath"

	"github.com/The-17/agentsecrets/runner/audit"
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
