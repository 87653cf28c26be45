package redact_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/The-17/agentsecrets/runner/redact"
)

// echo is one encoding of a secret as an independent encoder writes it.
type echo struct {
	name string
	text string   // what goes into the body
	must []string // substrings that must not survive redaction
}

// FuzzEncodedEchoDifferential is a differential fuzz target: it builds a
// random secret (printable ASCII, token-like or arbitrary bytes, 1 to 100
// bytes), encodes it with encoders of the standard library or written here
// from their specifications (not the package's forms), embeds the echo in
// random text, and redacts the body whole and streamed in random chunks
// (1 byte to 64 KiB) through a Reader and a Writer. No echo may survive,
// streaming must equal whole-buffer redaction, and the same text without
// the echo (and with near misses of it) must pass unchanged unless it holds
// a documented form.
func FuzzEncodedEchoDifferential(f *testing.F) {
	f.Add([]byte(testSecret), []byte("hello world, this is some text"), uint64(1), uint32(0))
	f.Add([]byte("p@ss w0rd/é+=<>&"), []byte(`{"a":"b"}`), uint64(2), uint32(5))
	f.Add([]byte("\x00\xff\xfe\x80abc\u2028"), []byte("QUJDREVGR0hJSktMTU5PUA=="), uint64(3), uint32(9))
	f.Add([]byte{}, []byte("GET /x?k=1 HTTP/1.1\r\n"), uint64(4), uint32(15))
	f.Add([]byte(longKey), []byte("$ base64 key.txt\n"), uint64(5), uint32(6))
	f.Fuzz(func(t *testing.T, rawSecret, text []byte, seed uint64, knobs uint32) {
		differentialCase(t, rawSecret, text, seed, knobs)
	})
}

// differentialCase runs one case of FuzzEncodedEchoDifferential and
// reports whether the false-positive check ran.
func differentialCase(t testing.TB, rawSecret, text []byte, seed uint64, knobs uint32) bool {
	if len(text) > 4096 {
		text = text[:4096]
	}
	rng := rand.New(rand.NewPCG(seed, uint64(knobs)))
	secret := genSecret(rng, rawSecret)
	e := genEcho(rng, secret)
	text = genText(rng, text)

	secrets := [][]byte{secret}
	if rng.IntN(4) == 0 {
		secrets = append(secrets, relatedSecret(rng, secret))
	}
	set := redact.NewSet(secrets...)

	// Leaks.
	body := insertEcho(rng, text, e.text)
	out, n := set.Redact(body)
	check := func(how string, out []byte) {
		t.Helper()
		if got := leaks(out, string(secret)); len(got) > 0 {
			t.Fatalf("%s: secret %q, echo %s %q: leaked %v", how, secret, e.name, e.text, got)
		}
		for _, m := range append([]string{string(secret)}, e.must...) {
			if at := unreplaced(out, m); at >= 0 {
				t.Fatalf("%s: secret %q, echo %s %q: %q survives at %d in %q", how, secret, e.name, e.text, m, at, out)
			}
		}
	}
	check("whole", out)
	sizes := chunkSizes(rng)
	for via, run := range map[string]func(*redact.Set, []byte, []int) ([]byte, int, error){"reader": viaReader, "writer": viaWriter} {
		got, gotN, err := run(set, body, sizes)
		if err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprintf("%s chunks %v", via, sizes[:min(4, len(sizes))]), got)
		if !bytes.Equal(got, out) || gotN != n {
			t.Fatalf("%s chunks %v: got %q (%d), whole gives %q (%d)", via, sizes[:min(4, len(sizes))], got, gotN, out, n)
		}
	}

	// False positives: the text alone, and with near misses of the echo.
	clean := text
	if miss := nearMiss(rng, e.text); miss != "" && rng.IntN(2) == 0 {
		clean = insertEcho(rng, text, miss)
	}
	if mayMatch(clean, secrets) {
		return false
	}
	if got, n := set.Redact(clean); n != 0 || !bytes.Equal(got, clean) {
		t.Fatalf("secret %q: text without a form changed (%d): %q -> %q", secret, n, clean, got)
	}
	got, gotN, err := viaReader(set, clean, sizes)
	if err != nil || gotN != 0 || !bytes.Equal(got, clean) {
		t.Fatalf("secret %q: streamed text without a form changed (%d, %v): %q -> %q", secret, gotN, err, clean, got)
	}
	return true
}

// genSecret makes a secret of 1 to 100 bytes from the fuzzer's bytes (or
// random ones): printable ASCII, token-like, or arbitrary bytes.
func genSecret(rng *rand.Rand, raw []byte) []byte {
	var s []byte
	if len(raw) == 0 || rng.IntN(4) == 0 {
		n := 1 + rng.IntN(100)
		if rng.IntN(4) != 0 {
			n = 5 + rng.IntN(96)
		}
		s = make([]byte, n)
		for i := range s {
			s[i] = byte(rng.Uint32())
		}
	} else {
		s = bytes.Clone(raw[:min(len(raw), 100)])
	}
	switch rng.IntN(3) {
	case 0: // printable ASCII
		for i, c := range s {
			s[i] = ' ' + c%95
		}
	case 1: // token-like
		const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_-.:@ %&\"<>\\é"
		for i, c := range s {
			s[i] = alpha[int(c)%len(alpha)]
		}
	}
	return s
}

// relatedSecret is a second secret sharing a prefix, a suffix or nothing
// with the first.
func relatedSecret(rng *rand.Rand, s []byte) []byte {
	switch rng.IntN(3) {
	case 0:
		return append(bytes.Clone(s[:rng.IntN(len(s)+1)]), "-other"...)
	case 1:
		return append([]byte("other-"), s[rng.IntN(len(s)):]...)
	}
	return []byte("second-secret-for-the-set")
}

// genText returns the surrounding text: the fuzzer's, or random text over
// an alphabet an encoding blends into, sometimes longer than a stream chunk.
func genText(rng *rand.Rand, text []byte) []byte {
	alphabets := []string{
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
		"0123456789abcdef",
		"0123456789ABCDEF%",
		"abc %\\u0\"/:=&+",
	}
	n := len(text)
	switch rng.IntN(8) {
	case 0, 1:
		return text
	case 2:
		if rng.IntN(8) == 0 {
			n = 33<<10 + rng.IntN(36<<10) // crosses the 32 KiB chunk size
		}
	}
	alpha := alphabets[rng.IntN(len(alphabets))]
	out := make([]byte, n)
	for i := range out {
		out[i] = alpha[rng.IntN(len(alpha))]
	}
	return out
}

// insertEcho puts 1 to 3 copies of echo into text, at random places or
// next to each other.
func insertEcho(rng *rand.Rand, text []byte, echo string) []byte {
	var out []byte
	for range 1 + rng.IntN(3) {
		cut := 0
		if rng.IntN(4) != 0 {
			cut = rng.IntN(len(text) + 1)
		}
		out = append(out, text[:cut]...)
		text = text[cut:]
		out = append(out, echo...)
	}
	return append(out, text...)
}

// nearMiss is echo with one byte dropped or changed: usually no longer a
// form (mayMatch decides).
func nearMiss(rng *rand.Rand, echo string) string {
	if len(echo) < 2 {
		return ""
	}
	b := []byte(echo)
	switch rng.IntN(3) {
	case 0:
		return string(b[:len(b)-1])
	case 1:
		return string(b[1:])
	}
	i := rng.IntN(len(b))
	b[i] ^= 1 << rng.IntN(7)
	return string(b)
}

// chunkSizes returns read or write sizes from 1 byte to 64 KiB.
func chunkSizes(rng *rand.Rand) []int {
	max := []int{1, 2, 3, 7, 16, 64, 512, 4096, 64 << 10}[rng.IntN(9)]
	return randomSizes(rng, 1+rng.IntN(16), max)
}

// unreplaced returns where s occurs in out outside every replacement, or -1.
func unreplaced(out []byte, s string) int {
	reps := replacementSpans(out)
	for _, at := range occurrences(out, s) {
		if !overlapsAny(reps, at, at+len(s)) {
			return at
		}
	}
	return -1
}

// genEcho encodes secret with a randomly chosen encoder.
func genEcho(rng *rand.Rand, secret []byte) echo {
	s := string(secret)
	encs := []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding}
	encNames := []string{"std", "raw std", "url", "raw url"}
	randBytes := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	whole := func(name, text string) echo { return echo{name, text, []string{text}} }
	switch k := rng.IntN(18); k {
	case 0:
		return whole("raw", s)
	case 1, 2:
		i := rng.IntN(4)
		return whole("base64 "+encNames[i], encs[i].EncodeToString(secret))
	case 3, 4:
		// Inside a longer base64 text: base64(prefix + secret + suffix).
		var prefix []byte
		switch rng.IntN(4) {
		case 0:
			prefix = []byte("user:")
		case 1:
			prefix = randBytes(rng.IntN(9))
		default:
			prefix = randBytes(rng.IntN(3))
		}
		suffix := randBytes(rng.IntN(5))
		i := rng.IntN(4)
		e := encs[i].EncodeToString(append(append(bytes.Clone(prefix), secret...), suffix...))
		lead := len(prefix) % 3
		full := base64.RawStdEncoding
		if i >= 2 {
			full = base64.RawURLEncoding
		}
		// The characters that depend on the secret alone.
		ref := full.EncodeToString(append(make([]byte, lead), secret...))
		lo, hi := (8*lead+5)/6, 8*(lead+len(secret))/6
		var must []string
		if hi-lo >= 6 {
			mid := ref[lo:hi]
			start := (8*len(prefix) + 5) / 6
			if e[start:start+len(mid)] != mid {
				panic("stable part misplaced")
			}
			must = append(must, mid)
		}
		pre := []string{"Basic ", "Bearer ", "", "data:"}[rng.IntN(4)]
		return echo{fmt.Sprintf("base64 %s of %d+secret+%d", encNames[i], len(prefix), len(suffix)), pre + e, must}
	case 5:
		// MIME or PEM wrapped, possibly with a prefix: whole when alone,
		// else runs of 16 (checked by leaks).
		var prefix []byte
		if rng.IntN(2) == 0 {
			prefix = randBytes(rng.IntN(12))
		}
		width := []int{76, 64}[rng.IntN(2)]
		eol := []string{"\n", "\r\n"}[rng.IntN(2)]
		e := wrap(base64.StdEncoding.EncodeToString(append(prefix, secret...)), width, eol)
		if len(prefix) == 0 {
			return whole(fmt.Sprintf("base64 wrapped at %d %q", width, eol), e)
		}
		return echo{fmt.Sprintf("base64 of %d+secret wrapped at %d %q", len(prefix), width, eol), e + eol, nil}
	case 6:
		prefix, suffix := randBytes(rng.IntN(4)), randBytes(rng.IntN(4))
		h := hex.EncodeToString(secret)
		full := hex.EncodeToString(append(append(prefix, secret...), suffix...))
		if rng.IntN(2) == 0 {
			h, full = strings.ToUpper(h), strings.ToUpper(full)
		}
		return echo{"hex", full, []string{h}}
	case 7:
		return whole("xxd -p", wrap(hex.EncodeToString(secret), 60, "\n"))
	case 8:
		return whole("url.QueryEscape", url.QueryEscape(s))
	case 9:
		return whole("url.PathEscape", url.PathEscape(s))
	case 10:
		if rng.IntN(2) == 0 {
			return whole("url.QueryEscape lower", lowerPercentHex(url.QueryEscape(s)))
		}
		return whole("url.PathEscape lower", lowerPercentHex(url.PathEscape(s)))
	case 11:
		e := encodeURIComponent(secret)
		if rng.IntN(2) == 0 {
			return whole("encodeURIComponent lower", lowerPercentHex(e))
		}
		return whole("encodeURIComponent", e)
	case 12:
		// Python urllib.parse: quote (safe="/"), quote(safe=""), quote_plus.
		switch rng.IntN(3) {
		case 0:
			return whole("python quote", pyQuote(secret, "/", false))
		case 1:
			return whole("python quote safe empty", pyQuote(secret, "", false))
		}
		return whole("python quote_plus", pyQuote(secret, "", true))
	case 16:
		// A case-normalising upstream (a valid UTF-8 value only).
		if !utf8.Valid(secret) {
			return whole("raw", s)
		}
		if rng.IntN(2) == 0 {
			return whole("upper case", strings.ToUpper(s))
		}
		return whole("lower case", strings.ToLower(s))
	case 17:
		// UTF-16 output (a valid UTF-8 value only).
		le, be := utf16Bytes(s)
		if le == "" {
			return whole("raw", s)
		}
		if rng.IntN(2) == 0 {
			return whole("utf-16be", be)
		}
		return whole("utf-16le", le)
	default:
		// JSON string bodies.
		var j string
		var name string
		switch rng.IntN(6) {
		case 0:
			m, _ := json.Marshal(s)
			j, name = string(m[1:len(m)-1]), "json.Marshal"
		case 1:
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			enc.Encode(s)
			j, name = strings.TrimSuffix(b.String(), "\n"), "json no html"
			j = j[1 : len(j)-1]
		case 2:
			j, name = jsonString(s, rng.IntN(2) == 0, true, false, false), "json ascii lower"
		case 3:
			j, name = jsonString(s, rng.IntN(2) == 0, true, true, false), "json ascii upper"
		default:
			j, name = jsonString(s, false, true, false, true), `json ascii \/`
		}
		if e := jsonString(s, true, false, false, false); name == "json.Marshal" && e != j {
			panic(fmt.Sprintf("jsonString %q != encoding/json %q", e, j))
		}
		return echo{name, `{"k":"` + j + `"}`, []string{j}}
	}
}

func lowerPercentHex(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1], b[i+2] = bytes.ToLower(b[i+1 : i+2])[0], bytes.ToLower(b[i+2 : i+3])[0]
			i += 2
		}
	}
	return string(b)
}

// encodeURIComponent escapes every byte but A-Z a-z 0-9 - _ . ! ~ * ' ( ),
// as ECMAScript 262 §19.2.6.5 specifies (UTF-8 bytes, upper-case digits).
func encodeURIComponent(v []byte) string {
	const keep = "-_.!~*'()"
	var b strings.Builder
	for _, c := range v {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(keep, c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// pyQuote is Python's urllib.parse.quote (always_safe "_.-~" plus safe),
// or quote_plus when plus is set.
func pyQuote(v []byte, safe string, plus bool) string {
	return percentExcept(string(v), "_.-~"+safe, plus)
}

// jsonString writes s as a JSON string body, from RFC 8259 and the rules
// of encoding/json: invalid UTF-8 as \ufffd, U+2028 and U+2029 escaped,
// <, > and & escaped when html is set; with ascii, every non-ASCII
// character as \uXXXX (a surrogate pair beyond the basic plane), in upper
// case hex when upper is set; '/' as \/ when slash is set.
func jsonString(s string, html, ascii, upper, slash bool) string {
	var b strings.Builder
	u := func(r rune) {
		if upper {
			fmt.Fprintf(&b, `\u%04X`, r)
		} else {
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == utf8.RuneError && size == 1:
			u(utf8.RuneError)
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20:
			u(r)
		case html && (r == '<' || r == '>' || r == '&'):
			u(r)
		case r == '/' && slash:
			b.WriteString(`\/`)
		case r == 0x2028 || r == 0x2029:
			u(r)
		case r >= utf8.RuneSelf && ascii:
			if r > 0xFFFF {
				r1, r2 := utf16.EncodeRune(r)
				u(r1)
				u(r2)
			} else {
				u(r)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// mayMatch reports whether text holds an occurrence the package may remove:
// a whole form (redact.Forms) or a run of 16 bytes of a form whose runs
// count (raw, JSON escapes, base64 fragments, hex, upper and lower case),
// or of 32 bytes of a UTF-16 form, computed here.
func mayMatch(text []byte, secrets [][]byte) bool {
	for _, s := range secrets {
		for _, f := range redact.Forms(s) {
			if bytes.Contains(text, f) {
				return true
			}
		}
		if len(s) < redact.PartialRun {
			continue
		}
		str := string(s)
		bases := []string{str}
		for _, html := range []bool{true, false} {
			bases = append(bases, jsonString(str, html, false, false, false),
				jsonString(str, html, true, false, false), jsonString(str, html, true, true, false))
		}
		bases = append(bases, jsonString(str, false, true, false, true))
		for lead := range 3 {
			for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
				e := enc.EncodeToString(append(make([]byte, lead), s...))
				bases = append(bases, e[(8*lead+5)/6:8*(lead+len(s))/6])
			}
		}
		h := hex.EncodeToString(s)
		bases = append(bases, h, strings.ToUpper(h))
		bases = append(bases, caseChanged(str)...)
		// The other JSON escapes (Gson's, System.Text.Json's, nested) and
		// the HTML entity forms have runs too: every form holding a
		// backslash or an ampersand (a URL form keeping '&' is let pass).
		for _, f := range redact.Forms(s) {
			if bytes.ContainsAny(f, `\&`) {
				bases = append(bases, string(f))
			}
		}
		if holdsRun(text, bases, redact.PartialRun) {
			return true
		}
		le, be := utf16Bytes(str)
		if holdsRun(text, []string{le, be}, 2*redact.PartialRun) {
			return true
		}
	}
	return false
}

// holdsRun reports whether text holds a run of n bytes of one of bases.
func holdsRun(text []byte, bases []string, n int) bool {
	for _, base := range bases {
		for i := 0; i+n <= len(base); i++ {
			if bytes.Contains(text, []byte(base[i:i+n])) {
				return true
			}
		}
	}
	return false
}
