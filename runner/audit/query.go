package audit

import (
	"context"
	"errors"
	"fmt"
	"slices"
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

// Query returns the matching rows, oldest first, with times in UTC. It
// reads segments newest first when f.Last bounds the answer, and stops as
// soon as it has enough.
func (s *Store) Query(ctx context.Context, f Filter) ([]Entry, error) {
	if f.Last < 0 {
		return nil, fmt.Errorf("audit: query: negative Last %d", f.Last)
	}
	order := "ASC"
	if f.Last > 0 {
		order = "DESC"
	}
	rows, err := s.db.QueryContext(ctx, segmentsAfter+order, f.AfterID)
	if err != nil {
		return nil, fmt.Errorf("audit: query: %v", err)
	}
	defer rows.Close()
	m := newMatcher(f)
	var out []Entry
	for (f.Last == 0 || len(out) < f.Last) && rows.Next() {
		var first int64
		var text string
		if err := rows.Scan(&first, &text); err != nil {
			return nil, fmt.Errorf("audit: query: %v", err)
		}
		if !m.mayMatch(text) {
			continue
		}
		if out, err = m.collect(out, first, text, f.Last); err != nil {
			return nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit: query: %v", err)
	}
	if f.Last > 0 {
		slices.Reverse(out)
	}
	return out, nil
}

// segmentsAfter selects the segments holding rows after id ?1 (all of them
// for 0), to be followed by ASC or DESC. Segments do not overlap and are
// numbered in order, so they start at the last one beginning at or before
// ?1: both bounds are searches of the primary key, and a poll for new rows
// (Watch) does not read the whole table.
const segmentsAfter = `SELECT first_id, events FROM segments
	WHERE first_id >= coalesce((SELECT first_id FROM segments WHERE first_id <= ?1 ORDER BY first_id DESC LIMIT 1), 0)
	AND last_id > ?1 ORDER BY first_id `

// matcher applies a Filter to decoded rows.
type matcher struct {
	f      Filter
	since  int64
	agents []string
	// needles are the JSON forms of the filter's names: a segment whose
	// text holds none of one of them cannot match.
	needles []string
}

func newMatcher(f Filter) *matcher {
	m := &matcher{f: f, agents: agentSet(f)}
	if !f.Since.IsZero() {
		m.since = f.Since.UnixNano()
	}
	for _, name := range []string{f.Secret, f.Env, f.Source} {
		if name != "" {
			m.needles = append(m.needles, string(appendJSONString(nil, name)))
		}
	}
	if len(m.agents) == 1 {
		m.needles = append(m.needles, string(appendJSONString(nil, m.agents[0])))
	}
	return m
}

// mayMatch is a quick look at a segment's text before decoding it: false
// when a name the filter requires appears nowhere in it. (A segment edited
// to spell a name with needless escapes is then passed over; Verify is what
// reports edits.)
func (m *matcher) mayMatch(text string) bool {
	for _, n := range m.needles {
		if !strings.Contains(text, n) {
			return false
		}
	}
	return true
}

// collect appends the segment's matching rows to out: in order, or newest
// first up to last rows in all when last > 0.
func (m *matcher) collect(out []Entry, first int64, text string, last int) ([]Entry, error) {
	rows, err := segmentRows(text)
	if err != nil {
		return nil, fmt.Errorf("audit: segment at row %d: %w", first, ErrUnreadable)
	}
	for i := range rows {
		r := &rows[i]
		if last > 0 {
			r = &rows[len(rows)-1-i]
			if len(out) == last {
				break
			}
		}
		if !r.readable {
			return nil, fmt.Errorf("audit: row %d: %w", r.ID, ErrUnreadable)
		}
		if m.match(&r.row) {
			out = append(out, Entry{ID: r.ID, Event: r.Event, Hash: r.Hash})
		}
	}
	return out, nil
}

func (m *matcher) match(r *row) bool {
	e := &r.Event
	switch {
	case r.ID <= m.f.AfterID,
		m.since != 0 && e.Time.UnixNano() < m.since,
		m.f.Secret != "" && !slices.Contains(e.Keys, m.f.Secret),
		m.f.Env != "" && e.Environment != m.f.Env,
		len(m.agents) > 0 && !slices.Contains(m.agents, e.Agent),
		m.f.Source != "" && e.Source != m.f.Source:
		return false
	}
	return true
}

// agentSet is the identities Agent and Agents name together.
func agentSet(f Filter) []string {
	if f.Agent == "" {
		return f.Agents
	}
	return append([]string{f.Agent}, f.Agents...)
}

// ErrUnreadable marks a row or segment that is not the JSON the store
// writes: it was edited outside the store. Verify reports such rows;
// Query fails on one it has to read.
var ErrUnreadable = errors.New("unreadable (edited outside the store)")

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
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	for {
		if err := s.watchPoll(ctx, &f, fn); err != nil {
			return ignoreDone(ctx, err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// watchPoll calls fn for each row matching f, then sets f to select only
// the rows after those the poll read: shown or not, they are not read
// again. f.Last limits only the first poll.
func (s *Store) watchPoll(ctx context.Context, f *Filter, fn func(Entry)) error {
	// The query reads a snapshot at least as recent as this: every row up
	// to upTo is one it read.
	upTo, err := s.lastID(ctx)
	if err != nil {
		return err
	}
	entries, err := s.Query(ctx, *f)
	if err != nil {
		return err
	}
	for _, e := range entries {
		fn(e)
		f.AfterID = e.ID
	}
	// Rows up to upTo were the first poll's to show, or did not match.
	f.AfterID = max(f.AfterID, upTo)
	f.Last = 0
	return nil
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
