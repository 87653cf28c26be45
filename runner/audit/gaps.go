package audit

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// allowlistTrack follows each workspace's allowlist through the rows, for
// Verify to report the changes the log has no row for (see "Unrecorded
// changes" in the package documentation). It holds digests, never lists,
// and reports row ids only.
type allowlistTrack struct {
	spaces map[string]*spaceTrack
	gaps   []allowlistGap
}

// spaceTrack is what the rows so far say of one workspace's allowlist.
type spaceTrack struct {
	lastChange int64           // id of the latest change row; 0 before the first
	after      string          // the digest that row left
	known      map[string]bool // digests of lists the log records for the workspace
	unknown    map[string]*unknownList
}

// unknownList is a digest calls carried after the first change row that
// no change row had recorded when they were read: the first such row and
// how many there were.
type unknownList struct {
	first int64
	rows  int
}

// allowlistGap is one finding, placed at the row that shows it.
type allowlistGap struct {
	id   int64
	text string
}

// see takes one readable row, in id order.
func (t *allowlistTrack) see(id int64, e *Event) {
	switch {
	case e.Source == SourceAllowlist:
		t.change(t.space(e.Workspace), id, e)
	case e.AllowlistDigest != "":
		t.space(e.Workspace).call(id, e.AllowlistDigest)
	}
}

func (t *allowlistTrack) space(ws string) *spaceTrack {
	if t.spaces == nil {
		t.spaces = map[string]*spaceTrack{}
	}
	sp := t.spaces[ws]
	if sp == nil {
		sp = &spaceTrack{known: map[string]bool{}, unknown: map[string]*unknownList{}}
		t.spaces[ws] = sp
	}
	return sp
}

// change checks that a change row starts from the list the previous one
// left. The first change row of a workspace may start from any list: one
// in force before the log recorded changes.
func (t *allowlistTrack) change(sp *spaceTrack, id int64, e *Event) {
	if sp.lastChange != 0 && e.AllowlistBefore != sp.after {
		t.gaps = append(t.gaps, allowlistGap{id, fmt.Sprintf(
			"allowlist changed without a row between row %d and row %d (row %d does not start from the list row %d left)",
			sp.lastChange, id, id, sp.lastChange)})
	}
	sp.known[e.AllowlistBefore] = true
	sp.known[e.AllowlistDigest] = true
	sp.lastChange, sp.after = id, e.AllowlistDigest
}

// call notes the list a call was decided by. Before the workspace's first
// change row every list is taken as given, and remains known: a front end
// started then may serve it until synced. After it, a list must be one a
// change row records, before or after it, wherever that row is in the
// log; which is decided once every row is read (unknownGaps).
func (sp *spaceTrack) call(id int64, digest string) {
	switch {
	case sp.lastChange == 0:
		sp.known[digest] = true
	case sp.known[digest]:
	case sp.unknown[digest] == nil:
		sp.unknown[digest] = &unknownList{first: id, rows: 1}
	default:
		sp.unknown[digest].rows++
	}
}

// unknownGaps is a finding for each list calls were decided by that no
// change row records.
func (sp *spaceTrack) unknownGaps() []allowlistGap {
	var out []allowlistGap
	for digest, u := range sp.unknown {
		if !sp.known[digest] {
			out = append(out, allowlistGap{u.first, fmt.Sprintf(
				"allowlist changed without a row before row %d (%s decided by a list no change row records)",
				u.first, decidedRows(u))})
		}
	}
	return out
}

func decidedRows(u *unknownList) string {
	if u.rows == 1 {
		return fmt.Sprintf("row %d was", u.first)
	}
	return fmt.Sprintf("row %d and %s were", u.first, plural(u.rows-1, "later row"))
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// findings lists the gaps in row order, at most maxProblems of them and
// the number of the rest.
func (t *allowlistTrack) findings() []string {
	all := slices.Clone(t.gaps)
	for _, sp := range t.spaces {
		all = append(all, sp.unknownGaps()...)
	}
	slices.SortFunc(all, func(a, b allowlistGap) int {
		return cmp.Or(cmp.Compare(a.id, b.id), strings.Compare(a.text, b.text))
	})
	var out []string
	for i, g := range all {
		if i == maxProblems {
			return append(out, fmt.Sprintf("and %d more allowlist gaps", len(all)-maxProblems))
		}
		out = append(out, g.text)
	}
	return out
}
