package redact

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// Replacement is the text that stands in for every removed occurrence.
const Replacement = "[REDACTED_BY_AGENTSECRETS]"

// maxGram is the longest sampled gram, in bytes.
const maxGram = 4

// hashMul spreads a gram over the bitset (Fibonacci hashing).
const hashMul = 0x9E3779B1

// form is one byte string the set removes. An occurrence is a run of at
// least minRun consecutive bytes of text; whole-value forms have
// minRun == len(text), partial forms have minRun == PartialRun (utf16Run
// for the UTF-16 forms).
//
// nameRun is the same for header names (compared in fold): the encoded
// partial forms (base64, hex) count in names only as whole values, which
// keeps the per-name check as cheap as it was before they were added; so
// do the case-changed forms, whose runs in a name, compared in fold, are
// runs of the raw value already, and the UTF-16 ones (a name has no NUL).
//
// wide marks a UTF-16 form (or run of one): an occurrence made of such
// forms alone is replaced by Replacement in UTF-16, so that the rest of a
// UTF-16 text keeps its alignment.
type form struct {
	text    []byte
	fold    []byte // text in lower case, for header names
	minRun  int
	nameRun int
	wide    bool
}

func (f *form) whole() bool { return f.minRun == len(f.text) }

// gramHit says that a gram occurs in forms[form] at byte offset off.
type gramHit struct{ form, off int32 }

// tailHit says that forms[form][end-1] is a given byte: a stream ending in
// that byte may end with the first end bytes of the form (or, for a partial
// form, with a run ending there).
type tailHit struct{ form, end int32 }

// Set is an immutable compiled set of secrets in all their forms. It is
// safe for concurrent use; the Writers and Readers it makes are not.
type Set struct {
	forms  []form
	maxLen int // longest form
	gram   int // sampled gram length, 1..maxGram
	stride int // distance between sampled positions

	bitset []uint64 // hashed grams of every form
	shift  uint     // hash >> shift indexes bitset bits
	grams  map[uint32][]gramHit
	tails  [256][]tailHit
}

// NewSet compiles secrets into a Set. Each secret is expanded into all its
// forms (see Forms) and partial echoes; empty secrets are ignored.
func NewSet(secrets ...[]byte) *Set {
	s := &Set{}
	index := map[string]int{}
	add := func(text []byte, minRun, nameRun int, wide bool) {
		if len(text) == 0 {
			return
		}
		if i, ok := index[string(text)]; ok {
			f := &s.forms[i]
			f.minRun = min(f.minRun, minRun)
			f.nameRun = min(f.nameRun, nameRun)
			f.wide = f.wide && wide
			return
		}
		index[string(text)] = len(s.forms)
		s.forms = append(s.forms, form{text: append([]byte(nil), text...), fold: bytes.ToLower(text), minRun: minRun, nameRun: nameRun, wide: wide})
	}
	for _, v := range secrets {
		escaped, cased, wide := escapedForms(v), caseForms(v), utf16Forms(v)
		for _, f := range formsWith(v, escaped, cased) {
			add(f, len(f), len(f), false)
		}
		for _, f := range wide {
			add(f, len(f), len(f), true)
		}
		for _, f := range partialForms(v, escaped) {
			add(f, PartialRun, PartialRun, false)
		}
		for _, f := range encodedPartialForms(v) {
			add(f, PartialRun, len(f), false)
		}
		for _, f := range runForms(v, cased, PartialRun) {
			add(f, PartialRun, len(f), false)
		}
		for _, f := range runForms(v, wide, utf16Run) {
			add(f, utf16Run, len(f), true)
		}
	}
	if len(s.forms) > 0 {
		s.compile()
	}
	return s
}

// Empty reports whether the set removes nothing.
func (s *Set) Empty() bool { return len(s.forms) == 0 }

// compile builds the sampling parameters, the gram index and the tail index.
//
// Every occurrence is at least minOcc bytes long, so sampling one gram of
// g bytes every minOcc-g+1 positions lands at least one sample fully inside
// each occurrence; a sample whose gram is in no form is skipped at once.
func (s *Set) compile() {
	minOcc := s.forms[0].minRun
	for _, f := range s.forms {
		s.maxLen = max(s.maxLen, len(f.text))
		minOcc = min(minOcc, f.minRun)
	}
	s.gram = min(maxGram, minOcc)
	s.stride = minOcc - s.gram + 1

	s.indexGrams()
	s.indexTails()
	// About 64 bits per distinct gram keeps false hits near 1.5%.
	logBits := bits.Len(uint(len(s.grams))*64 - 1)
	logBits = min(max(logBits, 12), 24)
	s.bitset = make([]uint64, 1<<logBits/64)
	s.shift = uint(32 - logBits)
	for k := range s.grams {
		h := (k * hashMul) >> s.shift
		s.bitset[h>>6] |= 1 << (h & 63)
	}
}

// indexGrams maps every gram of every form to where it occurs. A first
// pass counts the hits of each gram, so that they all share one array.
func (s *Set) indexGrams() {
	total := 0
	for _, f := range s.forms {
		total += len(f.text) - s.gram + 1 // every form is at least s.gram long
	}
	counts := make(map[uint32]int32, total)
	for _, f := range s.forms {
		for off := 0; off+s.gram <= len(f.text); off++ {
			counts[gramKey(f.text[off:], s.gram)]++
		}
	}
	hits := make([]gramHit, total)
	s.grams = make(map[uint32][]gramHit, len(counts))
	for k, n := range counts {
		s.grams[k], hits = hits[:0:n], hits[n:]
	}
	for fi, f := range s.forms {
		for off := 0; off+s.gram <= len(f.text); off++ {
			k := gramKey(f.text[off:], s.gram)
			s.grams[k] = append(s.grams[k], gramHit{int32(fi), int32(off)})
		}
	}
}

// indexTails lists, for every byte, the proper prefixes of forms that end
// with it, all in one array.
func (s *Set) indexTails() {
	var counts [256]int
	total := 0
	for _, f := range s.forms {
		for _, c := range f.text[:len(f.text)-1] {
			counts[c]++
			total++
		}
	}
	hits := make([]tailHit, total)
	for c, n := range counts {
		s.tails[c], hits = hits[:0:n], hits[n:]
	}
	for fi, f := range s.forms {
		for end := 1; end < len(f.text); end++ {
			c := f.text[end-1]
			s.tails[c] = append(s.tails[c], tailHit{int32(fi), int32(end)})
		}
	}
}

// gramKey packs the first g bytes of b into a little-endian integer.
func gramKey(b []byte, g int) uint32 {
	if g == 4 {
		return binary.LittleEndian.Uint32(b)
	}
	var k uint32
	for i := g - 1; i >= 0; i-- {
		k = k<<8 | uint32(b[i])
	}
	return k
}

// heldSuffix returns the length of the longest suffix of buf that may be
// the start of an occurrence completed by bytes not yet seen: a proper
// prefix of a whole-value form, or a run shorter than PartialRun of a
// partial form. Those bytes cannot be released yet.
func (s *Set) heldSuffix(buf []byte) int {
	n := len(buf)
	if n == 0 {
		return 0
	}
	best := 0
	for _, t := range s.tails[buf[n-1]] {
		f := &s.forms[t.form]
		end := int(t.end)
		if f.whole() {
			if end <= best || end > n {
				continue
			}
			if string(buf[n-end:]) == string(f.text[:end]) {
				best = end
			}
			continue
		}
		limit := min(end, f.minRun-1, n)
		if limit <= best {
			continue
		}
		l := 1
		for l < limit && buf[n-1-l] == f.text[end-1-l] {
			l++
		}
		best = max(best, l)
	}
	return best
}
