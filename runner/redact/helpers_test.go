package redact_test

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math/rand/v2"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/The-17/agentsecrets/runner/redact"
)

// testSecret holds every character that needs escaping in some encoding.
const testSecret = `sk_live_Ab+/=&%"\é9xYz0123456789`

// namedForm is one encoding of a secret, named for failure messages.
type namedForm struct {
	name string
	text string
}

// expectedForms computes, independently of the package, the encodings of
// secret that must never survive redaction.
func expectedForms(secret string) []namedForm {
	var fs []namedForm
	add := func(name, text string) {
		if text != "" {
			fs = append(fs, namedForm{name, text})
		}
	}
	add("raw", secret)
	add("base64 std", base64.StdEncoding.EncodeToString([]byte(secret)))
	add("base64 std raw", base64.RawStdEncoding.EncodeToString([]byte(secret)))
	add("base64 url", base64.URLEncoding.EncodeToString([]byte(secret)))
	add("base64 url raw", base64.RawURLEncoding.EncodeToString([]byte(secret)))
	for lead := range 3 {
		for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
			e := enc.EncodeToString(append(make([]byte, lead), secret...))
			// Characters wholly made of the secret's bits.
			lo, hi := (8*lead+5)/6, 8*(lead+len(secret))/6
			if hi-lo >= 6 {
				add(fmt.Sprintf("base64 at offset %d", lead), e[lo:hi])
			}
		}
	}
	add("hex", hex.EncodeToString([]byte(secret)))
	add("HEX", strings.ToUpper(hex.EncodeToString([]byte(secret))))
	q, p := url.QueryEscape(secret), url.PathEscape(secret)
	add("query escape", q)
	add("path escape", p)
	add("query escape lower", lowerEscapes(q))
	add("path escape lower", lowerEscapes(p))
	for _, e := range urlEncoders {
		add(e.name, e.encode(secret))
		add(e.name+" lower", lowerEscapes(e.encode(secret)))
	}
	std := base64.StdEncoding.EncodeToString([]byte(secret))
	for _, width := range []int{76, 64} {
		if len(std) > width {
			add(fmt.Sprintf("base64 wrapped at %d", width), wrap(std, width, "\n"))
			add(fmt.Sprintf("base64 wrapped at %d crlf", width), wrap(std, width, "\r\n"))
		}
	}
	if h := hex.EncodeToString([]byte(secret)); len(h) > 60 {
		add("xxd -p", wrap(h, 60, "\n"))
	}
	if len(secret) >= 16 {
		// Runs of 16 characters of the base64 fragments and of the hex.
		var encoded []string
		for lead := range 3 {
			for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
				e := enc.EncodeToString(append(make([]byte, lead), secret...))
				encoded = append(encoded, e[(8*lead+5)/6:8*(lead+len(secret))/6])
			}
		}
		h := hex.EncodeToString([]byte(secret))
		encoded = append(encoded, h, strings.ToUpper(h))
		for _, e := range encoded {
			for i := 0; i+16 <= len(e); i++ {
				add(fmt.Sprintf("16-byte window at %d of encoded form %.8q", i, e), e[i:i+16])
			}
		}
	}
	jHTML, jPlain := jsonBody(secret, true), jsonBody(secret, false)
	add("json", jHTML)
	add("json no html", jPlain)
	add("json ascii", jsonASCII(jPlain))
	if h := html.EscapeString(secret); h != secret {
		add("html escape", h)
	}
	// An upstream that changes the letter case of what it echoes, and
	// output in UTF-16 (Windows tools, Java and .NET APIs).
	cased := caseChanged(secret)
	for _, c := range cased {
		add("case-changed", c)
	}
	le, be := utf16Bytes(secret)
	add("utf-16le", le)
	add("utf-16be", be)
	for _, u := range []string{le, be} {
		// Runs of 32 bytes: 16 characters of an ASCII secret.
		for i := 0; len(secret) >= 16 && i+32 <= len(u); i++ {
			add(fmt.Sprintf("32-byte window at %d of utf-16 form %.8q", i, u), u[i:i+32])
		}
	}
	var nested []string
	// A JSON document nested in a JSON string (an error detail, a webhook
	// payload): each JSON escape that differs from the secret, escaped
	// again.
	for _, inner := range []string{jHTML, jPlain, jsonASCII(jPlain)} {
		if inner == secret {
			continue
		}
		for _, outer := range []string{jsonBody(inner, true), jsonBody(inner, false), jsonASCII(jsonBody(inner, false))} {
			add("nested json", outer)
			nested = append(nested, outer)
		}
	}
	for _, base := range slices.Concat([]string{secret, jHTML, jPlain}, nested, cased) {
		// Partial echoes count only for secrets of 16 bytes or more.
		for i := 0; len(secret) >= 16 && i+16 <= len(base); i++ {
			add(fmt.Sprintf("16-byte window at %d of %q-form", i, formKind(base, secret, nested)), base[i:i+16])
		}
	}
	return fs
}

func formKind(base, secret string, nested []string) string {
	switch {
	case base == secret:
		return "raw"
	case slices.Contains(nested, base):
		return "nested json"
	case base == strings.ToUpper(secret) || base == strings.ToLower(secret):
		return "case-changed"
	}
	return "json"
}

// caseChanged returns the upper- and lower-case forms of secret that
// differ from it and are not shorter; none for a secret that is not valid
// UTF-8.
func caseChanged(secret string) []string {
	var out []string
	if !utf8.ValidString(secret) {
		return nil
	}
	for _, c := range []string{strings.ToUpper(secret), strings.ToLower(secret)} {
		if c != secret && len(c) >= len(secret) && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// utf16Bytes returns s encoded as UTF-16LE and UTF-16BE, or two empty
// strings when s is not valid UTF-8.
func utf16Bytes(s string) (le, be string) {
	if !utf8.ValidString(s) {
		return "", ""
	}
	var l, b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		l = binary.LittleEndian.AppendUint16(l, u)
		b = binary.BigEndian.AppendUint16(b, u)
	}
	return string(l), string(b)
}

var escapeRE = regexp.MustCompile(`%[0-9A-F]{2}`)

// urlEncoder is a URL escaper of another language, as its documentation
// defines it.
type urlEncoder struct {
	name   string
	encode func(string) string
}

var urlEncoders = []urlEncoder{
	// urllib.parse.quote(s): letters, digits, "_.-~" and safe="/" kept.
	{"python quote", func(s string) string { return percentExcept(s, "_.-~/", false) }},
	{"python quote safe empty", func(s string) string { return percentExcept(s, "_.-~", false) }},
	{"python quote_plus", func(s string) string { return percentExcept(s, "_.-~", true) }},
	// ECMAScript: encodeURIComponent keeps the uriUnreserved set,
	// encodeURI also uriReserved and '#'.
	{"js encodeURIComponent", func(s string) string { return percentExcept(s, "-_.!~*'()", false) }},
	{"js encodeURI", func(s string) string { return percentExcept(s, "-_.!~*'();/?:@&=+$,#", false) }},
	// RFC 3986 section 2.3: unreserved characters only.
	{"rfc 3986", func(s string) string { return percentExcept(s, "-._~", false) }},
	// WHATWG URLSearchParams, Java URLEncoder.
	{"form urlencoded", func(s string) string { return percentExcept(s, "*-._", true) }},
	// PHP urlencode: '~' escaped too.
	{"php urlencode", func(s string) string { return percentExcept(s, "-_.", true) }},
}

// percentExcept writes s with every byte but ASCII letters, digits and
// the bytes of keep as %XX, and a space as '+' when plus is set.
func percentExcept(s, keep string, plus bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c < 0x80 && (unicode.IsLetter(rune(c)) || unicode.IsDigit(rune(c)) || strings.IndexByte(keep, c) >= 0):
			b.WriteByte(c)
		case c == ' ' && plus:
			b.WriteByte('+')
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// wrap cuts s into lines of width characters joined by eol.
func wrap(s string, width int, eol string) string {
	var lines []string
	for len(s) > width {
		lines = append(lines, s[:width])
		s = s[width:]
	}
	return strings.Join(append(lines, s), eol)
}

func lowerEscapes(s string) string {
	return escapeRE.ReplaceAllStringFunc(s, strings.ToLower)
}

// jsonBody is secret as encoding/json writes it inside a string.
func jsonBody(secret string, html bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(html)
	if err := enc.Encode(secret); err != nil {
		panic(err)
	}
	return strings.TrimSuffix(b.String(), "\n")[1 : b.Len()-2]
}

// jsonASCII escapes every non-ASCII UTF-16 unit of s as \uXXXX.
func jsonASCII(s string) string {
	var b strings.Builder
	for _, u := range utf16.Encode([]rune(s)) {
		if u < 0x80 {
			b.WriteByte(byte(u))
		} else {
			fmt.Fprintf(&b, `\u%04x`, u)
		}
	}
	return b.String()
}

// leaks returns the name of every form of secret found in out that does not
// overlap a replacement (an overlap is the replacement text itself, not the
// secret).
func leaks(out []byte, secret string) []string {
	reps := replacementSpans(out)
	var found []string
	for _, f := range expectedForms(secret) {
		for _, at := range occurrences(out, f.text) {
			if !overlapsAny(reps, at, at+len(f.text)) {
				found = append(found, fmt.Sprintf("%s at %d", f.name, at))
				break
			}
		}
	}
	return found
}

func occurrences(b []byte, s string) []int {
	var at []int
	for i := 0; i < len(b); {
		j := bytes.Index(b[i:], []byte(s))
		if j < 0 {
			break
		}
		at = append(at, i+j)
		i += j + 1
	}
	return at
}

// wideReplacement is Replacement in UTF-16 from its first character to its
// last, as it stands in for an echo in UTF-16 (either byte order).
var wideReplacement = strings.Join(strings.Split(redact.Replacement, ""), "\x00")

// replacementSpans returns where out holds a replacement, ASCII or UTF-16,
// as [start, end) pairs sorted by start.
func replacementSpans(out []byte) [][2]int {
	var spans [][2]int
	for _, r := range []string{redact.Replacement, wideReplacement} {
		for _, at := range occurrences(out, r) {
			spans = append(spans, [2]int{at, at + len(r)})
		}
	}
	slices.SortFunc(spans, func(a, b [2]int) int { return a[0] - b[0] })
	return spans
}

// replacements counts the replacements in out, ASCII or UTF-16.
func replacements(out []byte) int { return len(replacementSpans(out)) }

// overlapsAny reports whether [a, b) overlaps one of spans.
func overlapsAny(spans [][2]int, a, b int) bool {
	for _, s := range spans {
		if s[0] < b && a < s[1] {
			return true
		}
	}
	return false
}

// readChunks is an io.Reader returning src in pieces of the given sizes
// (cycled), to split data at chosen boundaries.
type readChunks struct {
	src   []byte
	sizes []int
	n     int
}

func (r *readChunks) Read(p []byte) (int, error) {
	if len(r.src) == 0 {
		return 0, io.EOF
	}
	size := min(r.sizes[r.n%len(r.sizes)], len(p), len(r.src))
	r.n++
	copy(p, r.src[:size])
	r.src = r.src[size:]
	return size, nil
}

// randomSizes returns n chunk sizes between 1 and maxSize.
func randomSizes(rng *rand.Rand, n, maxSize int) []int {
	sizes := make([]int, n)
	for i := range sizes {
		sizes[i] = 1 + rng.IntN(maxSize)
	}
	return sizes
}

// viaReader redacts body through a Reader fed in the given chunk sizes.
// forEveryChunking streams body through set's Reader and Writer split at
// every byte, byte by byte and in rounds random chunkings, and hands each
// result to check.
func forEveryChunking(rng *rand.Rand, set *redact.Set, body []byte, rounds int, check func(how string, out []byte, n int, err error)) {
	for cut := 1; cut < len(body); cut++ {
		sizes := []int{cut, len(body)}
		out, n, err := viaReader(set, body, sizes)
		check("reader split at "+strconv.Itoa(cut), out, n, err)
		out, n, err = viaWriter(set, body, sizes)
		check("writer split at "+strconv.Itoa(cut), out, n, err)
	}
	out, n, err := viaReader(set, body, []int{1})
	check("reader byte by byte", out, n, err)
	out, n, err = viaWriter(set, body, []int{1})
	check("writer byte by byte", out, n, err)
	for range rounds {
		sizes := randomSizes(rng, 10, 40)
		out, n, err := viaReader(set, body, sizes)
		check("reader random chunks", out, n, err)
		out, n, err = viaWriter(set, body, sizes)
		check("writer random chunks", out, n, err)
	}
}

func viaReader(s *redact.Set, body []byte, sizes []int) ([]byte, int, error) {
	r := s.NewReader(&readChunks{src: body, sizes: sizes})
	out, err := io.ReadAll(r)
	return out, r.Count(), err
}

// viaWriter redacts body through a Writer written in the given chunk sizes.
func viaWriter(s *redact.Set, body []byte, sizes []int) ([]byte, int, error) {
	var out bytes.Buffer
	w := s.NewWriter(&out)
	for i := 0; len(body) > 0; i++ {
		n := min(sizes[i%len(sizes)], len(body))
		if _, err := w.Write(body[:n]); err != nil {
			return nil, 0, err
		}
		body = body[n:]
	}
	if err := w.Close(); err != nil {
		return nil, 0, err
	}
	return out.Bytes(), w.Count(), nil
}
