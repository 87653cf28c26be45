package audit

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
)

// VerifyResult is the outcome of Verify.
type VerifyResult struct {
	OK       bool     // the chain is intact: no problem found
	Rows     int      // rows present
	Problems []string // e.g. "row 7: hash mismatch (edited)", "row 5 missing (deleted)"
	// AllowlistGaps are the changes of an allowlist the rows show were
	// made without a row, whatever OK says (see "Unrecorded changes" in
	// the package documentation), e.g. "allowlist changed without a row
	// between row 3 and row 9 (row 9 does not start from the list row 3
	// left)". They name rows, never a domain or a digest.
	AllowlistGaps []string
}

// maxProblems bounds the report; the rest are counted.
const maxProblems = 100

// Verify walks the chain and reports every edited, deleted or reordered row
// it can detect (see the package documentation for what it cannot), and,
// apart, every change of an allowlist made without its row that the rows
// show. It reads one consistent snapshot, so concurrent appends do not
// disturb it.
func (s *Store) Verify(ctx context.Context) (VerifyResult, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return VerifyResult{}, fmt.Errorf("audit: verify: %v", err)
	}
	defer tx.Rollback()
	w := &chainWalk{ctx: ctx, tx: tx, prevHash: genesisHash, nextID: 1}
	if err := w.checkSchema(); err != nil {
		return VerifyResult{}, err
	}
	if err := w.walkRows(); err != nil {
		return VerifyResult{}, err
	}
	if err := w.checkHead(); err != nil {
		return VerifyResult{}, err
	}
	return w.result(), nil
}

// chainWalk is the state of one Verify pass.
type chainWalk struct {
	ctx      context.Context
	tx       *sql.Tx
	rows     int
	prevID   int64  // id of the last row seen (0 before the first)
	prevHash string // stored hash of the last row seen
	nextID   int64  // the id the next row should have
	problems []string
	dropped  int
	// hashIDs maps each row's hash to its id; read on first need.
	hashIDs map[string]int64
	lists   allowlistTrack // each workspace's allowlist, row by row
}

func (w *chainWalk) problem(format string, args ...any) {
	if len(w.problems) >= maxProblems {
		w.dropped++
		return
	}
	w.problems = append(w.problems, fmt.Sprintf(format, args...))
}

func (w *chainWalk) result() VerifyResult {
	problems := w.problems
	if w.dropped > 0 {
		problems = append(problems, fmt.Sprintf("and %d more problems", w.dropped))
	}
	return VerifyResult{OK: len(problems) == 0, Rows: w.rows, Problems: problems, AllowlistGaps: w.lists.findings()}
}

func (w *chainWalk) walkRows() error {
	rows, err := w.tx.QueryContext(w.ctx, "SELECT first_id, last_id, events FROM segments ORDER BY first_id")
	if err != nil {
		return fmt.Errorf("audit: verify: %v", err)
	}
	defer rows.Close()
	for rows.Next() {
		var first, last int64
		var text string
		if err := rows.Scan(&first, &last, &text); err != nil {
			return fmt.Errorf("audit: verify: %v", err)
		}
		w.checkSegment(first, last, text)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("audit: verify: %v", err)
	}
	return nil
}

// checkSegment checks the rows of one segment, and that the segment's
// bounds are its first and last rows' ids.
func (w *chainWalk) checkSegment(first, last int64, text string) {
	decoded, err := segmentRows(text)
	if err != nil || len(decoded) == 0 {
		w.problem("%s: unreadable (edited)", span(first, last))
		w.skip(first, last)
		return
	}
	if decoded[0].ID != first || decoded[len(decoded)-1].ID != last {
		w.problem("%s: segment bounds do not match its rows (edited)", span(first, last))
	}
	for _, d := range decoded {
		w.check(d.row, d.readable)
		if d.readable {
			w.lists.see(d.ID, &d.Event)
		}
	}
}

// skip accounts for rows first..last that could not be read: they are
// reported once, and the row after them is not blamed for not following
// them.
func (w *chainWalk) skip(first, last int64) {
	if first > w.nextID {
		w.missing(w.nextID, first-1)
	}
	w.prevID, w.prevHash, w.nextID = last, unknownHash, max(w.nextID, last+1)
}

// unknownHash stands for the hash of rows that could not be read.
const unknownHash = "unknown"

func span(first, last int64) string {
	if first == last {
		return fmt.Sprintf("row %d", first)
	}
	return fmt.Sprintf("rows %d-%d", first, last)
}

// check verifies one row against its own hash and against the row before.
func (w *chainWalk) check(r row, readable bool) {
	w.rows++
	gap := r.ID != w.nextID
	switch {
	case r.ID < w.nextID:
		w.problem("row %d: id out of sequence (inserted outside the store)", r.ID)
	case gap:
		w.missing(w.nextID, r.ID-1)
	}
	selfOK := readable && chainHash(r.PrevHash, r.ID, r.Event) == r.Hash
	linkOK := r.PrevHash == w.prevHash || w.prevHash == unknownHash
	switch {
	case !selfOK && !linkOK && !gap && w.followsOther(r):
		w.problem("row %d: out of order (moved from another position)", r.ID)
	case !selfOK:
		w.problem("row %d: hash mismatch (edited)", r.ID)
	case !linkOK && !gap:
		w.problem("row %d: does not follow row %d (row %d re-hashed, or rows reordered)", r.ID, w.prevID, w.prevID)
	}
	w.prevID, w.prevHash, w.nextID = r.ID, r.Hash, max(w.nextID, r.ID+1)
}

func (w *chainWalk) missing(from, to int64) {
	if from == to {
		w.problem("row %d missing (deleted)", from)
		return
	}
	w.problem("rows %d-%d missing (deleted)", from, to)
}

// followsOther reports whether r's prev_hash is the hash of a row other than
// its predecessor, i.e. r's entry was moved here from elsewhere.
func (w *chainWalk) followsOther(r row) bool {
	if r.PrevHash == genesisHash {
		return r.ID != 1
	}
	id, ok := w.idOfHash(r.PrevHash)
	return ok && id != w.prevID
}

// idOfHash is the id of the first row with this hash. The first call reads
// every row's hash once (only a log that looks reordered gets here), so a
// log with many moved rows is not read again for each.
func (w *chainWalk) idOfHash(hash string) (int64, bool) {
	if w.hashIDs == nil {
		w.hashIDs = map[string]int64{}
		rows, err := w.tx.QueryContext(w.ctx, "SELECT events FROM segments ORDER BY first_id")
		if err != nil {
			return 0, false
		}
		defer rows.Close()
		for rows.Next() {
			var text string
			if rows.Scan(&text) != nil {
				continue
			}
			decoded, _ := segmentRows(text) // an unreadable segment has no hashes
			for _, d := range decoded {
				if _, seen := w.hashIDs[d.Hash]; !seen {
					w.hashIDs[d.Hash] = d.ID
				}
			}
		}
	}
	id, ok := w.hashIDs[hash]
	return id, ok
}

// checkSchema compares the tables, the events view and the triggers with
// what Open creates: a view edited to hide or change rows, or a trigger
// dropped, changed or added (one that could rewrite the rows as they are
// appended), leaves every row intact. Other tables, views and indexes are
// a reader's own and change nothing.
func (w *chainWalk) checkSchema() error {
	want, err := storeSchema()
	if err != nil {
		return fmt.Errorf("audit: verify: expected schema: %v", err)
	}
	got, err := readSchema(w.ctx, w.tx)
	if err != nil {
		return fmt.Errorf("audit: verify: read schema: %v", err)
	}
	objects := slices.SortedFunc(maps.Keys(want), func(a, b schemaObject) int {
		return cmp.Or(cmp.Compare(a.kind, b.kind), cmp.Compare(a.name, b.name))
	})
	for _, o := range objects {
		text, ok := got[o]
		switch {
		case !ok:
			w.problem("schema: %s %q missing (dropped)", o.kind, o.name)
		case text != want[o]:
			w.problem("schema: %s %q changed (edited)", o.kind, o.name)
		}
	}
	var added []string
	for o := range got {
		if _, ours := want[o]; o.kind == "trigger" && !ours {
			added = append(added, o.name)
		}
	}
	slices.Sort(added)
	for _, name := range added {
		w.problem("schema: trigger %q added outside the store", name)
	}
	return nil
}

// checkHead compares the last row with chain_head, which catches deleted
// last rows and a re-hashed last row.
func (w *chainWalk) checkHead() error {
	var lastID int64
	var hash string
	err := w.tx.QueryRowContext(w.ctx, `SELECT last_id, hash FROM chain_head WHERE id = 1`).Scan(&lastID, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		w.problem("chain head missing")
		return nil
	}
	if err != nil {
		return fmt.Errorf("audit: verify: read chain head: %v", err)
	}
	switch {
	case lastID >= w.nextID: // nextID is past every id read
		w.missing(w.nextID, lastID)
	case lastID > w.prevID:
		// Every row up to the head was read, and the last one read came
		// out of sequence after them (already reported): nothing is missing.
	case lastID < w.prevID:
		w.problem("row %d: after the chain head (inserted outside the store)", w.prevID)
	case hash != w.prevHash && w.prevHash != unknownHash:
		w.problem("row %d: does not match the chain head (re-hashed)", w.prevID)
	}
	return nil
}
