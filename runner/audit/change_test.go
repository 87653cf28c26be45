package audit

import (
	"bytes"
	"context"
	"database/sql"
	"slices"
	"testing"
	"time"
)

// sampleChange is a plausible allowlist change, distinct per i: even ones
// add, odd ones remove.
func sampleChange(i int) AllowlistChange {
	c := AllowlistChange{
		Time:      time.Date(2026, 1, 2, 3, 4, 5, i*1000, time.UTC),
		Agent:     "ops",
		Workspace: "acme",
		Domains:   []string{"api.stripe.com", "*.example.com"},
		Before:    []string{"api.github.com"},
		After:     []string{"api.stripe.com", "api.github.com", "*.example.com"},
	}
	if i%2 == 1 {
		c.Remove = true
		c.Before, c.After = c.After, c.Before
	}
	return c
}

func TestAllowlistChangeEvent(t *testing.T) {
	add := sampleChange(0).Event()
	want := Event{Time: sampleChange(0).Time, Source: SourceAllowlist, Agent: "ops", Workspace: "acme",
		Method: MethodAllowlistAdd, Decision: DecisionOK,
		AllowlistDigest:  DigestAllowlist([]string{"*.example.com", "api.github.com", "api.stripe.com"}),
		AllowlistChange:  []string{"*.example.com", "api.stripe.com"},
		AllowlistBefore:  DigestAllowlist([]string{"api.github.com"}),
		AllowlistDomains: []string{"*.example.com", "api.github.com", "api.stripe.com"},
	}
	if !eventsEqual(add, want) {
		t.Errorf("add:\n got %+v\nwant %+v", add, want)
	}
	remove := sampleChange(1).Event()
	if remove.Method != MethodAllowlistRemove || remove.AllowlistBefore != want.AllowlistDigest ||
		remove.AllowlistDigest != DigestAllowlist([]string{"api.github.com"}) ||
		!slices.Equal(remove.AllowlistDomains, []string{"api.github.com"}) {
		t.Errorf("remove: %+v", remove)
	}
	// No declared identity is "anonymous"; the last domain removed leaves
	// an empty list, whose digest is that of nothing.
	c := AllowlistChange{Workspace: "acme", Remove: true, Domains: []string{"a.example"}, Before: []string{"a.example"}}
	e := c.Event()
	if e.Agent != "anonymous" || e.AllowlistDigest != DigestAllowlist(nil) || e.AllowlistDomains != nil {
		t.Errorf("last domain removed: %+v", e)
	}
}

// eventsEqual compares events field by field (lists by content).
func eventsEqual(a, b Event) bool {
	eq := func(x, y []string) bool { return slices.Equal(x, y) }
	return eq(a.Keys, b.Keys) && eq(a.AuthStyles, b.AuthStyles) && eq(a.AllowlistChange, b.AllowlistChange) &&
		eq(a.AllowlistDomains, b.AllowlistDomains) && a.Time.Equal(b.Time) &&
		a.Source == b.Source && a.Agent == b.Agent && a.Workspace == b.Workspace && a.Project == b.Project &&
		a.Environment == b.Environment && a.Method == b.Method && a.URL == b.URL && a.Status == b.Status &&
		a.Duration == b.Duration && a.Decision == b.Decision && a.Reason == b.Reason &&
		a.Redactions == b.Redactions && a.AllowlistEntry == b.AllowlistEntry &&
		a.AllowlistDigest == b.AllowlistDigest && a.AllowlistBefore == b.AllowlistBefore
}

// TestAllowlistChangeInChain: rows without change fields encode as before
// (v1, v2); a row with any is encoded under v3, which covers each field
// distinctly.
func TestAllowlistChangeInChain(t *testing.T) {
	base := sampleChange(0).Event()
	tests := []struct {
		name string
		edit func(e *Event)
		tag  string
	}{
		{"change row", func(*Event) {}, "agentsecrets-audit-chain-v3"},
		{"other domains", func(e *Event) { e.AllowlistChange = []string{"evil.example"} }, "agentsecrets-audit-chain-v3"},
		{"domains split differently", func(e *Event) { e.AllowlistChange = []string{"*.example.comapi.stripe.com"} }, "agentsecrets-audit-chain-v3"},
		{"other before", func(e *Event) { e.AllowlistBefore = "sha256:00" }, "agentsecrets-audit-chain-v3"},
		{"other list", func(e *Event) { e.AllowlistDomains = e.AllowlistDomains[1:] }, "agentsecrets-audit-chain-v3"},
		{"list given as change", func(e *Event) {
			e.AllowlistChange, e.AllowlistDomains = e.AllowlistDomains, e.AllowlistChange
		}, "agentsecrets-audit-chain-v3"},
		{"before only", func(e *Event) { e.AllowlistChange, e.AllowlistDomains = nil, nil }, "agentsecrets-audit-chain-v3"},
		{"other method", func(e *Event) { e.Method = MethodAllowlistRemove }, "agentsecrets-audit-chain-v3"},
		{"no change fields", func(e *Event) {
			e.AllowlistChange, e.AllowlistBefore, e.AllowlistDomains = nil, "", nil
		}, "agentsecrets-audit-chain-v2"},
		{"nothing of the allowlist", func(e *Event) {
			e.AllowlistChange, e.AllowlistBefore, e.AllowlistDomains, e.AllowlistDigest = nil, "", nil, ""
		}, "agentsecrets-audit-chain-v1"},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		e := base
		tt.edit(&e)
		enc := appendCanonical(nil, 7, &e)
		if !bytes.HasPrefix(enc, appendString(nil, tt.tag)) {
			t.Errorf("%s: encoding does not start with %s", tt.name, tt.tag)
		}
		h := chainHash(genesisHash, 7, e)
		if other, dup := seen[h]; dup {
			t.Errorf("%s hashes like %s", tt.name, other)
		}
		seen[h] = tt.name
	}
	// An empty change list adds nothing: a v2 row hashes as before.
	g := guardedEvent(1)
	before := chainHash(genesisHash, 2, g)
	g.AllowlistChange = []string{}
	if chainHash(genesisHash, 2, g) != before {
		t.Error("an empty change list changed the hash of a v2 row")
	}
}

// TestAllowlistChangeRoundTrip: a change row reads back as recorded,
// alone and in a batch, and the events view shows its columns.
func TestAllowlistChangeRoundTrip(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	if err := s.Record(ctx, sampleChange(0).Event()); err != nil { // row 1
		t.Fatal(err)
	}
	b := NewBatcher(s, BatcherOptions{})
	for i := 1; i <= 2; i++ { // rows 2, 3: a remove, then an add
		if err := b.Record(ctx, sampleChange(i).Event()); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	recordGuarded(t, s, 1) // row 4: a call
	got, err := s.Query(ctx, Filter{})
	if err != nil || len(got) != 4 {
		t.Fatalf("query: %d rows, %v", len(got), err)
	}
	for i, e := range got[:3] {
		want, _ := normalize(sampleChange(i).Event())
		want.Time = want.Time.UTC()
		if !eventsEqual(e.Event, want) {
			t.Errorf("row %d:\n got %+v\nwant %+v", e.ID, e.Event, want)
		}
	}
	if e := got[3]; e.AllowlistChange != nil || e.AllowlistBefore != "" || e.AllowlistDomains != nil {
		t.Errorf("call row reads back with change fields: %+v", e.Event)
	}
	only, err := s.Query(ctx, Filter{Source: SourceAllowlist})
	if err != nil || len(only) != 3 {
		t.Errorf("--source allowlist: %d rows, %v", len(only), err)
	}
	if none, err := s.Query(ctx, Filter{Env: "development"}); err != nil || len(none) != 1 {
		t.Errorf("an environment filter: %d rows, %v (changes belong to no environment)", len(none), err)
	}
	checkVerify(t, s, 4, nil)
	checkChangeView(t, s.db, map[int64][3]string{
		1: {`["*.example.com","api.stripe.com"]`, DigestAllowlist([]string{"api.github.com"}), `["*.example.com","api.github.com","api.stripe.com"]`},
		2: {`["*.example.com","api.stripe.com"]`, got[0].AllowlistDigest, `["api.github.com"]`},
		4: {`[]`, "", `[]`},
	})
}

// checkChangeView reads the change columns of the events view.
func checkChangeView(t *testing.T, db *sql.DB, want map[int64][3]string) {
	t.Helper()
	for id, w := range want {
		var change, before, domains string
		err := db.QueryRow(`SELECT allowlist_change, allowlist_before, allowlist_domains FROM events WHERE id = ?`, id).
			Scan(&change, &before, &domains)
		if err != nil {
			t.Fatalf("events view, row %d: %v", id, err)
		}
		if got := [3]string{change, before, domains}; got != w {
			t.Errorf("events view, row %d: %q, want %q", id, got, w)
		}
	}
}

// TestVerifyDetectsAllowlistChangeTampering edits, removes and adds the
// fields of change rows: Verify reports each edited row.
func TestVerifyDetectsAllowlistChangeTampering(t *testing.T) {
	tests := []struct {
		name   string
		tamper string
		row    string
	}{
		{"domain edited", `UPDATE segments SET events = json_set(events, '$[0].allowlist_change[0]', 'evil.example') WHERE first_id = 1`, "1"},
		{"domain added", `UPDATE segments SET events = json_insert(events, '$[0].allowlist_change[#]', 'evil.example') WHERE first_id = 1`, "1"},
		{"change removed", `UPDATE segments SET events = json_remove(events, '$[0].allowlist_change') WHERE first_id = 2`, "2"},
		{"before edited", `UPDATE segments SET events = json_set(events, '$[0].allowlist_before', 'sha256:00') WHERE first_id = 2`, "2"},
		{"list edited", `UPDATE segments SET events = json_set(events, '$[0].allowlist_domains', json('["evil.example"]')) WHERE first_id = 1`, "1"},
		{"list removed", `UPDATE segments SET events = json_remove(events, '$[0].allowlist_domains') WHERE first_id = 1`, "1"},
		{"after edited", `UPDATE segments SET events = json_set(events, '$[0].allowlist_digest', 'sha256:00') WHERE first_id = 1`, "1"},
		{"add turned into remove", `UPDATE segments SET events = json_set(events, '$[0].method', 'REMOVE') WHERE first_id = 1`, "1"},
		{"change given to a call", `UPDATE segments SET events = json_set(events, '$[0].allowlist_change', json('["evil.example"]')) WHERE first_id = 3`, "3"},
		{"second list before the first", `UPDATE segments SET events = replace(events, '{"id":1,', '{"id":1,"allowlist_domains":["evil.example"],') WHERE first_id = 1`, "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTemp(t)
			for i := range 2 { // rows 1, 2
				if err := s.Record(context.Background(), sampleChange(i).Event()); err != nil {
					t.Fatal(err)
				}
			}
			recordGuarded(t, s, 1) // row 3
			checkVerify(t, s, 3, nil)
			tamper(t, s.Path(), tt.tamper)
			checkVerify(t, s, 3, []string{"row " + tt.row + ": hash mismatch (edited)"})
		})
	}
}

// TestMigrateFromVersion3 opens testdata/schema-v3.db, written by the
// store before allowlist changes were recorded (schema version 3; row 1
// without allowlist state, row 2 with it, rows 3-5 one proxy segment, row
// 5 refused). Its rows still verify and read back; change rows continue
// the chain; the events view has the new columns.
func TestMigrateFromVersion3(t *testing.T) {
	s, path, old := openFixture(t, "schema-v3.db", 5)
	defer s.Close()
	ctx := context.Background()
	if old[0].AllowlistDigest != "" || old[1].AllowlistEntry != "*.example.com" || old[4].AllowlistEntry != "" ||
		old[4].AllowlistDigest != guardedEvent(3).AllowlistDigest {
		t.Errorf("old rows read back as %+v", old)
	}
	checkVerify(t, s, 5, nil)

	if err := s.Record(ctx, sampleChange(0).Event()); err != nil { // row 6
		t.Fatal(err)
	}
	recordGuarded(t, s, 1) // row 7
	checkVerify(t, s, 7, nil)
	checkEventsView(t, s.db, map[int64][2]string{
		1: {"", ""},
		2: {"*.example.com", guardedEvent(1).AllowlistDigest},
		6: {"", sampleChange(0).Event().AllowlistDigest},
	})
	checkChangeView(t, s.db, map[int64][3]string{
		1: {`[]`, "", `[]`},
		5: {`[]`, "", `[]`},
		6: {`["*.example.com","api.stripe.com"]`, DigestAllowlist([]string{"api.github.com"}), `["*.example.com","api.github.com","api.stripe.com"]`},
	})
	tamper(t, path, `UPDATE segments SET events = json_set(events, '$[0].allowlist_before', 'sha256:00') WHERE first_id = 6`)
	checkVerify(t, s, 7, []string{"row 6: hash mismatch (edited)"})
}
