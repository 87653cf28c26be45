package audit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Filter selects rows. Zero fields do not filter.
type Filter struct {
	Last    int       // only the N most recent matching rows
	Secret  string    // rows that used this key name
	Env     string    // rows of this environment
	Agent   string    // rows of this agent identity
	Agents  []string  // rows of any of these identities (with Agent: of either)
	Source  string    // rows from this front end
	Since   time.Time // rows at or after this time
	AfterID int64     // rows with a greater id
}

// Entry is a stored event with its id and chain hash.
type Entry struct {
	ID int64
	Event
	Hash string
}

const selectColumns = `id, time_ns, source, agent, workspace, project, environment, method,
	url, keys, auth_styles, status, duration_ns, decision, reason, redactions, prev_hash, hash`

// Query returns the matching rows, oldest first, with times in UTC.
func (s *Store) Query(ctx context.Context, f Filter) ([]Entry, error) {
	if f.Last < 0 {
		return nil, fmt.Errorf("audit: query: negative Last %d", f.Last)
	}
	query, args := buildQuery(f)
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("audit: query: %v", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		r, err := scanRow(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, Entry{ID: r.ID, Event: r.Event, Hash: r.Hash})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit: query: %v", err)
	}
	return out, nil
}

func buildQuery(f Filter) (string, []any) {
	var where []string
	var args []any
	add := func(cond string, arg any) {
		where = append(where, cond)
		args = append(args, arg)
	}
	if f.AfterID > 0 {
		add("id > ?", f.AfterID)
	}
	if !f.Since.IsZero() {
		add("time_ns >= ?", f.Since.UnixNano())
	}
	if f.Secret != "" {
		add("EXISTS (SELECT 1 FROM json_each(events.keys) WHERE json_each.value = ?)", f.Secret)
	}
	if f.Env != "" {
		add("environment = ?", f.Env)
	}
	if agents := agentSet(f); len(agents) > 0 {
		where = append(where, "agent IN (?"+strings.Repeat(", ?", len(agents)-1)+")")
		for _, a := range agents {
			args = append(args, a)
		}
	}
	if f.Source != "" {
		add("source = ?", f.Source)
	}
	query := "SELECT " + selectColumns + " FROM events"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	if f.Last == 0 {
		return query + " ORDER BY id", args
	}
	args = append(args, f.Last)
	return "SELECT * FROM (" + query + " ORDER BY id DESC LIMIT ?) ORDER BY id", args
}

// agentSet is the identities Agent and Agents name together.
func agentSet(f Filter) []string {
	if f.Agent == "" {
		return f.Agents
	}
	return append([]string{f.Agent}, f.Agents...)
}

// errUnreadable marks a row whose name lists are not the JSON the store
// writes: it was edited outside the store.
var errUnreadable = errors.New("unreadable name list")

type scanner interface{ Scan(dest ...any) error }

// scanRow reads one row of selectColumns. Times come back in UTC.
func scanRow(sc scanner) (row, error) {
	var (
		r                  row
		timeNS, durationNS int64
		keys, styles, dec  string
		status, redactions int64
	)
	e := &r.Event
	if err := sc.Scan(&r.ID, &timeNS, &e.Source, &e.Agent, &e.Workspace, &e.Project,
		&e.Environment, &e.Method, &e.URL, &keys, &styles, &status, &durationNS, &dec,
		&e.Reason, &redactions, &r.PrevHash, &r.Hash); err != nil {
		return row{}, fmt.Errorf("audit: read row: %v", err)
	}
	e.Time = time.Unix(0, timeNS).UTC()
	e.Status, e.Duration, e.Redactions = int(status), time.Duration(durationNS), int(redactions)
	e.Decision = Decision(dec)
	var err error
	if e.Keys, err = decodeNames(keys); err != nil {
		return r, fmt.Errorf("audit: row %d: key names: %w", r.ID, errUnreadable)
	}
	if e.AuthStyles, err = decodeNames(styles); err != nil {
		return r, fmt.Errorf("audit: row %d: auth styles: %w", r.ID, errUnreadable)
	}
	return r, nil
}

// DefaultWatchInterval is how often Watch polls for new rows.
const DefaultWatchInterval = 250 * time.Millisecond

// Watch calls fn for each row matching f, oldest first, then for each
// matching row appended later, polling every DefaultWatchInterval, until ctx
// is done (which is not an error). f.Last limits only the first batch.
func (s *Store) Watch(ctx context.Context, f Filter, fn func(Entry)) error {
	return s.WatchEvery(ctx, f, DefaultWatchInterval, fn)
}

// WatchEvery is Watch with a chosen polling interval.
func (s *Store) WatchEvery(ctx context.Context, f Filter, every time.Duration, fn func(Entry)) error {
	if every <= 0 {
		return fmt.Errorf("audit: watch: interval must be positive")
	}
	start, err := s.lastID(ctx)
	if err != nil {
		return ignoreDone(ctx, err)
	}
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	for {
		entries, err := s.Query(ctx, f)
		if err != nil {
			return ignoreDone(ctx, err)
		}
		for _, e := range entries {
			fn(e)
			f.AfterID = e.ID
		}
		// Rows up to start were the first batch's to show; later polls
		// only look past them.
		f.AfterID = max(f.AfterID, start)
		f.Last = 0
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

func ignoreDone(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// lastID is the id of the newest row (0 when empty).
func (s *Store) lastID(ctx context.Context) (int64, error) {
	var id int64
	if err := s.db.QueryRowContext(ctx, `SELECT last_id FROM chain_head WHERE id = 1`).Scan(&id); err != nil {
		return 0, fmt.Errorf("audit: read chain head: %v", err)
	}
	return id, nil
}
