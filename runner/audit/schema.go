package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// migrations[i] brings the schema from user_version i to i+1.
var migrations = []string{
	`CREATE TABLE events (
		id          INTEGER PRIMARY KEY,
		time_ns     INTEGER NOT NULL,
		source      TEXT    NOT NULL,
		agent       TEXT    NOT NULL,
		workspace   TEXT    NOT NULL,
		project     TEXT    NOT NULL,
		environment TEXT    NOT NULL,
		method      TEXT    NOT NULL,
		url         TEXT    NOT NULL,
		keys        TEXT    NOT NULL,
		auth_styles TEXT    NOT NULL,
		status      INTEGER NOT NULL,
		duration_ns INTEGER NOT NULL,
		decision    TEXT    NOT NULL,
		reason      TEXT    NOT NULL,
		redactions  INTEGER NOT NULL,
		prev_hash   TEXT    NOT NULL,
		hash        TEXT    NOT NULL
	) STRICT;
	CREATE TABLE chain_head (
		id      INTEGER PRIMARY KEY CHECK (id = 1),
		last_id INTEGER NOT NULL,
		hash    TEXT    NOT NULL
	) STRICT;
	INSERT INTO chain_head (id, last_id, hash) VALUES (1, 0, '` + genesisHash + `');
	CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
		BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
	CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
		BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
	CREATE TRIGGER chain_head_keep BEFORE DELETE ON chain_head
		BEGIN SELECT RAISE(ABORT, 'audit chain head cannot be deleted'); END;`,

	// Version 2 keeps the rows in segments (see segment.go): each row of
	// version 1 becomes a segment of one; events becomes a view with the
	// same columns. A name list that is not JSON (edited) is kept as a
	// string, which Verify then reports.
	`CREATE TABLE segments (
		first_id INTEGER PRIMARY KEY,
		last_id  INTEGER NOT NULL,
		events   TEXT    NOT NULL
	) STRICT;
	INSERT INTO segments (first_id, last_id, events)
		SELECT id, id, json_array(json_object(
			'id', id, 'time_ns', time_ns, 'source', source, 'agent', agent,
			'workspace', workspace, 'project', project, 'environment', environment,
			'method', method, 'url', url,
			'keys', CASE WHEN json_valid(keys) THEN json(keys) ELSE keys END,
			'auth_styles', CASE WHEN json_valid(auth_styles) THEN json(auth_styles) ELSE auth_styles END,
			'status', status, 'duration_ns', duration_ns, 'decision', decision,
			'reason', reason, 'redactions', redactions, 'prev_hash', prev_hash, 'hash', hash))
		FROM events ORDER BY id;
	DROP TABLE events;
	CREATE TRIGGER segments_append_only_update BEFORE UPDATE ON segments
		BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
	CREATE TRIGGER segments_append_only_delete BEFORE DELETE ON segments
		BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
	CREATE VIEW events AS SELECT
		e.value ->> 'id' AS id, e.value ->> 'time_ns' AS time_ns,
		e.value ->> 'source' AS source, e.value ->> 'agent' AS agent,
		e.value ->> 'workspace' AS workspace, e.value ->> 'project' AS project,
		e.value ->> 'environment' AS environment, e.value ->> 'method' AS method,
		e.value ->> 'url' AS url, e.value -> 'keys' AS keys,
		e.value -> 'auth_styles' AS auth_styles, e.value ->> 'status' AS status,
		e.value ->> 'duration_ns' AS duration_ns, e.value ->> 'decision' AS decision,
		e.value ->> 'reason' AS reason, e.value ->> 'redactions' AS redactions,
		e.value ->> 'prev_hash' AS prev_hash, e.value ->> 'hash' AS hash
		FROM segments AS s, json_each(s.events) AS e;`,

	// Version 3 adds the allowlist state to the events view. A row
	// without it (every row written before) stores neither field and
	// shows '' in both columns.
	`DROP VIEW events;
	CREATE VIEW events AS SELECT
		e.value ->> 'id' AS id, e.value ->> 'time_ns' AS time_ns,
		e.value ->> 'source' AS source, e.value ->> 'agent' AS agent,
		e.value ->> 'workspace' AS workspace, e.value ->> 'project' AS project,
		e.value ->> 'environment' AS environment, e.value ->> 'method' AS method,
		e.value ->> 'url' AS url, e.value -> 'keys' AS keys,
		e.value -> 'auth_styles' AS auth_styles, e.value ->> 'status' AS status,
		e.value ->> 'duration_ns' AS duration_ns, e.value ->> 'decision' AS decision,
		e.value ->> 'reason' AS reason, e.value ->> 'redactions' AS redactions,
		ifnull(e.value ->> 'allowlist_entry', '') AS allowlist_entry,
		ifnull(e.value ->> 'allowlist_digest', '') AS allowlist_digest,
		e.value ->> 'prev_hash' AS prev_hash, e.value ->> 'hash' AS hash
		FROM segments AS s, json_each(s.events) AS e;`,

	// Version 4 adds what an allowlist change changed to the events view.
	// A row that is not a change (every row written before) stores none
	// of the fields and shows '[]', '' and '[]'.
	`DROP VIEW events;
	CREATE VIEW events AS SELECT
		e.value ->> 'id' AS id, e.value ->> 'time_ns' AS time_ns,
		e.value ->> 'source' AS source, e.value ->> 'agent' AS agent,
		e.value ->> 'workspace' AS workspace, e.value ->> 'project' AS project,
		e.value ->> 'environment' AS environment, e.value ->> 'method' AS method,
		e.value ->> 'url' AS url, e.value -> 'keys' AS keys,
		e.value -> 'auth_styles' AS auth_styles, e.value ->> 'status' AS status,
		e.value ->> 'duration_ns' AS duration_ns, e.value ->> 'decision' AS decision,
		e.value ->> 'reason' AS reason, e.value ->> 'redactions' AS redactions,
		ifnull(e.value ->> 'allowlist_entry', '') AS allowlist_entry,
		ifnull(e.value ->> 'allowlist_digest', '') AS allowlist_digest,
		ifnull(e.value -> 'allowlist_change', '[]') AS allowlist_change,
		ifnull(e.value ->> 'allowlist_before', '') AS allowlist_before,
		ifnull(e.value -> 'allowlist_domains', '[]') AS allowlist_domains,
		e.value ->> 'prev_hash' AS prev_hash, e.value ->> 'hash' AS hash
		FROM segments AS s, json_each(s.events) AS e;`,
}

// schemaVersion is the user_version this program writes.
var schemaVersion = len(migrations)

// schemaObject names a table, view or trigger.
type schemaObject struct{ kind, name string }

// schemaQuery lists the tables, views and triggers of a database with the
// SQL SQLite keeps of each (its own indexes have none).
const schemaQuery = `SELECT type, name, sql FROM sqlite_master
	WHERE type IN ('table', 'view', 'trigger') AND sql IS NOT NULL ORDER BY type, name`

// storeSchema is what the migrations leave beside the rows: each table,
// view and trigger with its SQL, read from a database migrated in memory,
// so a database Open migrated from any version has exactly these. Verify
// compares a store's schema with it.
var storeSchema = sync.OnceValues(func() (map[schemaObject]string, error) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // one in-memory database
	ctx := context.Background()
	for _, m := range migrations {
		if _, err := db.ExecContext(ctx, m); err != nil {
			return nil, err
		}
	}
	return readSchema(ctx, db)
})

// readSchema reads schemaQuery's answer as a map.
func readSchema(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) (map[schemaObject]string, error) {
	rows, err := q.QueryContext(ctx, schemaQuery)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[schemaObject]string{}
	for rows.Next() {
		var o schemaObject
		var text string
		if err := rows.Scan(&o.kind, &o.name, &text); err != nil {
			return nil, err
		}
		out[o] = text
	}
	return out, rows.Err()
}

// migrateRetrying runs migrate again while the database is busy. Processes
// opening a new file together can each hold a read lock while switching it
// to WAL, and SQLite then refuses one of them at once rather than making it
// wait; by the next attempt the file is in WAL mode.
func (s *Store) migrateRetrying(ctx context.Context) error {
	deadline := time.Now().Add(busyTimeout)
	for attempt := 1; ; attempt++ {
		err := s.migrate(ctx)
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(min(time.Duration(attempt)*2*time.Millisecond, 50*time.Millisecond))
	}
}

// isBusy reports whether err is SQLite's "database is locked".
func isBusy(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	code := e.Code() & 0xff
	return code == sqlite3.SQLITE_BUSY || code == sqlite3.SQLITE_LOCKED
}

// migrate brings the database to schemaVersion. The common case, an
// up-to-date database, costs one pragma read.
func (s *Store) migrate(ctx context.Context) error {
	version, err := s.userVersion(ctx, s.db)
	if err != nil {
		return err
	}
	if version == schemaVersion {
		return nil
	}
	if version > schemaVersion {
		return fmt.Errorf("%w (version %d, this program knows %d)", ErrNewerSchema, version, schemaVersion)
	}
	tx, err := s.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: one migrator at a time
	if err != nil {
		return fmt.Errorf("audit: migrate: %w", err)
	}
	defer tx.Rollback()
	if version, err = s.userVersion(ctx, tx); err != nil {
		return err
	}
	for v := version; v < schemaVersion; v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return fmt.Errorf("audit: migrate to version %d: %v", v+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion)); err != nil {
		return fmt.Errorf("audit: migrate: set version: %v", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("audit: migrate: commit: %v", err)
	}
	return nil
}

func (s *Store) userVersion(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (int, error) {
	var v int
	if err := q.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("audit: read schema version: %w", err)
	}
	return v, nil
}
