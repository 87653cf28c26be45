package cli

import (
	"path/filepath"
	"sync"

	"github.com/The-17/agentsecrets/runner/audit"
)

// auditLogs holds each Factory's audit store, opened on first use.
var auditLogs = struct {
	sync.Mutex
	m map[*Factory]*auditLog
}{m: map[*Factory]*auditLog{}}

type auditLog struct {
	store *audit.Store
	err   error
}

// Audit opens the audit log, <home>/audit.db, once per Factory. A store that
// fails to open gives the same error on every call.
func (f *Factory) Audit() (audit.Sink, error) {
	auditLogs.Lock()
	defer auditLogs.Unlock()
	if l, ok := auditLogs.m[f]; ok {
		return l.sink()
	}
	l := &auditLog{}
	if s, err := f.Store(); err != nil {
		l.err = err
	} else {
		l.store, l.err = audit.Open(filepath.Join(s.Home(), audit.FileName))
	}
	auditLogs.m[f] = l
	return l.sink()
}

func (l *auditLog) sink() (audit.Sink, error) {
	if l.err != nil {
		return nil, l.err
	}
	return l.store, nil
}

// CloseAudit closes the audit log if Audit opened it.
func (f *Factory) CloseAudit() error {
	auditLogs.Lock()
	l, ok := auditLogs.m[f]
	delete(auditLogs.m, f)
	auditLogs.Unlock()
	if !ok || l.store == nil {
		return nil
	}
	return l.store.Close()
}
