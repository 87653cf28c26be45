package audit

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// A segment is one row of the segments table: a JSON array of consecutive
// rows of the chain, each an object with the columns of the events view.
// Appending a batch as one segment costs one SQLite row instead of one per
// event (SQLite's per-row work was most of what auditing a proxied request
// cost); the chain is kept per event, exactly as if each had its own row.

// maxSegment is the most events one segment holds; a larger batch is
// split.
const maxSegment = 256

// appendRowJSON appends r as a JSON object with the events view's column
// names. Strings must be valid UTF-8 (normalize makes them so), which JSON
// then carries unchanged.
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
	// Allowlist state is written only when there is some, as it is
	// hashed (chain version 2): a row without it reads as before.
	if e.AllowlistEntry != "" {
		b = appendField(b, "allowlist_entry", e.AllowlistEntry)
	}
	if e.AllowlistDigest != "" {
		b = appendField(b, "allowlist_digest", e.AllowlistDigest)
	}
	// So are the fields of an allowlist change (chain version 3).
	if len(e.AllowlistChange) > 0 {
		b = appendNamesField(b, "allowlist_change", e.AllowlistChange)
	}
	if e.AllowlistBefore != "" {
		b = appendField(b, "allowlist_before", e.AllowlistBefore)
	}
	if len(e.AllowlistDomains) > 0 {
		b = appendNamesField(b, "allowlist_domains", e.AllowlistDomains)
	}
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
// readable false (with its id and hashes as far as they can be read), so
// a verifier can report it and go on. Unknown fields are ignored and a
// null reads as an empty value, as encoding/json would read them.
func segmentRows(text string) ([]decodedRow, error) {
	if !gjson.Valid(text) {
		return nil, fmt.Errorf("segment: %w", ErrUnreadable)
	}
	arr := gjson.Parse(text)
	if !arr.IsArray() {
		return nil, fmt.Errorf("segment: %w", ErrUnreadable)
	}
	var out []decodedRow
	arr.ForEach(func(_, v gjson.Result) bool {
		out = append(out, decodeRow(v))
		return true
	})
	return out, nil
}

// decodedRow is a row read back from a segment.
type decodedRow struct {
	row
	readable bool
}

// rowFields gives each field of a row its bit, to notice a field given
// twice.
var rowFields = func() map[string]uint32 {
	m := map[string]uint32{}
	for i, name := range []string{"id", "time_ns", "source", "agent", "workspace", "project",
		"environment", "method", "url", "keys", "auth_styles", "status", "duration_ns",
		"decision", "reason", "redactions", "allowlist_entry", "allowlist_digest", "allowlist_change",
		"allowlist_before", "allowlist_domains", "prev_hash", "hash"} {
		m[name] = 1 << i
	}
	return m
}()

// decodeRow reads one element of a segment. A field given twice makes the
// row unreadable.
func decodeRow(v gjson.Result) decodedRow {
	if !v.IsObject() {
		return decodedRow{}
	}
	var (
		d                             decodedRow
		timeNS, status, dur, redacted int64
		decision                      string
		ok                            = true
	)
	e := &d.Event
	var seen uint32
	v.ForEach(func(k, f gjson.Result) bool {
		if bit, known := rowFields[k.Str]; known {
			// SQLite's events view reads the first of two copies of a
			// field, this decoder the last: a row with two cannot be
			// verified as what a reader of the view sees.
			if seen&bit != 0 {
				ok = false
			}
			seen |= bit
		}
		switch k.Str {
		case "id":
			d.ID, ok = intField(f, ok)
		case "time_ns":
			timeNS, ok = intField(f, ok)
		case "source":
			e.Source, ok = stringField(f, ok)
		case "agent":
			e.Agent, ok = stringField(f, ok)
		case "workspace":
			e.Workspace, ok = stringField(f, ok)
		case "project":
			e.Project, ok = stringField(f, ok)
		case "environment":
			e.Environment, ok = stringField(f, ok)
		case "method":
			e.Method, ok = stringField(f, ok)
		case "url":
			e.URL, ok = stringField(f, ok)
		case "keys":
			e.Keys, ok = namesField(f, ok)
		case "auth_styles":
			e.AuthStyles, ok = namesField(f, ok)
		case "status":
			status, ok = intField(f, ok)
		case "duration_ns":
			dur, ok = intField(f, ok)
		case "decision":
			decision, ok = stringField(f, ok)
		case "reason":
			e.Reason, ok = stringField(f, ok)
		case "redactions":
			redacted, ok = intField(f, ok)
		case "allowlist_entry":
			e.AllowlistEntry, ok = stringField(f, ok)
		case "allowlist_digest":
			e.AllowlistDigest, ok = stringField(f, ok)
		case "allowlist_change":
			e.AllowlistChange, ok = namesField(f, ok)
		case "allowlist_before":
			e.AllowlistBefore, ok = stringField(f, ok)
		case "allowlist_domains":
			e.AllowlistDomains, ok = namesField(f, ok)
		case "prev_hash":
			d.PrevHash, ok = stringField(f, ok)
		case "hash":
			d.Hash, ok = stringField(f, ok)
		}
		return true
	})
	e.Time = time.Unix(0, timeNS).UTC()
	e.Status, e.Duration, e.Redactions = int(status), time.Duration(dur), int(redacted)
	e.Decision = Decision(decision)
	d.readable = ok
	return d
}

// intField reads an integer field; ok stays false once a field failed.
func intField(f gjson.Result, ok bool) (int64, bool) {
	if f.Type == gjson.Null {
		return 0, ok
	}
	n, err := strconv.ParseInt(f.Raw, 10, 64)
	if f.Type != gjson.Number || err != nil {
		return 0, false
	}
	return n, ok
}

func stringField(f gjson.Result, ok bool) (string, bool) {
	switch f.Type {
	case gjson.Null:
		return "", ok
	case gjson.String:
		return f.Str, ok
	}
	return "", false
}

// namesField reads a list of names; an empty list is nil.
func namesField(f gjson.Result, ok bool) ([]string, bool) {
	if f.Type == gjson.Null {
		return nil, ok
	}
	if !f.IsArray() {
		return nil, false
	}
	var names []string
	f.ForEach(func(_, n gjson.Result) bool {
		var s string
		s, ok = stringField(n, ok)
		names = append(names, s)
		return ok
	})
	return names, ok
}

// validUTF8 returns s, with each invalid UTF-8 sequence replaced by U+FFFD.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
