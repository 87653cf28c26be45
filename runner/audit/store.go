package audit

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/The-17/agentsecrets/vault/fsutil"
)

// FileName is the audit database's usual name inside the agentsecrets home.
const FileName = "audit.db"

// busyTimeout bounds how long an append waits for another writer.
const busyTimeout = 10 * time.Second

// ErrNewerSchema is returned by Open for a database written by a newer
// version of the program.
var ErrNewerSchema = errors.New("audit: database schema is newer than this program")

// Store is the SQLite audit log. It implements Sink and is safe for
// concurrent use by goroutines and processes.
type Store struct {
	db   *sql.DB
	path string
	// mu serialises this process's appends, so they queue here instead of
	// polling SQLite's busy handler; other processes are kept out by the
	// database's write lock.
	mu sync.Mutex

	// scratch is what appends reuse; mu guards it.
	scratch appendScratch

	prepMu   sync.Mutex
	prepared *appendStatements
}

// appendScratch holds the buffers an append reuses from one call to the
// next.
type appendScratch struct {
	args   []any
	hasher chainHasher
	names  []byte
}

var _ Sink = (*Store)(nil)

// Open opens (creating it if needed) the audit database at path. The file
// and its WAL companions are made 0600; a missing parent directory is
// created 0700.
func Open(path string) (*Store, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("audit: unusable database path %q", path)
	}
	if err := prepareFiles(path); err != nil {
		return nil, err
	}
	db := openDB(dsn(path))
	s := &Store{db: db, path: path}
	if err := s.migrateRetrying(context.Background()); err != nil {
		db.Close()
		return nil, err
	}
	if err := tightenCompanions(path); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func dsn(path string) string {
	return path + "?_txlock=immediate" +
		fmt.Sprintf("&_pragma=busy_timeout(%d)", busyTimeout.Milliseconds()) +
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)" +
		"&_pragma=journal_size_limit(4194304)"
}

// prepareFiles creates the database file 0600 (and its directory 0700 if
// missing) before SQLite opens it, so it is never readable by others, not
// even for a moment; SQLite gives the -wal and -shm files the same mode.
func prepareFiles(path string) error {
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		if err := fsutil.EnsureDir(dir); err != nil {
			return fmt.Errorf("audit: %v", err)
		}
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, fsutil.FileMode)
	if err != nil {
		return fmt.Errorf("audit: open %q: %v", path, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("audit: stat %q: %v", path, err)
	}
	if info.Mode().Perm() != fsutil.FileMode {
		if err := f.Chmod(fsutil.FileMode); err != nil {
			return fmt.Errorf("audit: chmod %q: %v", path, err)
		}
	}
	return nil
}

// tightenCompanions makes existing -wal and -shm files 0600, in case an
// older program left them looser.
func tightenCompanions(path string) error {
	for _, p := range []string{path + "-wal", path + "-shm"} {
		info, err := os.Stat(p)
		if err != nil || info.Mode().Perm() == fsutil.FileMode {
			continue
		}
		if err := os.Chmod(p, fsutil.FileMode); err != nil {
			return fmt.Errorf("audit: chmod %q: %v", p, err)
		}
	}
	return nil
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Close closes the database.
func (s *Store) Close() error {
	s.prepMu.Lock()
	if s.prepared != nil {
		closeStatements(s.prepared)
		s.prepared = nil
	}
	s.prepMu.Unlock()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("audit: close: %v", err)
	}
	return nil
}

// Record appends e to the chain. A zero Time is set to now.
func (s *Store) Record(ctx context.Context, e Event) error {
	e, err := normalize(e)
	if err != nil {
		return err
	}
	return s.appendEvents(ctx, []Event{e})
}

// appendEvents appends already normalised events to the chain, in order,
// in one transaction: each row hashes the one before it exactly as if it
// had been appended alone.
func (s *Store) appendEvents(ctx context.Context, events []Event) error {
	st, err := s.statements(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: takes the write lock now
	if err != nil {
		return fmt.Errorf("audit: record: %v", err)
	}
	defer tx.Rollback()
	var lastID int64
	var head string
	if err := tx.StmtContext(ctx, st.readHead).QueryRowContext(ctx).Scan(&lastID, &head); err != nil {
		return fmt.Errorf("audit: record: read chain head: %v", err)
	}
	sc := &s.scratch
	var prev any = head
	for len(events) > 0 {
		stmt, n := st.insert, 1
		if len(events) >= insertGroup {
			stmt, n = st.insertGroup, insertGroup
		}
		args := sc.args[:0]
		for i := range events[:n] {
			e := &events[i]
			lastID++
			head = sc.hasher.hash(head, lastID, e)
			hash := any(head) // boxed once: this row's hash, the next one's prev
			args = append(args, lastID, e.Time.UnixNano(), e.Source, e.Agent, e.Workspace,
				e.Project, e.Environment, e.Method, e.URL, sc.encodeNames(e.Keys),
				sc.encodeNames(e.AuthStyles), e.Status, int64(e.Duration), string(e.Decision),
				e.Reason, e.Redactions, prev, hash)
			prev = hash
		}
		_, err := tx.StmtContext(ctx, stmt).ExecContext(ctx, args...)
		clear(args) // holds no event between appends
		sc.args = args
		if err != nil {
			return fmt.Errorf("audit: record: insert: %v", err)
		}
		events = events[n:]
	}
	if _, err := tx.StmtContext(ctx, st.writeHead).ExecContext(ctx, lastID, head); err != nil {
		return fmt.Errorf("audit: record: update chain head: %v", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("audit: record: commit: %v", err)
	}
	return nil
}

// appendStatements are the statements of an append, prepared once per
// store (and by database/sql once per connection).
type appendStatements struct {
	readHead, insert, insertGroup, writeHead *sql.Stmt
}

// statements prepares the append statements on first use.
func (s *Store) statements(ctx context.Context) (*appendStatements, error) {
	s.prepMu.Lock()
	defer s.prepMu.Unlock()
	if s.prepared != nil {
		return s.prepared, nil
	}
	var st appendStatements
	for _, p := range []struct {
		stmt  **sql.Stmt
		query string
	}{
		{&st.readHead, `SELECT last_id, hash FROM chain_head WHERE id = 1`},
		{&st.insert, insertEvent},
		{&st.insertGroup, insertEvents(insertGroup)},
		{&st.writeHead, `UPDATE chain_head SET last_id = ?, hash = ? WHERE id = 1`},
	} {
		stmt, err := s.db.PrepareContext(ctx, p.query)
		if err != nil {
			closeStatements(&st)
			return nil, fmt.Errorf("audit: record: prepare: %v", err)
		}
		*p.stmt = stmt
	}
	s.prepared = &st
	return s.prepared, nil
}

func closeStatements(st *appendStatements) {
	for _, stmt := range []*sql.Stmt{st.readHead, st.insert, st.insertGroup, st.writeHead} {
		if stmt != nil {
			stmt.Close()
		}
	}
}

// insertGroup is how many rows one statement of a batch inserts; the rest
// of a batch goes one row per statement.
const insertGroup = 16

// insertColumns is the number of columns of a row.
const insertColumns = 18

const insertEvent = `INSERT INTO events (id, time_ns, source, agent, workspace, project,
	environment, method, url, keys, auth_styles, status, duration_ns, decision, reason,
	redactions, prev_hash, hash) VALUES ` + rowPlaceholders

const rowPlaceholders = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

// insertEvents is insertEvent for n rows.
func insertEvents(n int) string {
	return insertEvent + strings.Repeat(", "+rowPlaceholders, n-1)
}

// encodeNames stores a list of names as a JSON array ("[]" when empty),
// exactly as encoding/json writes it; plain names (the usual case) are
// written in a reused buffer rather than through encoding/json.
func (sc *appendScratch) encodeNames(names []string) string {
	if len(names) == 0 {
		return "[]"
	}
	b := append(sc.names[:0], '[')
	for i, name := range names {
		if !plainJSON(name) {
			out, _ := json.Marshal(names) // a []string always marshals
			return string(out)
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, '"')
	}
	b = append(b, ']')
	sc.names = b
	return string(b)
}

// plainJSON reports whether encoding/json writes s as is between quotes:
// printable ASCII without the characters it escapes.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20, c > 0x7e, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

// decodeNames reads encodeNames's output; an empty list is nil.
func decodeNames(s string) ([]string, error) {
	var names []string
	if err := json.Unmarshal([]byte(s), &names); err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, nil
	}
	return names, nil
}
