package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"time"
)

// DigestPrefix opens every allowlist digest, naming its hash function.
const DigestPrefix = "sha256:"

// DigestAllowlist identifies a whole allowlist: "sha256:" and the hex
// SHA-256 of its entries sorted (byte order), without duplicates, each
// followed by a newline. That is exactly what `agentsecrets workspace
// allowlist list` prints for a non-empty list, so
//
//	agentsecrets workspace allowlist list | sha256sum
//
// gives the same hex. An empty list hashes the empty text. Entries are
// domain names, never secrets; they are taken as the list spells them.
func DigestAllowlist(entries []string) string {
	h := sha256.New()
	for _, e := range sortedSet(entries) {
		h.Write([]byte(e))
		h.Write([]byte{'\n'})
	}
	var sum [sha256.Size]byte
	return DigestPrefix + hex.EncodeToString(h.Sum(sum[:0]))
}

// The methods of an allowlist change row.
const (
	MethodAllowlistAdd    = "ADD"
	MethodAllowlistRemove = "REMOVE"
)

// AllowlistChange is one change of a workspace's domain allowlist: the
// domains added or removed, who did it, and the whole list before and
// after. Its Event is the row that records it.
type AllowlistChange struct {
	Time      time.Time // zero means now
	Agent     string    // "anonymous" (the default) or a declared id
	Workspace string
	Remove    bool     // the domains were removed; else added
	Domains   []string // the domains added or removed, as the list spells them
	Before    []string // the whole list before the change
	After     []string // the whole list after it
}

// Event is the row recording c: source "allowlist", method ADD or REMOVE,
// the domains changed (sorted), the digests of the list before and after
// the change, and the list after it, sorted and without duplicates.
func (c AllowlistChange) Event() Event {
	e := Event{Time: c.Time, Source: SourceAllowlist, Agent: c.Agent, Workspace: c.Workspace,
		Method: MethodAllowlistAdd, Decision: DecisionOK,
		AllowlistDigest:  DigestAllowlist(c.After),
		AllowlistChange:  sortedSet(c.Domains),
		AllowlistBefore:  DigestAllowlist(c.Before),
		AllowlistDomains: sortedSet(c.After),
	}
	if c.Remove {
		e.Method = MethodAllowlistRemove
	}
	if e.Agent == "" {
		e.Agent = "anonymous"
	}
	return e
}

// sortedSet is list sorted in byte order without duplicates, nil when
// empty.
func sortedSet(list []string) []string {
	if len(list) == 0 {
		return nil
	}
	out := slices.Clone(list)
	slices.Sort(out)
	return slices.Compact(out)
}
