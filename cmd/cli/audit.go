package cli

import (
	"path/filepath"

	"github.com/The-17/agentsecrets/runner/audit"
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
