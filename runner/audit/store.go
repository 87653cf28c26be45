package audit

import (
	"context"
	"database/sql"
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
	hasher  chainHasher
	segment []byte
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
// in one transaction, as segments of up to maxSegment events: each event
// hashes the one before it exactly as if it had been appended alone.
func (s *Store) appendEvents(ctx context.Context, events []Event) error {
	st, err := s.statements(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: takes the write lock now
	if err != nil {
		return fmt.Errorf("audit: record: %w", err) // isBusy must see a lock timeout
	}
	defer tx.Rollback()
	var lastID int64
	var head string
	if err := tx.StmtContext(ctx, st.readHead).QueryRowContext(ctx).Scan(&lastID, &head); err != nil {
		return fmt.Errorf("audit: record: read chain head: %v", err)
	}
	insert := tx.StmtContext(ctx, st.insertSegment)
	for len(events) > 0 {
		n := min(len(events), maxSegment)
		var text string
		text, head = s.scratch.encodeSegment(events[:n], lastID, head)
		first := lastID + 1
		lastID += int64(n)
		if _, err := insert.ExecContext(ctx, first, lastID, text); err != nil {
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

// encodeSegment chains events after the row lastID with hash head and
// encodes them as one segment; it returns the segment's text and the last
// event's hash.
func (sc *appendScratch) encodeSegment(events []Event, lastID int64, head string) (text, last string) {
	b := append(sc.segment[:0], '[')
	for i := range events {
		r := row{ID: lastID + int64(i) + 1, Event: events[i], PrevHash: head}
		r.Hash = sc.hasher.hash(head, r.ID, &events[i])
		head = r.Hash
		if i > 0 {
			b = append(b, ',')
		}
		b = appendRowJSON(b, &r)
	}
	b = append(b, ']')
	sc.segment = b
	return string(b), head
}

// appendStatements are the statements of an append, prepared once per
// store (and by database/sql once per connection).
type appendStatements struct {
	readHead, insertSegment, writeHead *sql.Stmt
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
		{&st.insertSegment, `INSERT INTO segments (first_id, last_id, events) VALUES (?, ?, ?)`},
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
	for _, stmt := range []*sql.Stmt{st.readHead, st.insertSegment, st.writeHead} {
		if stmt != nil {
			stmt.Close()
		}
	}
}
