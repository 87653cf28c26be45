package audit

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Decision is what became of a request.
type Decision string

// The decisions a row can carry.
const (
	DecisionOK               Decision = "ok"
	DecisionBlockedAllowlist Decision = "blocked_allowlist"
	DecisionDeniedBinding    Decision = "denied_binding"
	DecisionPolicyDenied     Decision = "policy_denied"
	DecisionError            Decision = "error"
)

// Valid reports whether d is one of the known decisions.
func (d Decision) Valid() bool {
	switch d {
	case DecisionOK, DecisionBlockedAllowlist, DecisionDeniedBinding, DecisionPolicyDenied, DecisionError:
		return true
	}
	return false
}

// The front ends that record events, and SourceAllowlist, the source of
// the rows that record a change of an allowlist (AllowlistChange).
const (
	SourceCall      = "call"
	SourceProxy     = "proxy"
	SourceExec      = "exec"
	SourceEnv       = "env"
	SourceMCP       = "mcp"
	SourceAllowlist = "allowlist"
)

// Event is one audited action. It has no field that could hold a credential
// value: keys are recorded by name and URLs must be passed through
// SanitizeURL first.
type Event struct {
	Time        time.Time // zero means now
	Source      string    // "call", "proxy", "exec", "env", "mcp", "allowlist"
	Agent       string    // "anonymous", a declared id, or "token:<token id>"; never a raw token
	Workspace   string
	Project     string
	Environment string
	Method      string
	URL         string   // already sanitised (SanitizeURL)
	Keys        []string // key names
	AuthStyles  []string // "bearer", "header", "query", ...
	Status      int
	Duration    time.Duration
	Decision    Decision
	Reason      string
	Redactions  int
	// The allowlist state when the call's guard ran (see "Allowlist
	// state" in the package documentation); both empty for a row with no
	// target host, or whose call failed before the guard.
	AllowlistEntry  string // the entry that admitted the host, as listed; empty when refused
	AllowlistDigest string // DigestAllowlist of the whole list in force (after the change, in a change row)
	// What a change of the allowlist changed (see "Allowlist changes" in
	// the package documentation); all empty in every other row.
	AllowlistChange  []string // the domains added (Method ADD) or removed (REMOVE)
	AllowlistBefore  string   // DigestAllowlist of the list before the change
	AllowlistDomains []string // the whole list after the change, sorted
}

// Sink receives audit events.
type Sink interface {
	Record(ctx context.Context, e Event) error
}

// Times are stored as Unix nanoseconds, which cover the years 1678 to 2262.
const minYear, maxYear = 1679, 2261

// normalize validates e and fills what a recorder may leave out: a zero time
// becomes now. Strings are made valid UTF-8 (an invalid sequence becomes
// U+FFFD), so the stored JSON carries exactly what was hashed. As a second
// line of defence, user information left in the URL is dropped.
func normalize(e Event) (Event, error) {
	if !e.Decision.Valid() {
		return Event{}, fmt.Errorf("audit: unknown decision %q", e.Decision)
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	if y := e.Time.Year(); y < minYear || y > maxYear {
		return Event{}, fmt.Errorf("audit: time %s out of range", e.Time.Format(time.RFC3339))
	}
	e.Time = e.Time.Round(0)
	for _, f := range []*string{&e.Source, &e.Agent, &e.Workspace, &e.Project,
		&e.Environment, &e.Method, &e.URL, &e.Reason, &e.AllowlistEntry, &e.AllowlistDigest, &e.AllowlistBefore} {
		*f = validUTF8(*f)
	}
	e.URL = dropUserinfo(e.URL)
	e.Keys = cloneNames(e.Keys)
	e.AuthStyles = cloneNames(e.AuthStyles)
	e.AllowlistChange = cloneNames(e.AllowlistChange)
	e.AllowlistDomains = cloneNames(e.AllowlistDomains)
	return e, nil
}

// cloneNames copies a list of names; an empty list becomes nil, as the
// store reads it back.
func cloneNames(names []string) []string {
	if len(names) == 0 {
		return nil
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = validUTF8(n)
	}
	return out
}

// dropUserinfo removes "user:pass@" from the authority of raw without
// parsing it, so that even a URL net/url rejects loses it.
func dropUserinfo(raw string) string {
	scheme := strings.Index(raw, "://")
	if scheme < 0 {
		return raw
	}
	start := scheme + len("://")
	end := len(raw)
	if i := strings.IndexAny(raw[start:], "/?#"); i >= 0 {
		end = start + i
	}
	at := strings.LastIndexByte(raw[start:end], '@')
	if at < 0 {
		return raw
	}
	return raw[:start] + raw[start+at+1:]
}

// MemorySink keeps events in memory. It is safe for concurrent use.
type MemorySink struct {
	mu     sync.Mutex
	events []Event
}

// Record validates e and appends it.
func (m *MemorySink) Record(_ context.Context, e Event) error {
	e, err := normalize(e)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events = append(m.events, e)
	return nil
}

// Events returns a copy of the events recorded so far, oldest first.
func (m *MemorySink) Events() []Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Event, len(m.events))
	for i, e := range m.events {
		e.Keys = cloneNames(e.Keys)
		e.AuthStyles = cloneNames(e.AuthStyles)
		e.AllowlistChange = cloneNames(e.AllowlistChange)
		e.AllowlistDomains = cloneNames(e.AllowlistDomains)
		out[i] = e
	}
	return out
}
