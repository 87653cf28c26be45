package audit

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// A segment is one row of the segments table: a JSON array of consecutive
// rows of the chain, each an object with the columns of the events view.
// Appending a batch as one segment costs one SQLite row instead of one per
// event, which is what lets the proxy audit every request at full speed;
// the chain is kept per event, exactly as if each had its own row.

// maxSegment is the most events one segment holds; a larger batch is
// split.
const maxSegment = 256

// rowJSON is one event of a segment as it is decoded.
type rowJSON struct {
	ID         int64    `json:"id"`
	TimeNS     int64    `json:"time_ns"`
	Source     string   `json:"source"`
	Agent      string   `json:"agent"`
	Workspace  string   `json:"workspace"`
	Project    string   `json:"project"`
	Env        string   `json:"environment"`
	Method     string   `json:"method"`
	URL        string   `json:"url"`
	Keys       []string `json:"keys"`
	AuthStyles []string `json:"auth_styles"`
	Status     int64    `json:"status"`
	DurationNS int64    `json:"duration_ns"`
	Decision   string   `json:"decision"`
	Reason     string   `json:"reason"`
	Redactions int64    `json:"redactions"`
	PrevHash   string   `json:"prev_hash"`
	Hash       string   `json:"hash"`
}

// appendRowJSON appends r as a JSON object with rowJSON's field names.
// Strings must be valid UTF-8 (normalize makes them so), which JSON then
// carries unchanged.
func appendRowJSON(b []byte, r *row) []byte {
	e := &r.Event
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, r.ID, 10)
	b = append(b, `,"time_ns":`...)
	b = strconv.AppendInt(b, e.Time.UnixNano(), 10)
	b = appendField(b, "source", e.Source)
	b = appendField(b, "agent", e.Agent)
	b = appendField(b, "workspace", e.Workspace)
	b = appendField(b, "project", e.Project)
	b = appendField(b, "environment", e.Environment)
	b = appendField(b, "method", e.Method)
	b = appendField(b, "url", e.URL)
	b = appendNamesField(b, "keys", e.Keys)
	b = appendNamesField(b, "auth_styles", e.AuthStyles)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, `,"duration_ns":`...)
	b = strconv.AppendInt(b, int64(e.Duration), 10)
	b = appendField(b, "decision", string(e.Decision))
	b = appendField(b, "reason", e.Reason)
	b = append(b, `,"redactions":`...)
	b = strconv.AppendInt(b, int64(e.Redactions), 10)
	b = appendField(b, "prev_hash", r.PrevHash)
	b = appendField(b, "hash", r.Hash)
	return append(b, '}')
}

func appendField(b []byte, name, value string) []byte {
	b = append(b, `,"`...)
	b = append(b, name...)
	b = append(b, `":`...)
	return appendJSONString(b, value)
}

func appendNamesField(b []byte, name string, names []string) []byte {
	b = append(b, `,"`...)
	b = append(b, name...)
	b = append(b, `":[`...)
	for i, n := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, n)
	}
	return append(b, ']')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, everything else (valid UTF-8) as it is.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// segmentRows reads a segment. A segment that is not a JSON array is an
// error; an element that does not decode as a row is returned with
// readable false (its id as far as it can be read), so a verifier can
// report it and go on.
func segmentRows(text string) ([]decodedRow, error) {
	var elems []json.RawMessage
	if err := json.Unmarshal([]byte(text), &elems); err != nil {
		return nil, fmt.Errorf("segment: %w", errUnreadable)
	}
	out := make([]decodedRow, len(elems))
	for i, raw := range elems {
		out[i] = decodeRow(raw)
	}
	return out, nil
}

// decodedRow is a row read back from a segment.
type decodedRow struct {
	row
	readable bool
}

func decodeRow(raw []byte) decodedRow {
	var j rowJSON
	if err := json.Unmarshal(raw, &j); err != nil {
		// Best effort, for the report: the id and hashes, whatever
		// else is wrong.
		var place struct {
			ID       int64  `json:"id"`
			PrevHash string `json:"prev_hash"`
			Hash     string `json:"hash"`
		}
		_ = json.Unmarshal(raw, &place)
		return decodedRow{row: row{ID: place.ID, PrevHash: place.PrevHash, Hash: place.Hash}}
	}
	r := row{ID: j.ID, PrevHash: j.PrevHash, Hash: j.Hash, Event: Event{
		Time:        time.Unix(0, j.TimeNS).UTC(),
		Source:      j.Source,
		Agent:       j.Agent,
		Workspace:   j.Workspace,
		Project:     j.Project,
		Environment: j.Env,
		Method:      j.Method,
		URL:         j.URL,
		Keys:        nilIfEmpty(j.Keys),
		AuthStyles:  nilIfEmpty(j.AuthStyles),
		Status:      int(j.Status),
		Duration:    time.Duration(j.DurationNS),
		Decision:    Decision(j.Decision),
		Reason:      j.Reason,
		Redactions:  int(j.Redactions),
	}}
	return decodedRow{row: r, readable: true}
}

func nilIfEmpty(names []string) []string {
	if len(names) == 0 {
		return nil
	}
	return names
}

// validUTF8 returns s, with each invalid UTF-8 sequence replaced by U+FFFD.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
