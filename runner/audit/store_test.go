package audit

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fullEvent sets every field of Event to a non-zero value.
func fullEvent() Event {
	return Event{
		Time:        time.Date(2026, 3, 4, 5, 6, 7, 891011, time.FixedZone("X", 3600)),
		Source:      SourceProxy,
		Agent:       "token:tok_42",
		Workspace:   "acme",
		Project:     "billing",
		Environment: "production",
		Method:      "POST",
		URL:         "https://api.stripe.com/v1/charges?key={STRIPE_KEY}",
		Keys:        []string{"STRIPE_KEY", "STRIPE_ACCOUNT"},
		AuthStyles:  []string{"bearer", "header"},
		Status:      402,
		Duration:    1234567 * time.Nanosecond,
		Decision:    DecisionPolicyDenied,
		Reason:      "policy \"sign\" denied: missing body",
		Redactions:  3,
		// What the runner records: the entry that admitted the host and
		// the digest of the list (DigestAllowlist).
		AllowlistEntry:  "*.stripe.com",
		AllowlistDigest: DigestAllowlist([]string{"*.stripe.com", "api.github.com"}),
		// What a change of the allowlist records (no call row has them).
		AllowlistChange:  []string{"api.github.com"},
		AllowlistBefore:  DigestAllowlist([]string{"*.stripe.com"}),
		AllowlistDomains: []string{"*.stripe.com", "api.github.com"},
	}
}

func TestFullEventSetsEveryField(t *testing.T) {
	v := reflect.ValueOf(fullEvent())
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Errorf("fullEvent leaves %s zero; the round trip would not cover it", v.Type().Field(i).Name)
		}
	}
}

func TestRoundTripEveryField(t *testing.T) {
	s := openTemp(t)
	want := fullEvent()
	if err := s.Record(context.Background(), want); err != nil {
		t.Fatal(err)
	}
	got, err := s.Query(context.Background(), Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("got %d entries, want 1", len(got))
	}
	if got[0].ID != 1 || len(got[0].Hash) != 64 {
		t.Errorf("id %d hash %q", got[0].ID, got[0].Hash)
	}
	if !got[0].Time.Equal(want.Time) {
		t.Errorf("time %v, want %v", got[0].Time, want.Time)
	}
	want.Time = want.Time.UTC()
	if !reflect.DeepEqual(got[0].Event, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got[0].Event, want)
	}
}

func TestRecordNormalises(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Event)
		check   func(*testing.T, Event)
		wantErr string
	}{
		{
			name:  "zero time becomes now",
			edit:  func(e *Event) { e.Time = time.Time{} },
			check: func(t *testing.T, e Event) { checkRecent(t, e.Time) },
		},
		{
			name: "userinfo dropped",
			edit: func(e *Event) { e.URL = "https://bob:hunter2@api.example.com/x?a=1" },
			check: func(t *testing.T, e Event) {
				if e.URL != "https://api.example.com/x?a=1" {
					t.Errorf("url %q", e.URL)
				}
			},
		},
		{
			name: "empty lists read back nil",
			edit: func(e *Event) { e.Keys, e.AuthStyles = []string{}, nil },
			check: func(t *testing.T, e Event) {
				if e.Keys != nil || e.AuthStyles != nil {
					t.Errorf("keys %#v styles %#v", e.Keys, e.AuthStyles)
				}
			},
		},
		{
			name: "allowlist state made valid UTF-8",
			edit: func(e *Event) { e.AllowlistEntry, e.AllowlistDigest = "*.ex\xffample.com", "sha256:\xfe" },
			check: func(t *testing.T, e Event) {
				if e.AllowlistEntry != "*.ex\uFFFDample.com" || e.AllowlistDigest != "sha256:\uFFFD" {
					t.Errorf("allowlist state %q %q", e.AllowlistEntry, e.AllowlistDigest)
				}
			},
		},
		{
			name: "allowlist change made valid UTF-8, empty lists nil",
			edit: func(e *Event) {
				e.AllowlistChange, e.AllowlistBefore, e.AllowlistDomains = []string{"a\xff.com"}, "sha256:\xfe", []string{}
			},
			check: func(t *testing.T, e Event) {
				if !slices.Equal(e.AllowlistChange, []string{"a\uFFFD.com"}) || e.AllowlistBefore != "sha256:\uFFFD" || e.AllowlistDomains != nil {
					t.Errorf("allowlist change %q %q %#v", e.AllowlistChange, e.AllowlistBefore, e.AllowlistDomains)
				}
			},
		},
		{name: "unknown decision", edit: func(e *Event) { e.Decision = "maybe" }, wantErr: `audit: unknown decision "maybe"`},
		{name: "empty decision", edit: func(e *Event) { e.Decision = "" }, wantErr: `audit: unknown decision ""`},
		{name: "time out of range", edit: func(e *Event) { e.Time = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC) }, wantErr: "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, sink := range []Sink{openTemp(t), &MemorySink{}} {
				e := fullEvent()
				tt.edit(&e)
				err := sink.Record(context.Background(), e)
				if tt.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
						t.Fatalf("%T: err %v, want %q", sink, err, tt.wantErr)
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				tt.check(t, lastEvent(t, sink))
			}
		})
	}
}

func checkRecent(t *testing.T, tm time.Time) {
	t.Helper()
	if d := time.Since(tm); d < 0 || d > time.Hour {
		t.Errorf("time %v is not now", tm)
	}
}

func lastEvent(t *testing.T, sink Sink) Event {
	t.Helper()
	switch s := sink.(type) {
	case *Store:
		entries, err := s.Query(context.Background(), Filter{Last: 1})
		if err != nil || len(entries) != 1 {
			t.Fatalf("query: %v, %d entries", err, len(entries))
		}
		return entries[0].Event
	case *MemorySink:
		events := s.Events()
		return events[len(events)-1]
	}
	t.Fatalf("unknown sink %T", sink)
	return Event{}
}

func TestMemorySinkKeepsCopies(t *testing.T) {
	var m MemorySink
	e := fullEvent()
	if err := m.Record(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	e.Keys[0] = "CHANGED"
	got := m.Events()
	got[0].AuthStyles[0] = "CHANGED"
	again := m.Events()
	if again[0].Keys[0] != "STRIPE_KEY" || again[0].AuthStyles[0] != "bearer" {
		t.Errorf("stored event shares slices with callers: %+v", again[0])
	}
}

// TestQueryFilters runs every filter over rows appended one by one (a
// segment each) and over the same rows appended as one batch (a single
// segment).
func TestQueryFilters(t *testing.T) {
	for _, batched := range []bool{false, true} {
		t.Run(fmt.Sprintf("batched=%v", batched), func(t *testing.T) { testQueryFilters(t, batched) })
	}
}

func testQueryFilters(t *testing.T, batched bool) {
	s := openTemp(t)
	base := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	rows := []Event{
		{Source: SourceCall, Agent: "anonymous", Environment: "development", Keys: []string{"STRIPE_KEY"}},
		{Source: SourceProxy, Agent: "token:t1", Environment: "production", Keys: []string{"OPENAI_KEY", "STRIPE_KEY"}},
		{Source: SourceExec, Agent: "deploy-bot", Environment: "production", Keys: []string{"OPENAI_KEY"}},
		{Source: SourceProxy, Agent: "token:t1", Environment: "staging", Keys: []string{"STRIPE_KEY_OLD"}},
		{Source: SourceCall, Agent: "anonymous", Environment: "production"},
	}
	for i := range rows {
		rows[i].Time = base.Add(time.Duration(i) * time.Minute)
		rows[i].Decision = DecisionOK
		if batched {
			rows[i], _ = normalize(rows[i])
			continue
		}
		if err := s.Record(context.Background(), rows[i]); err != nil {
			t.Fatal(err)
		}
	}
	if batched {
		if err := s.appendEvents(context.Background(), rows); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		filter Filter
		want   []int64
	}{
		{"all", Filter{}, []int64{1, 2, 3, 4, 5}},
		{"last 2", Filter{Last: 2}, []int64{4, 5}},
		{"last more than rows", Filter{Last: 50}, []int64{1, 2, 3, 4, 5}},
		{"secret exact name", Filter{Secret: "STRIPE_KEY"}, []int64{1, 2}},
		{"secret no prefix match", Filter{Secret: "STRIPE"}, nil},
		{"env", Filter{Env: "production"}, []int64{2, 3, 5}},
		{"agent", Filter{Agent: "token:t1"}, []int64{2, 4}},
		{"agent or its tokens", Filter{Agent: "deploy-bot", Agents: []string{"token:t1"}}, []int64{2, 3, 4}},
		{"agents only", Filter{Agents: []string{"anonymous", "deploy-bot"}}, []int64{1, 3, 5}},
		{"agents with last", Filter{Agents: []string{"anonymous", "token:t1"}, Last: 2}, []int64{4, 5}},
		{"source", Filter{Source: SourceCall}, []int64{1, 5}},
		{"since", Filter{Since: base.Add(3 * time.Minute)}, []int64{4, 5}},
		{"after id", Filter{AfterID: 3}, []int64{4, 5}},
		{"combined", Filter{Env: "production", Secret: "OPENAI_KEY", Last: 1}, []int64{3}},
		{"env last", Filter{Env: "production", Last: 2}, []int64{3, 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Query(context.Background(), tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for _, e := range got {
				ids = append(ids, e.ID)
			}
			if !slices.Equal(ids, tt.want) {
				t.Errorf("ids %v, want %v", ids, tt.want)
			}
		})
	}
	if _, err := s.Query(context.Background(), Filter{Last: -1}); err == nil {
		t.Error("negative Last accepted")
	}
}

func TestVerifyIntact(t *testing.T) {
	s := openTemp(t)
	res, err := s.Verify(context.Background())
	if err != nil || !res.OK || res.Rows != 0 {
		t.Fatalf("empty store: %+v, %v", res, err)
	}
	recordN(t, s, 12)
	res, err = s.Verify(context.Background())
	if err != nil || !res.OK || res.Rows != 12 || len(res.Problems) != 0 {
		t.Fatalf("intact store: %+v, %v", res, err)
	}
}

// Each Record is a segment of one row, so row N is segment N here.
func TestVerifyDetectsTampering(t *testing.T) {
	swap := func(a, b string) []string {
		return []string{
			"CREATE TEMP TABLE saved AS SELECT * FROM segments WHERE first_id IN (" + a + "," + b + ")",
			"UPDATE segments SET events = (SELECT json_set(events, '$[0].id', " + a + ") FROM saved WHERE first_id = " + b + ") WHERE first_id = " + a,
			"UPDATE segments SET events = (SELECT json_set(events, '$[0].id', " + b + ") FROM saved WHERE first_id = " + a + ") WHERE first_id = " + b,
		}
	}
	tests := []struct {
		name     string
		tamper   []string
		rows     int
		problems []string
	}{
		{
			name:     "edited row",
			tamper:   []string{"UPDATE segments SET events = json_set(events, '$[0].status', 500) WHERE first_id = 7"},
			rows:     10,
			problems: []string{"row 7: hash mismatch (edited)"},
		},
		{
			name:     "edited key names",
			tamper:   []string{`UPDATE segments SET events = json_set(events, '$[0].keys', json('["OTHER_KEY"]')) WHERE first_id = 2`},
			rows:     10,
			problems: []string{"row 2: hash mismatch (edited)"},
		},
		{
			name:     "unreadable key names",
			tamper:   []string{`UPDATE segments SET events = json_set(events, '$[0].keys', 'not a list') WHERE first_id = 4`},
			rows:     10,
			problems: []string{"row 4: hash mismatch (edited)"},
		},
		{
			name:     "unreadable segment",
			tamper:   []string{`UPDATE segments SET events = 'not json' WHERE first_id = 4`},
			rows:     9,
			problems: []string{"row 4: unreadable (edited)"},
		},
		{
			name:     "deleted middle row",
			tamper:   []string{"DELETE FROM segments WHERE first_id = 5"},
			rows:     9,
			problems: []string{"row 5 missing (deleted)"},
		},
		{
			name:     "deleted last row",
			tamper:   []string{"DELETE FROM segments WHERE first_id = 10"},
			rows:     9,
			problems: []string{"row 10 missing (deleted)"},
		},
		{
			name:     "deleted every row",
			tamper:   []string{"DELETE FROM segments"},
			rows:     0,
			problems: []string{"rows 1-10 missing (deleted)"},
		},
		{
			name:   "reordered rows",
			tamper: swap("3", "4"),
			rows:   10,
			problems: []string{
				"row 3: out of order (moved from another position)",
				"row 4: out of order (moved from another position)",
				"row 5: does not follow row 4 (row 4 re-hashed, or rows reordered)",
			},
		},
		{
			name:     "edited link",
			tamper:   []string{"UPDATE segments SET events = json_set(events, '$[0].prev_hash', printf('%064d', 7)) WHERE first_id = 5"},
			rows:     10,
			problems: []string{"row 5: hash mismatch (edited)"},
		},
		{
			name:     "re-hashed row",
			tamper:   []string{"UPDATE segments SET events = json_set(events, '$[0].hash', (SELECT events ->> '$[0].hash' FROM segments WHERE first_id = 1)) WHERE first_id = 6"},
			rows:     10,
			problems: []string{"row 6: hash mismatch (edited)", "row 7: does not follow row 6 (row 6 re-hashed, or rows reordered)"},
		},
		{
			name:   "segment copied to the end",
			tamper: []string{"INSERT INTO segments SELECT 11, 11, events FROM segments WHERE first_id = 5"},
			rows:   11,
			problems: []string{
				"row 11: segment bounds do not match its rows (edited)",
				"row 5: id out of sequence (inserted outside the store)",
			},
		},
		{
			name: "row appended outside the store",
			tamper: []string{"INSERT INTO segments SELECT 11, 11, json_set(events, '$[0].id', 11, '$[0].prev_hash', events ->> '$[0].hash') " +
				"FROM segments WHERE first_id = 10"},
			rows:     11,
			problems: []string{"row 11: hash mismatch (edited)", "row 11: after the chain head (inserted outside the store)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTemp(t)
			recordN(t, s, 10)
			tamper(t, s.Path(), tt.tamper...)
			checkVerify(t, s, tt.rows, tt.problems)
		})
	}
}

// TestVerifyDetectsTamperingInBatch edits rows inside a segment of many,
// as the proxy's batches write them.
func TestVerifyDetectsTamperingInBatch(t *testing.T) {
	tests := []struct {
		name     string
		tamper   string
		rows     int
		problems []string
	}{
		{
			name:     "edited row",
			tamper:   "UPDATE segments SET events = json_set(events, '$[4].url', 'https://elsewhere.example/')",
			rows:     10,
			problems: []string{"row 5: hash mismatch (edited)"},
		},
		{
			name:     "deleted middle row",
			tamper:   "UPDATE segments SET events = json_remove(events, '$[4]')",
			rows:     9,
			problems: []string{"row 5 missing (deleted)"},
		},
		{
			name:   "deleted last row",
			tamper: "UPDATE segments SET events = json_remove(events, '$[9]')",
			rows:   9,
			problems: []string{
				"rows 1-10: segment bounds do not match its rows (edited)",
				"row 10 missing (deleted)",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTemp(t)
			events := make([]Event, 10)
			for i := range events {
				events[i], _ = normalize(sampleEvent(i))
			}
			if err := s.appendEvents(context.Background(), events); err != nil {
				t.Fatal(err)
			}
			checkVerify(t, s, 10, nil)
			tamper(t, s.Path(), tt.tamper)
			checkVerify(t, s, tt.rows, tt.problems)
		})
	}
}

// TestVerifyDetectsDuplicateField edits a row by putting a second copy of
// a field before the original: the events view (SQLite reads the first
// copy) then shows the new value while the hashed one (the last copy) is
// unchanged. Verify must report the row.
func TestVerifyDetectsDuplicateField(t *testing.T) {
	tests := []struct {
		name  string
		field string
		value string
	}{
		{"url", "url", `"https://elsewhere.example/"`},
		{"agent", "agent", `"someone-else"`},
		{"status", "status", `500`},
		{"keys", "keys", `["OTHER_KEY"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTemp(t)
			recordN(t, s, 3)
			checkVerify(t, s, 3, nil)
			tamper(t, s.Path(), `UPDATE segments SET events = replace(events, '{"id":2,', '{"id":2,"`+tt.field+`":`+tt.value+`,') WHERE first_id = 2`)
			db, err := sql.Open("sqlite", s.Path())
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var seen string
			if err := db.QueryRowContext(context.Background(), `SELECT `+tt.field+` FROM events WHERE id = 2`).Scan(&seen); err != nil {
				t.Fatal(err)
			}
			t.Logf("events view shows %s = %s", tt.field, seen)
			checkVerify(t, s, 3, []string{"row 2: hash mismatch (edited)"})
		})
	}
}

// TestVerifyDetectsSchemaTampering changes what the store created beside
// the rows: the events view, which any SQLite client reads the log
// through, and the triggers that keep the log append-only. The rows are
// untouched, so only a check of the schema sees it.
func TestVerifyDetectsSchemaTampering(t *testing.T) {
	hidden := "DROP VIEW events; CREATE VIEW events AS SELECT * FROM (" + expectedViewSelect(t) +
		") WHERE agent != 'evil-bot'"
	tests := []struct {
		name     string
		tamper   []string
		problems []string
	}{
		{
			name:     "view hides an agent's rows",
			tamper:   []string{hidden},
			problems: []string{`schema: view "events" changed (edited)`},
		},
		{
			name:     "view dropped",
			tamper:   []string{"DROP VIEW events"},
			problems: []string{`schema: view "events" missing (dropped)`},
		},
		{
			name:     "append-only trigger dropped",
			tamper:   []string{"DROP TRIGGER segments_append_only_delete"},
			problems: []string{`schema: trigger "segments_append_only_delete" missing (dropped)`},
		},
		{
			name: "append-only trigger made harmless",
			tamper: []string{"DROP TRIGGER segments_append_only_update",
				"CREATE TRIGGER segments_append_only_update BEFORE UPDATE ON segments WHEN 0 BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END"},
			problems: []string{`schema: trigger "segments_append_only_update" changed (edited)`},
		},
		{
			name: "trigger added",
			tamper: []string{"CREATE TRIGGER hide AFTER INSERT ON segments WHEN new.events LIKE '%evil-bot%' " +
				"BEGIN SELECT 1; END"},
			problems: []string{`schema: trigger "hide" added outside the store`},
		},
		{
			name: "chain head rebuilt without its check",
			tamper: []string{"CREATE TABLE saved AS SELECT * FROM chain_head", "DROP TABLE chain_head",
				"CREATE TABLE chain_head (id INTEGER PRIMARY KEY, last_id INTEGER NOT NULL, hash TEXT NOT NULL) STRICT",
				"INSERT INTO chain_head SELECT * FROM saved", "DROP TABLE saved", chainHeadTrigger(t)},
			problems: []string{`schema: table "chain_head" changed (edited)`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTemp(t)
			recordN(t, s, 2)
			e := sampleEvent(2)
			e.Agent = "evil-bot"
			if err := s.Record(context.Background(), e); err != nil {
				t.Fatal(err)
			}
			checkVerify(t, s, 3, nil)
			execSQL(t, s.Path(), tt.tamper...)
			checkVerify(t, s, 3, tt.problems)
		})
	}
}

// chainHeadTrigger is the statement that creates chain_head's trigger, as
// Open runs it.
func chainHeadTrigger(t *testing.T) string {
	t.Helper()
	m := migrations[0]
	i := strings.Index(m, "CREATE TRIGGER chain_head_keep")
	j := strings.Index(m[max(i, 0):], "END;")
	if i < 0 || j < 0 {
		t.Fatal("the first migration does not create chain_head_keep")
	}
	return m[i : i+j+len("END")]
}

// expectedViewSelect is the SELECT of the events view as Open creates it.
func expectedViewSelect(t *testing.T) string {
	t.Helper()
	view := migrations[len(migrations)-1]
	i := strings.Index(view, "SELECT")
	if i < 0 || !strings.Contains(view, "CREATE VIEW events AS") {
		t.Fatal("the last migration does not create the events view")
	}
	return strings.TrimSuffix(strings.TrimSpace(view[i:]), ";")
}

// checkVerify runs Verify and compares the rows seen and the problems.
func checkVerify(t *testing.T, s *Store, rows int, problems []string) {
	t.Helper()
	res, err := s.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.OK != (len(problems) == 0) || res.Rows != rows || !slices.Equal(res.Problems, problems) {
		t.Errorf("verify = %+v\nwant rows %d, problems %q", res, rows, problems)
	}
}

func TestAppendOnlyTriggers(t *testing.T) {
	s := openTemp(t)
	recordN(t, s, 3)
	db, err := sql.Open("sqlite", s.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		"UPDATE segments SET events = '[]' WHERE first_id = 2",
		"DELETE FROM segments WHERE first_id = 3",
		"DELETE FROM chain_head",
	} {
		if _, err := db.Exec(q); err == nil || !strings.Contains(err.Error(), "audit") {
			t.Errorf("%s: err %v, want refusal", q, err)
		}
	}
	for _, q := range []string{"UPDATE events SET status = 1 WHERE id = 2", "DELETE FROM events"} {
		if _, err := db.Exec(q); err == nil {
			t.Errorf("%s: no error, want refusal", q)
		}
	}
	if res, err := s.Verify(context.Background()); err != nil || !res.OK {
		t.Errorf("verify after refused edits: %+v, %v", res, err)
	}
}

func TestConcurrentRecorders(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	// Everyone starts on a file that does not exist yet, so the schema
	// creation races too.
	path := filepath.Join(t.TempDir(), "home", FileName)
	const processes, goroutines, perGoroutine = 2, 6, 25
	cmds := make([]*exec.Cmd, processes)
	for p := range cmds {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childDBEnv+"="+path, childAgentEnv+"=process")
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[p] = cmd
	}
	// Half the goroutines share one Store, the others open their own.
	shared, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer shared.Close()
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := shared
			if g%2 == 1 {
				own, err := Open(path)
				if err != nil {
					t.Error(err)
					return
				}
				defer own.Close()
				s = own
			}
			for i := range perGoroutine {
				e := sampleEvent(i)
				e.Agent = "goroutine"
				if err := s.Record(context.Background(), e); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("recorder process: %v", err)
		}
	}
	for agent, want := range map[string]int{"goroutine": goroutines * perGoroutine, "process": processes * childRows} {
		got, err := shared.Query(context.Background(), Filter{Agent: agent})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != want {
			t.Errorf("%s rows = %d, want %d", agent, len(got), want)
		}
	}
	res, err := shared.Verify(context.Background())
	total := goroutines*perGoroutine + processes*childRows
	if err != nil || !res.OK || res.Rows != total {
		t.Errorf("verify = %+v, %v; want OK with %d rows", res, err, total)
	}
}

func TestNoValueInDatabase(t *testing.T) {
	const secret = "sk_live_9f8e7d6c5b4a39281706"
	s := openTemp(t)
	u := mustParseURL(t, "https://maps.example.com/geo?address=x&key="+secret)
	e := fullEvent()
	e.Keys = []string{"GOOGLE_MAPS_KEY"}
	e.AuthStyles = []string{"query"}
	e.URL = SanitizeURL(u, map[string]string{"key": "GOOGLE_MAPS_KEY"})
	if err := s.Record(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	forms := valueForms(secret)
	// While open, the row lives in the WAL; after Close, in the main file.
	scan := func(when string) {
		var all []byte
		for _, p := range []string{s.Path(), s.Path() + "-wal", s.Path() + "-shm"} {
			b, err := os.ReadFile(p)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
			all = append(all, b...)
		}
		if !strings.Contains(string(all), "GOOGLE_MAPS_KEY") {
			t.Fatalf("%s: key name not found in the database files; the scan reads the wrong bytes", when)
		}
		for name, form := range forms {
			if strings.Contains(string(all), form) {
				t.Errorf("%s: database files contain the secret (%s)", when, name)
			}
		}
	}
	scan("open")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	scan("closed")
}

func TestEventHasNoValueField(t *testing.T) {
	forbidden := []string{"value", "secret", "token", "credential", "password", "passwd", "plaintext"}
	check := func(what, name string) {
		lower := strings.ToLower(name)
		for _, f := range forbidden {
			if strings.Contains(lower, f) {
				t.Errorf("%s %q looks like it could hold a value", what, name)
			}
		}
	}
	allowed := map[reflect.Type]bool{
		reflect.TypeFor[string](): true, reflect.TypeFor[[]string](): true, reflect.TypeFor[int](): true,
		reflect.TypeFor[time.Time](): true, reflect.TypeFor[time.Duration](): true, reflect.TypeFor[Decision](): true,
	}
	typ := reflect.TypeFor[Event]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		check("Event field", f.Name)
		if !allowed[f.Type] {
			t.Errorf("Event field %s has type %v; only plain names, numbers and times belong here", f.Name, f.Type)
		}
	}
	s := openTemp(t)
	for _, table := range []string{"events", "chain_head"} {
		rows, err := s.db.Query("SELECT name FROM pragma_table_info(?)", table)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			var col string
			if err := rows.Scan(&col); err != nil {
				t.Fatal(err)
			}
			check(table+" column", col)
			n++
		}
		rows.Close()
		if n == 0 {
			t.Errorf("table %s has no columns", table)
		}
	}
}

func TestOpenTightensLooseFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	recordN(t, s, 1)
	s.Close()
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	info, _ := os.Stat(path)
	if info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v after reopening", info.Mode().Perm())
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	tamper(t, path, "PRAGMA user_version = 99")
	if _, err := Open(path); !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("err %v, want ErrNewerSchema", err)
	}
}

// TestMigrateFromVersion1 opens a database written by version 1 (a row per
// event): every row is kept, reads back, shows in the events view and
// still verifies, and new rows continue the chain.
func TestMigrateFromVersion1(t *testing.T) {
	path, want := writeVersion1(t, 4)
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Query(context.Background(), Filter{})
	if err != nil || len(got) != len(want) {
		t.Fatalf("query after migration: %d rows, %v", len(got), err)
	}
	for i, g := range got {
		if g.ID != int64(i+1) || !reflect.DeepEqual(g.Event, want[i]) {
			t.Errorf("row %d = %+v, want %+v", i+1, g.Event, want[i])
		}
	}
	checkVerify(t, s, 4, nil)
	recordN(t, s, 1)
	checkVerify(t, s, 5, nil)
	recordGuarded(t, s, 1) // a row with allowlist state after the old ones
	checkVerify(t, s, 6, nil)
	var n int
	var ids, keys string
	if err := s.db.QueryRow(`SELECT count(*), group_concat(id), group_concat(keys, ' ') FROM events ORDER BY id`).Scan(&n, &ids, &keys); err != nil {
		t.Fatal(err)
	}
	if n != 6 || ids != "1,2,3,4,5,6" || keys != strings.Repeat(`["STRIPE_KEY"] `, 5)+`["STRIPE_KEY"]` {
		t.Errorf("events view: %d rows, ids %s, keys %s", n, ids, keys)
	}
	checkEventsView(t, s.db, map[int64][2]string{1: {"", ""}, 6: {"*.example.com", guardedEvent(0).AllowlistDigest}})
}

// TestMigrateKeepsEditedRow migrates a version 1 row whose key list was
// edited into something that is not JSON: it is kept and reported.
func TestMigrateKeepsEditedRow(t *testing.T) {
	path, _ := writeVersion1(t, 3)
	tamper(t, path, `UPDATE events SET keys = 'not json' WHERE id = 2`)
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkVerify(t, s, 3, []string{"row 2: hash mismatch (edited)"})
	if _, err := s.Query(context.Background(), Filter{}); !errors.Is(err, ErrUnreadable) {
		t.Errorf("query over the edited row: %v, want unreadable", err)
	}
}

// writeVersion1 writes n chained rows the way version 1 of the store did
// and returns the database's path and the events.
func writeVersion1(t *testing.T, n int) (string, []Event) {
	t.Helper()
	path := filepath.Join(t.TempDir(), FileName)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(migrations[0] + "; PRAGMA user_version = 1"); err != nil {
		t.Fatal(err)
	}
	prev := genesisHash
	var events []Event
	for i := range n {
		e, _ := normalize(sampleEvent(i))
		id := int64(i + 1)
		hash := chainHash(prev, id, e)
		keys, _ := json.Marshal(e.Keys)
		styles, _ := json.Marshal(e.AuthStyles)
		if _, err := db.Exec(`INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			id, e.Time.UnixNano(), e.Source, e.Agent, e.Workspace, e.Project, e.Environment, e.Method,
			e.URL, string(keys), string(styles), e.Status, int64(e.Duration), string(e.Decision), e.Reason,
			e.Redactions, prev, hash); err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
		prev = hash
	}
	if _, err := db.Exec(`UPDATE chain_head SET last_id = ?, hash = ?`, n, prev); err != nil {
		t.Fatal(err)
	}
	return path, events
}

func TestReopenKeepsChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	for range 3 {
		s, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		recordN(t, s, 2)
		s.Close()
	}
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := s.Verify(context.Background())
	if err != nil || !res.OK || res.Rows != 6 {
		t.Fatalf("verify = %+v, %v", res, err)
	}
}

func TestOpenRejectsBadPath(t *testing.T) {
	for _, p := range []string{"", "/tmp/a?mode=ro", "/tmp/a#b"} {
		if _, err := Open(p); err == nil {
			t.Errorf("Open(%q) succeeded", p)
		}
	}
}

// TestWatch follows the log with rows appended one by one (a segment
// each) and in batches (rows 1-5 one segment, rows 6-8 another, so the
// first poll's last row is in the middle of nothing and later rows share a
// segment with a filtered one).
func TestWatch(t *testing.T) {
	for _, batched := range []bool{false, true} {
		t.Run(fmt.Sprintf("batched=%v", batched), func(t *testing.T) { testWatch(t, batched) })
	}
}

func testWatch(t *testing.T, batched bool) {
	s := openTemp(t)
	write := func(events ...Event) {
		t.Helper()
		if !batched {
			for _, e := range events {
				if err := s.Record(context.Background(), e); err != nil {
					t.Fatal(err)
				}
			}
			return
		}
		for i := range events {
			events[i], _ = normalize(events[i])
		}
		if err := s.appendEvents(context.Background(), events); err != nil {
			t.Fatal(err)
		}
	}
	write(sampleEvent(0), sampleEvent(1), sampleEvent(2), sampleEvent(3), sampleEvent(4))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got := make(chan Entry, 64)
	done := make(chan error, 1)
	go func() {
		done <- s.WatchEvery(ctx, Filter{Last: 2, Env: "development"}, 5*time.Millisecond, func(e Entry) { got <- e })
	}()
	var ids []int64
	next := func() {
		select {
		case e := <-got:
			ids = append(ids, e.ID)
		case <-ctx.Done():
			t.Fatalf("watch delivered only %v", ids)
		}
	}
	next()
	next()
	other := sampleEvent(0)
	other.Environment = "production"
	write(other, sampleEvent(1), sampleEvent(2)) // id 6 filtered out; 7, 8
	next()
	next()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("watch returned %v after cancel", err)
	}
	if want := []int64{4, 5, 7, 8}; !slices.Equal(ids, want) {
		t.Errorf("ids %v, want %v", ids, want)
	}
}

func TestWatchEmptyFirstBatchSkipsOlderRows(t *testing.T) {
	s := openTemp(t)
	recordN(t, s, 3)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got := make(chan Entry, 16)
	go s.WatchEvery(ctx, Filter{Last: 5, Agent: "nobody-yet"}, 5*time.Millisecond, func(e Entry) { got <- e })
	e := sampleEvent(9)
	e.Agent = "nobody-yet"
	recordN(t, s, 2)
	if err := s.Record(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	select {
	case first := <-got:
		if first.ID != 6 {
			t.Errorf("first delivered id %d, want 6", first.ID)
		}
	case <-ctx.Done():
		t.Fatal("nothing delivered")
	}
}

// TestWatchPollMovesPastRowsItRead: a poll that shows nothing still moves
// past the rows it read, so a watch whose filter rarely matches does not
// read every row since its last match (or its start) on each poll, which
// on a busy proxy's log grows without bound.
func TestWatchPollMovesPastRowsItRead(t *testing.T) {
	s := openTemp(t)
	recordN(t, s, 3)
	ctx := context.Background()
	f := Filter{Last: 2, Agent: "watched"}
	var shown []int64
	show := func(e Entry) { shown = append(shown, e.ID) }
	steps := []struct {
		name      string
		record    []string // agents of the rows appended before the poll
		wantShown []int64
		wantAfter int64
	}{
		{"first batch", nil, nil, 3},
		{"rows that do not match", []string{"other", "other"}, nil, 5},
		{"a match among others", []string{"other", "watched", "other"}, []int64{7}, 8},
		{"nothing new", nil, []int64{7}, 8},
	}
	for _, step := range steps {
		for _, agent := range step.record {
			e := sampleEvent(0)
			e.Agent = agent
			if err := s.Record(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.watchPoll(ctx, &f, show); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(shown, step.wantShown) || f.AfterID != step.wantAfter || f.Last != 0 {
			t.Errorf("%s: shown %v, next poll after row %d (last %d); want %v, after row %d", step.name, shown, f.AfterID, f.Last,
				step.wantShown, step.wantAfter)
		}
	}
}
