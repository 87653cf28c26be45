package audit

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// childDBEnv, when set, turns the test binary into a recorder process that
// appends childRows rows to that database and exits.
const (
	childDBEnv    = "AGENTSECRETS_AUDIT_CHILD_DB"
	childAgentEnv = "AGENTSECRETS_AUDIT_CHILD_AGENT"
	childRows     = 40
)

func TestMain(m *testing.M) {
	if path := os.Getenv(childDBEnv); path != "" {
		os.Exit(recordAsChild(path, os.Getenv(childAgentEnv)))
	}
	os.Exit(m.Run())
}

func recordAsChild(path, agent string) int {
	s, err := Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s.Close()
	for i := range childRows {
		e := sampleEvent(i)
		e.Agent = agent
		if err := s.Record(context.Background(), e); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return 0
}

// sampleEvent is a plausible event, distinct per i.
func sampleEvent(i int) Event {
	return Event{
		Time:        time.Date(2026, 1, 2, 3, 4, 5, i*1000, time.UTC),
		Source:      SourceCall,
		Agent:       "anonymous",
		Workspace:   "acme",
		Project:     "billing",
		Environment: "development",
		Method:      "GET",
		URL:         "https://api.example.com/v1/items/" + strconv.Itoa(i),
		Keys:        []string{"STRIPE_KEY"},
		AuthStyles:  []string{"bearer"},
		Status:      200,
		Duration:    time.Duration(i+1) * time.Millisecond,
		Decision:    DecisionOK,
		Redactions:  i % 3,
	}
}

func openTemp(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "home", FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func recordN(t testing.TB, s Sink, n int) {
	t.Helper()
	for i := range n {
		if err := s.Record(context.Background(), sampleEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
}

// tamper runs statements on the database the way someone with write access
// to the file would: its own connection, append-only triggers dropped,
// then put back as they were (so that only the rows show the edit).
func tamper(t *testing.T, path string, statements ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var triggers []string
	rows, err := db.Query("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
	if err != nil {
		t.Fatal(err)
	}
	var drop []string
	for rows.Next() {
		var name, text string
		if err := rows.Scan(&name, &text); err != nil {
			t.Fatal(err)
		}
		drop = append(drop, "DROP TRIGGER "+name)
		triggers = append(triggers, text)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	for _, q := range append(append(drop, statements...), triggers...) {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// execSQL runs statements on the database as they are, triggers in place.
func execSQL(t *testing.T, path string, statements ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range statements {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}
