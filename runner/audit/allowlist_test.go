package audit

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// guardedEvent is sampleEvent(i) as the runner records a call that went
// through the guard: with the allowlist state. Every fourth is refused, so
// it carries the digest only.
func guardedEvent(i int) Event {
	e := sampleEvent(i)
	e.AllowlistEntry = "*.example.com"
	e.AllowlistDigest = DigestAllowlist([]string{"api.stripe.com", "*.example.com"})
	if i%4 == 3 {
		e.Decision, e.Reason, e.Status, e.AllowlistEntry = DecisionBlockedAllowlist, "not on the allowlist", 0, ""
	}
	return e
}

func TestDigestAllowlist(t *testing.T) {
	// printf '*.example.com\napi.stripe.com\n' | sha256sum
	const two = "sha256:e3aa8115ec8550389118e3789c8b6561efda1d93baac8501df93fe0648690b6f"
	tests := []struct {
		name string
		list []string
		want string
	}{
		{"empty", nil, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"one entry", []string{"api.stripe.com"}, "sha256:a0f3222655c26292a9f9e56bb81e590cde99165f6f87d040bc37d1d157c1c604"},
		{"sorted", []string{"*.example.com", "api.stripe.com"}, two},
		{"order ignored", []string{"api.stripe.com", "*.example.com"}, two},
		{"duplicates ignored", []string{"api.stripe.com", "*.example.com", "api.stripe.com"}, two},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.list)
			if got := DigestAllowlist(in); got != tt.want {
				t.Errorf("DigestAllowlist(%q) = %s, want %s", tt.list, got, tt.want)
			}
			if !slices.Equal(in, tt.list) {
				t.Errorf("DigestAllowlist changed its argument to %q", in)
			}
		})
	}
	if DigestAllowlist([]string{"api.stripe.com", "api.github.com"}) == DigestAllowlist([]string{"api.stripe.com"}) {
		t.Error("adding an entry left the digest unchanged")
	}
}

// TestAllowlistStateInChain: a row without allowlist state encodes exactly
// as before (chain v1); a row with some is encoded under v2, which covers
// both fields, each distinctly.
func TestAllowlistStateInChain(t *testing.T) {
	tests := []struct {
		name, entry, digest string
		tag                 string
	}{
		{"no state", "", "", "agentsecrets-audit-chain-v1"},
		{"digest only", "", "sha256:aa", "agentsecrets-audit-chain-v2"},
		{"entry and digest", "*.example.com", "sha256:aa", "agentsecrets-audit-chain-v2"},
		{"other entry", "api.example.com", "sha256:aa", "agentsecrets-audit-chain-v2"},
		{"other digest", "*.example.com", "sha256:bb", "agentsecrets-audit-chain-v2"},
		{"entry only", "*.example.com", "", "agentsecrets-audit-chain-v2"},
		{"entry given as digest", "", "*.example.com", "agentsecrets-audit-chain-v2"},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		e := sampleEvent(1)
		e.AllowlistEntry, e.AllowlistDigest = tt.entry, tt.digest
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
}

// TestVerifyDetectsAllowlistTampering edits, removes and adds allowlist
// state in rows of a log: Verify reports each edited row.
func TestVerifyDetectsAllowlistTampering(t *testing.T) {
	tests := []struct {
		name   string
		tamper string
		row    string
	}{
		{"edited entry", `UPDATE segments SET events = json_set(events, '$[0].allowlist_entry', 'evil.example') WHERE first_id = 2`, "2"},
		{"edited digest", `UPDATE segments SET events = json_set(events, '$[0].allowlist_digest', 'sha256:00') WHERE first_id = 3`, "3"},
		{"entry removed", `UPDATE segments SET events = json_remove(events, '$[0].allowlist_entry') WHERE first_id = 2`, "2"},
		{"state removed", `UPDATE segments SET events = json_remove(events, '$[0].allowlist_entry', '$[0].allowlist_digest') WHERE first_id = 5`, "5"},
		{"entry added to a refused row", `UPDATE segments SET events = json_set(events, '$[0].allowlist_entry', '*.example.com') WHERE first_id = 4`, "4"},
		{"state added to a row without", `UPDATE segments SET events = json_set(events, '$[0].allowlist_digest', 'sha256:00') WHERE first_id = 7`, "7"},
		{"second entry before the first", `UPDATE segments SET events = replace(events, '{"id":2,', '{"id":2,"allowlist_entry":"evil.example",') WHERE first_id = 2`, "2"},
		{"second digest before the first", `UPDATE segments SET events = replace(events, '{"id":6,', '{"id":6,"allowlist_digest":"sha256:00",') WHERE first_id = 6`, "6"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTemp(t)
			recordGuarded(t, s, 6)
			if err := s.Record(context.Background(), sampleEvent(6)); err != nil { // row 7: no state
				t.Fatal(err)
			}
			checkVerify(t, s, 7, nil)
			tamper(t, s.Path(), tt.tamper)
			checkVerify(t, s, 7, []string{"row " + tt.row + ": hash mismatch (edited)"})
		})
	}
}

// recordGuarded records guardedEvent(0..n-1), a segment each.
func recordGuarded(t *testing.T, s Sink, n int) {
	t.Helper()
	for i := range n {
		if err := s.Record(context.Background(), guardedEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestMigrateFromVersion2 opens testdata/schema-v2.db, written by the
// store before rows carried allowlist state (schema version 2; rows 1-3 a
// segment each, rows 4-8 one segment of the proxy source). Its rows still
// verify and read back without state; new rows with state, alone and in a
// batch, continue the chain; the events view has the new columns; filters
// work across old and new rows.
func TestMigrateFromVersion2(t *testing.T) {
	s, path, old := openFixture(t, "schema-v2.db", 8)
	defer s.Close()
	ctx := context.Background()
	for _, e := range old {
		if e.AllowlistEntry != "" || e.AllowlistDigest != "" {
			t.Errorf("old row %d reads back with allowlist state %q %q", e.ID, e.AllowlistEntry, e.AllowlistDigest)
		}
	}
	checkVerify(t, s, 8, nil)

	recordGuarded(t, s, 2) // rows 9, 10
	batch := make([]Event, 4)
	for i := range batch { // rows 11-14 in one segment; row 14 is refused
		batch[i], _ = normalize(guardedEvent(i))
		batch[i].Source = SourceProxy
	}
	if err := s.appendEvents(ctx, batch); err != nil {
		t.Fatal(err)
	}
	checkVerify(t, s, 14, nil)

	got, err := s.Query(ctx, Filter{Source: SourceProxy, Last: 6})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, e := range got {
		ids = append(ids, e.ID)
	}
	if !slices.Equal(ids, []int64{7, 8, 11, 12, 13, 14}) {
		t.Errorf("proxy rows %v, want 7 8 11 12 13 14", ids)
	}
	if e := got[2]; e.AllowlistEntry != "*.example.com" || e.AllowlistDigest != guardedEvent(0).AllowlistDigest {
		t.Errorf("row 11: allowlist state %q %q", e.AllowlistEntry, e.AllowlistDigest)
	}
	checkEventsView(t, s.db, map[int64][2]string{
		1:  {"", ""},
		8:  {"", ""},
		9:  {"*.example.com", guardedEvent(0).AllowlistDigest},
		14: {"", guardedEvent(3).AllowlistDigest},
	})

	tamper(t, path, `UPDATE segments SET events = json_set(events, '$[1].allowlist_entry', 'api.stripe.com') WHERE first_id = 11`)
	checkVerify(t, s, 14, []string{"row 12: hash mismatch (edited)"})
}

// checkEventsView reads the allowlist columns of the events view for the
// given ids.
func checkEventsView(t *testing.T, db *sql.DB, want map[int64][2]string) {
	t.Helper()
	for id, w := range want {
		var entry, digest string
		err := db.QueryRow(`SELECT allowlist_entry, allowlist_digest FROM events WHERE id = ?`, id).Scan(&entry, &digest)
		if err != nil {
			t.Fatalf("events view, row %d: %v", id, err)
		}
		if entry != w[0] || digest != w[1] {
			t.Errorf("events view, row %d: %q %q, want %q %q", id, entry, digest, w[0], w[1])
		}
	}
}

// copyFixture copies a database from testdata into a temporary directory,
// since opening it migrates it.
func copyFixture(t *testing.T, name string) string {
	t.Helper()
	src, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	path := filepath.Join(t.TempDir(), FileName)
	dst, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// openFixture opens a copy of testdata/name (at path), which it migrates
// to the current schema (version 4), and reads its rows, of which there
// must be rows.
func openFixture(t *testing.T, name string, rows int) (s *Store, path string, old []Entry) {
	t.Helper()
	path = copyFixture(t, name)
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if v, err := s.userVersion(ctx, s.db); err != nil || v != schemaVersion || v != 4 {
		s.Close()
		t.Fatalf("schema version %d (%v), want 4", v, err)
	}
	old, err = s.Query(ctx, Filter{})
	if err != nil || len(old) != rows {
		s.Close()
		t.Fatalf("old rows: %d, %v", len(old), err)
	}
	return s, path, old
}
