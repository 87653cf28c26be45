package redact

import "encoding/binary"

// span is a half-open range of absolute stream positions. wide says that
// every occurrence merged into it is of a UTF-16 form, and nulFirst that
// its first byte is a NUL (the high byte of an ASCII character's code
// unit in UTF-16BE, or of the one before it in UTF-16LE): see replace.
type span struct {
	start, end     int
	wide, nulFirst bool
}

// matcher finds occurrences in a stream and writes the redacted stream to
// out. Positions are absolute (counted from the start of the stream); the
// caller's buffer holds the stream from position base on.
//
// Invariants: every byte before done has been written out (as itself or as
// part of a replacement) and its fate is final; pending holds the merged
// occurrences found so far that are not written yet, sorted, disjoint, not
// adjacent, each ending after done.
type matcher struct {
	set     *Set
	base    int
	done    int
	pending []span
	count   int
	out     []byte
	// lazy defers copying text to out until the first replacement (whole
	// buffer mode, where buf is the entire stream and base is 0).
	lazy bool
}

// scan looks for occurrences in buf, whose bytes from index from on are new,
// and writes out everything that can no longer be part of an occurrence (at
// the end of the stream, everything).
//
// Occurrences ending in the new bytes start after from-maxLen; the samples
// cover that whole range, so every such occurrence holds a sampled gram.
func (m *matcher) scan(buf []byte, from int, final bool) {
	s := m.set
	start := max(from-s.maxLen, 0)
	if s.gram == 4 {
		bitset, shift, stride := s.bitset, s.shift, s.stride
		for i := start; i+4 <= len(buf); i += stride {
			k := binary.LittleEndian.Uint32(buf[i:])
			h := (k * hashMul) >> shift
			if bitset[h>>6]&(1<<(h&63)) != 0 {
				m.verify(buf, i, k)
			}
		}
	} else {
		for i := start; i+s.gram <= len(buf); i += s.stride {
			k := gramKey(buf[i:], s.gram)
			h := (k * hashMul) >> s.shift
			if s.bitset[h>>6]&(1<<(h&63)) != 0 {
				m.verify(buf, i, k)
			}
		}
	}
	frontier := m.base + len(buf)
	if !final {
		frontier -= s.heldSuffix(buf)
	}
	m.release(buf, frontier, final)
}

// verify checks every form holding gram k against buf at sample position i.
func (m *matcher) verify(buf []byte, i int, k uint32) {
	s := m.set
	hits, ok := s.grams[k]
	if !ok {
		return
	}
	for _, h := range hits {
		f := &s.forms[h.form]
		t, off := f.text, int(h.off)
		if m.covered(m.base+i-off, m.base+i-off+len(t)) {
			continue // whatever it matches there is redacted already
		}
		if f.whole() {
			a := i - off
			if a < 0 || a+len(t) > len(buf) || string(buf[a:a+len(t)]) != string(t) {
				continue
			}
			m.found(m.base+a, m.base+a+len(t), f, 0)
			continue
		}
		// Partial form: extend the gram to the longest run of t around it.
		l := 0
		for l < off && l < i && buf[i-l-1] == t[off-l-1] {
			l++
		}
		r := s.gram
		for off+r < len(t) && i+r < len(buf) && buf[i+r] == t[off+r] {
			r++
		}
		if l+r >= f.minRun {
			m.found(m.base+i-l, m.base+i+r, f, off-l)
		}
	}
	// Later samples only find occurrences starting at or after this limit,
	// so pending occurrences ending before it are final.
	limit := m.base + i + s.gram - s.maxLen
	if len(m.pending) > 0 && m.pending[0].end < limit {
		m.release(buf, limit, false)
	}
}

// covered reports whether every occurrence within [a, b) would change
// nothing: the stretch is written already or inside the last pending
// occurrence. A secret with a short period (aaaa..., abab...) has its grams
// at many offsets, and in text of the same period every offset matches
// along the whole form; skipping the windows already covered keeps that
// from costing the form's length squared at every sample.
func (m *matcher) covered(a, b int) bool {
	if b <= m.done {
		return true
	}
	n := len(m.pending)
	return n > 0 && m.pending[n-1].start <= max(a, m.done) && b <= m.pending[n-1].end
}

// found records the occurrence [a, b) of f, whose bytes are f.text from
// offset fa on, merging it with overlapping or adjacent pending ones.
// Parts already written (found again while rescanning the held context)
// are ignored.
func (m *matcher) found(a, b int, f *form, fa int) {
	if b <= m.done {
		return
	}
	if a < m.done {
		fa += m.done - a
		a = m.done
	}
	o := span{start: a, end: b, wide: f.wide, nulFirst: f.wide && f.text[fa] == 0}
	p := m.pending
	n := len(p)
	if n == 0 || p[n-1].end < a {
		m.pending = append(p, o)
		return
	}
	j := n
	for j > 0 && p[j-1].end >= a {
		j--
	}
	k := j
	for k < n && p[k].start <= b {
		o = merged(o, p[k])
		k++
	}
	switch {
	case k == j: // no overlap: insert before p[j]
		p = append(p, span{})
		copy(p[j+1:], p[j:])
		p[j] = o
	default: // replace p[j:k] with the merged span
		p[j] = o
		p = append(p[:j+1], p[k:]...)
	}
	m.pending = p
}

// merged is the span covering the overlapping or adjacent spans o and p.
func merged(o, p span) span {
	first := o
	if p.start < o.start {
		first = p
	}
	return span{start: first.start, end: max(o.end, p.end), wide: o.wide && p.wide, nulFirst: first.nulFirst}
}

// release writes out everything before frontier: text and the replacement
// of every pending occurrence ending before it (at the end of the stream,
// every pending occurrence). An occurrence reaching the frontier may still
// grow, so writing stops at its start.
func (m *matcher) release(buf []byte, frontier int, final bool) {
	n := 0
	for ; n < len(m.pending); n++ {
		p := m.pending[n]
		if !final && p.end >= frontier {
			break
		}
		m.text(buf, p.start)
		m.replace(buf, p)
		m.done = p.end
	}
	if n > 0 {
		m.pending = m.pending[:copy(m.pending, m.pending[n:])]
	}
	if len(m.pending) > 0 && m.pending[0].start < frontier {
		frontier = m.pending[0].start
	}
	if frontier > m.done {
		m.text(buf, frontier)
	}
}

// text writes the stream from done up to to.
func (m *matcher) text(buf []byte, to int) {
	if to == m.done {
		return // may lie before base: held covered bytes are dropped
	}
	if !(m.lazy && m.count == 0) {
		m.out = append(m.out, buf[m.done-m.base:to-m.base]...)
	}
	m.done = to
}

// replace writes the replacement of p at done.
func (m *matcher) replace(buf []byte, p span) {
	if m.lazy && m.count == 0 {
		m.out = make([]byte, 0, len(buf)+2*len(Replacement)+1)
		m.out = append(m.out, buf[:m.done]...)
	}
	if p.wide {
		m.out = appendWide(m.out, p.nulFirst, (p.end-p.start)%2)
	} else {
		m.out = append(m.out, Replacement...)
	}
	m.count++
}

// appendWide appends Replacement in UTF-16 in place of an occurrence of
// UTF-16 forms: its characters where the occurrence had the characters'
// bytes and NULs where it had NULs (nulFirst: from its first byte on), so
// that a UTF-16LE or UTF-16BE text reads "[REDACTED_BY_AGENTSECRETS]" and
// the rest of it keeps its alignment. The length keeps the parity of the
// occurrence's (odd: 1), with a NUL after the last character if needed.
func appendWide(out []byte, nulFirst bool, odd int) []byte {
	start := len(out)
	for i := range len(Replacement) {
		if nulFirst {
			out = append(out, 0, Replacement[i])
		} else {
			out = append(out, Replacement[i], 0)
		}
	}
	if !nulFirst {
		out = out[:len(out)-1] // ends with the last character
	}
	if (len(out)-start)%2 != odd {
		out = append(out, 0)
	}
	return out
}

// heldFrom returns the index into buf of the first byte the stream must
// keep: the context needed to find occurrences that end in bytes not yet
// seen, and every byte of text not yet written.
func (m *matcher) heldFrom(buf []byte) int {
	keep := max(len(buf)-m.set.maxLen, 0)
	need := m.done
	if len(m.pending) > 0 && m.pending[0].start == m.done {
		need = m.pending[0].end
	}
	return min(keep, need-m.base)
}
