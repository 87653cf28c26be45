package redact

import (
	"bytes"
	"net/http"
	"strings"
	"unicode/utf8"
)

// Redact returns b with every occurrence of every form of every secret of
// the set replaced by Replacement (overlapping or adjacent occurrences
// become one replacement), and the number of replacements. When nothing is
// replaced the result is b itself; otherwise it is a new slice.
func (s *Set) Redact(b []byte) ([]byte, int) {
	if s.Empty() {
		return b, 0
	}
	m := matcher{set: s, lazy: true}
	m.scan(b, 0, true)
	if m.count == 0 {
		return b, 0
	}
	return m.out, m.count
}

// RedactString is Redact for a string.
func (s *Set) RedactString(v string) (string, int) {
	out, n := s.Redact([]byte(v))
	if n == 0 {
		return v, 0
	}
	return string(out), n
}

// Headers redacts every header value of h in place and returns the number
// of replacements. A header whose name holds a secret (compared without
// letter case, since net/http re-cases names) is removed and counts as one
// replacement.
func (s *Set) Headers(h http.Header) int {
	if s.Empty() {
		return 0
	}
	total := 0
	for name := range h {
		if s.holdsFold(name) {
			delete(h, name)
			total++
		}
	}
	for _, values := range h {
		for i, v := range values {
			r, n := s.RedactString(v)
			values[i] = r
			total += n
		}
	}
	return total
}

// appendLower appends name in lower case: ASCII without allocating (a
// header name is ASCII), anything else as strings.ToLower has it.
func appendLower(b []byte, name string) []byte {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= utf8.RuneSelf {
			return append(b[:0], strings.ToLower(name)...)
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

// holdsFold reports whether name, compared without letter case, contains a
// run of nameRun bytes of some form: a whole value, or a partial echo of the
// raw or JSON-escaped value.
func (s *Set) holdsFold(name string) bool {
	var buf [64]byte
	lower := appendLower(buf[:0], name)
	for i := range s.forms {
		f := &s.forms[i]
		if len(lower) < f.nameRun {
			continue
		}
		for off := 0; off+f.nameRun <= len(f.fold); off++ {
			if bytes.Contains(lower, f.fold[off:off+f.nameRun]) {
				return true
			}
		}
	}
	return false
}
