package audit

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// Lists of a workspace's allowlist used by the gap tests.
var (
	listA = []string{"a.example"}
	listB = []string{"a.example", "b.example"}
	listC = []string{"c.example"}
)

// changeRow is the row of a change of ws's allowlist from before to
// after, as the vault's recorder writes it.
func changeRow(ws string, before, after []string) Event {
	c := AllowlistChange{Agent: "ops", Workspace: ws, Before: before, After: after,
		Remove: len(after) < len(before)}
	for _, d := range append(slices.Clone(before), after...) {
		if slices.Contains(before, d) != slices.Contains(after, d) {
			c.Domains = append(c.Domains, d)
		}
	}
	return c.Event()
}

// callRow is the row of a call of ws decided by list.
func callRow(ws string, list []string) Event {
	e := sampleEvent(0)
	e.Workspace, e.AllowlistDigest = ws, DigestAllowlist(list)
	return e
}

// envRow is a row without allowlist state (env, exec).
func envRow(ws string) Event {
	e := sampleEvent(0)
	e.Source, e.Workspace, e.URL, e.Method, e.Status = SourceEnv, ws, "", "", 0
	return e
}

// recordAll records events as rows 1, 2, 3, ...
func recordAll(t *testing.T, s *Store, events ...Event) {
	t.Helper()
	for _, e := range events {
		if err := s.Record(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
}

// checkGaps verifies s and wants an intact chain and these allowlist
// gaps.
func checkGaps(t *testing.T, s *Store, gaps []string) {
	t.Helper()
	res, err := s.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK || len(res.Problems) != 0 {
		t.Errorf("chain: %+v, want intact", res)
	}
	if !slices.Equal(res.AllowlistGaps, gaps) {
		t.Errorf("allowlist gaps\n got %q\nwant %q", res.AllowlistGaps, gaps)
	}
}

// TestVerifyAllowlistGaps: from a workspace's first change row on, a
// change that starts from another list than the previous one left, or a
// call decided by a list no change row records, is a gap; the normal
// sequences (a proxy not yet synced, a call racing the change it saw, a
// log begun before changes were recorded) are none.
func TestVerifyAllowlistGaps(t *testing.T) {
	const ws, other = "acme", "other"
	tests := []struct {
		name   string
		events []Event
		gaps   []string
	}{
		{"no change rows", []Event{callRow(ws, listA), callRow(ws, listC), envRow(ws), callRow(ws, nil)}, nil},
		{"changes in sequence", []Event{
			changeRow(ws, nil, listA), callRow(ws, listA), changeRow(ws, listA, listB), callRow(ws, listB),
			changeRow(ws, listB, listA), envRow(ws), callRow(ws, listA), changeRow(ws, listA, nil), callRow(ws, nil),
		}, nil},
		{"proxy not yet synced", []Event{
			changeRow(ws, nil, listA), callRow(ws, listA), changeRow(ws, listA, listB),
			callRow(ws, listA), callRow(ws, listA), callRow(ws, listB), // synced
		}, nil},
		{"call recorded before the change it saw", []Event{
			changeRow(ws, nil, listA), callRow(ws, listB), changeRow(ws, listA, listB),
		}, nil},
		{"log begun before changes were recorded", []Event{
			callRow(ws, listC), callRow(ws, listA), // the list changed, unrecorded, then
			changeRow(ws, listA, listB), // the first change row starts from the list in force
			callRow(ws, listC),          // a proxy started before still serves its list
			callRow(ws, listB),
		}, nil},
		{"workspaces apart", []Event{
			changeRow(ws, nil, listA), changeRow(other, listC, listB), changeRow(ws, listA, listB),
			callRow(other, listC), callRow(ws, listB), changeRow(other, listB, listA), callRow(other, listA),
		}, nil},
		{"change without a row between changes", []Event{
			changeRow(ws, nil, listA), callRow(ws, listA), changeRow(ws, listB, listC), callRow(ws, listC),
		}, []string{"allowlist changed without a row between row 1 and row 3 (row 3 does not start from the list row 1 left)"}},
		{"change without a row after the last", []Event{
			changeRow(ws, nil, listA), callRow(ws, listA), callRow(ws, listB), envRow(ws), callRow(ws, listB), callRow(ws, listB),
		}, []string{"allowlist changed without a row before row 3 (row 3 and 2 later rows were decided by a list no change row records)"}},
		{"one call after a change without a row", []Event{
			changeRow(ws, nil, listA), callRow(ws, listA), callRow(ws, listC),
		}, []string{"allowlist changed without a row before row 3 (row 3 was decided by a list no change row records)"}},
		{"another workspace's list", []Event{
			changeRow(ws, nil, listA), changeRow(other, nil, listC), callRow(other, listA),
		}, []string{"allowlist changed without a row before row 3 (row 3 was decided by a list no change row records)"}},
		{"both, in row order", []Event{
			changeRow(ws, nil, listA), callRow(ws, listC), changeRow(ws, listB, listA), callRow(ws, listC),
		}, []string{
			"allowlist changed without a row before row 2 (row 2 and 1 later row were decided by a list no change row records)",
			"allowlist changed without a row between row 1 and row 3 (row 3 does not start from the list row 1 left)",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTemp(t)
			recordAll(t, s, tt.events...)
			checkGaps(t, s, tt.gaps)
		})
	}
}

// TestVerifyAllowlistGapsInBatch: rows a Batcher appends as one segment
// are followed like any other.
func TestVerifyAllowlistGapsInBatch(t *testing.T) {
	s := openTemp(t)
	b := NewBatcher(s, BatcherOptions{})
	for _, e := range []Event{changeRow("acme", nil, listA), callRow("acme", listA), changeRow("acme", listB, listC), callRow("acme", listB)} {
		if err := b.Record(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	checkGaps(t, s, []string{"allowlist changed without a row between row 1 and row 3 (row 3 does not start from the list row 1 left)"})
}

// TestVerifyAllowlistGapsBounded: like problems, at most maxProblems gaps
// are listed, the rest counted.
func TestVerifyAllowlistGapsBounded(t *testing.T) {
	s := openTemp(t)
	var events []Event
	for i := range maxProblems + 11 {
		list := []string{fmt.Sprintf("d%d.example", i)}
		events = append(events, changeRow("acme", list, append(slices.Clone(list), "x.example")))
	}
	recordAll(t, s, events...)
	res, err := s.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	gaps := res.AllowlistGaps
	if len(gaps) != maxProblems+1 {
		t.Fatalf("%d gaps, want %d", len(gaps), maxProblems+1)
	}
	if gaps[0] != "allowlist changed without a row between row 1 and row 2 (row 2 does not start from the list row 1 left)" ||
		gaps[maxProblems] != "and 10 more allowlist gaps" {
		t.Errorf("first gap %q, last %q", gaps[0], gaps[maxProblems])
	}
}

// TestVerifyDeletedChangeRow: deleting a change row is tampering, and
// leaves the gap it makes in the allowlist's story too.
func TestVerifyDeletedChangeRow(t *testing.T) {
	s := openTemp(t)
	recordAll(t, s, changeRow("acme", nil, listA), changeRow("acme", listA, listB), changeRow("acme", listB, listC), callRow("acme", listC))
	checkGaps(t, s, nil)
	tamper(t, s.Path(), "DELETE FROM segments WHERE first_id = 2")
	res, err := s.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.OK || !slices.Equal(res.Problems, []string{"row 2 missing (deleted)"}) ||
		!slices.Equal(res.AllowlistGaps, []string{"allowlist changed without a row between row 1 and row 3 (row 3 does not start from the list row 1 left)"}) {
		t.Errorf("verify after deleting a change row: %+v", res)
	}
}

// TestVerifyGapsNameNoValue: a gap names rows, never a domain or a
// digest.
func TestVerifyGapsNameNoValue(t *testing.T) {
	s := openTemp(t)
	recordAll(t, s, changeRow("acme", nil, listA), changeRow("acme", listB, listC), callRow("acme", []string{"z.example"}))
	res, err := s.Verify(context.Background())
	if err != nil || len(res.AllowlistGaps) != 2 {
		t.Fatalf("%+v, %v", res, err)
	}
	for _, g := range res.AllowlistGaps {
		for _, v := range []string{"example", DigestPrefix, "acme"} {
			if strings.Contains(g, v) {
				t.Errorf("gap %q names %q", g, v)
			}
		}
	}
}
