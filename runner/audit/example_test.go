package audit_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/The-17/agentsecrets/runner/audit"
)

func Example() {
	dir, _ := os.MkdirTemp("", "audit-example")
	defer os.RemoveAll(dir)
	store, err := audit.Open(filepath.Join(dir, audit.FileName))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()

	target, _ := url.Parse("https://maps.example.com/geocode?address=Paris")
	ctx := context.Background()
	_ = store.Record(ctx, audit.Event{
		Source:      audit.SourceCall,
		Agent:       "anonymous",
		Environment: "development",
		Method:      "GET",
		URL:         audit.SanitizeURL(target, map[string]string{"key": "GOOGLE_MAPS_KEY"}),
		Keys:        []string{"GOOGLE_MAPS_KEY"},
		AuthStyles:  []string{"query"},
		Status:      200,
		Duration:    42 * time.Millisecond,
		Decision:    audit.DecisionOK,
		// The runner records the allowlist in force: the entry that
		// admitted the host and the digest of the whole list.
		AllowlistEntry:  "*.example.com",
		AllowlistDigest: audit.DigestAllowlist([]string{"*.example.com", "api.stripe.com"}),
	})

	entries, _ := store.Query(ctx, audit.Filter{Secret: "GOOGLE_MAPS_KEY", Last: 10})
	for _, e := range entries {
		fmt.Println(e.ID, e.Method, e.URL, e.Keys, e.Status, e.Decision, e.AllowlistEntry)
	}
	res, _ := store.Verify(ctx)
	fmt.Println("chain ok:", res.OK, "rows:", res.Rows)
	// Output:
	// 1 GET https://maps.example.com/geocode?address=Paris&key={GOOGLE_MAPS_KEY} [GOOGLE_MAPS_KEY] 200 ok *.example.com
	// chain ok: true rows: 1
}

// The digest a row records identifies the allowlist in force; the same
// list in another order gives the same digest, as does
// `agentsecrets workspace allowlist list | sha256sum`.
func ExampleDigestAllowlist() {
	fmt.Println(audit.DigestAllowlist([]string{"api.stripe.com", "*.example.com"}))
	fmt.Println(audit.DigestAllowlist([]string{"*.example.com", "api.stripe.com"}))
	// Output:
	// sha256:e3aa8115ec8550389118e3789c8b6561efda1d93baac8501df93fe0648690b6f
	// sha256:e3aa8115ec8550389118e3789c8b6561efda1d93baac8501df93fe0648690b6f
}

// Each change of an allowlist is a row of its own, with the domains
// added or removed, the digests of the list before and after, and the
// whole list after: reading the log rebuilds the list every call was
// decided by, and checks it against the call's digest.
func ExampleAllowlistChange() {
	dir, _ := os.MkdirTemp("", "audit-example")
	defer os.RemoveAll(dir)
	store, err := audit.Open(filepath.Join(dir, audit.FileName))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()
	ctx := context.Background()
	list := []string{"api.stripe.com", "*.example.com"}
	_ = store.Record(ctx, audit.AllowlistChange{Agent: "ops", Workspace: "default",
		Domains: list, After: list}.Event())
	_ = store.Record(ctx, audit.AllowlistChange{Agent: "ops", Workspace: "default", Remove: true,
		Domains: []string{"*.example.com"}, Before: list, After: []string{"api.stripe.com"}}.Event())
	_ = store.Record(ctx, audit.Event{Source: audit.SourceCall, Agent: "anonymous", Workspace: "default",
		Method: "GET", URL: "https://api.stripe.com/v1/balance", Status: 200, Decision: audit.DecisionOK,
		AllowlistEntry: "api.stripe.com", AllowlistDigest: audit.DigestAllowlist([]string{"api.stripe.com"})})

	entries, _ := store.Query(ctx, audit.Filter{})
	var inForce []string // the list before the first change: empty
	for _, e := range entries {
		if e.Source == audit.SourceAllowlist {
			fmt.Println(e.ID, e.Method, e.AllowlistChange, "follows:", e.AllowlistBefore == audit.DigestAllowlist(inForce))
			inForce = e.AllowlistDomains
			continue
		}
		fmt.Println(e.ID, e.URL, "decided by", inForce, e.AllowlistDigest == audit.DigestAllowlist(inForce))
	}
	// Output:
	// 1 ADD [*.example.com api.stripe.com] follows: true
	// 2 REMOVE [*.example.com] follows: true
	// 3 https://api.stripe.com/v1/balance decided by [api.stripe.com] true
}
