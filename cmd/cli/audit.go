package cli

import (
	"path/filepath"

	"github.com/The-17/agentsecrets/runner/audit"
)

// Audit opens the local audit store (<home>/audit.db) once per process.
func (f *Factory) Audit() (*audit.Store, error) {
	if f.auditStore != nil {
		return f.auditStore, nil
	}
	s, err := f.Store()
	if err != nil {
		return nil, err
	}
	a, err := audit.Open(filepath.Join(s.Home(), audit.FileName))
	if err != nil {
		return nil, err
	}
	f.auditStore = a
	return a, nil
}
