package redact

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// PartialRun is the length of the shortest echo of a secret that is
// removed: any run of PartialRun or more consecutive bytes of a secret
// (raw, upper- or lower-cased, JSON-escaped) or of its base64 or hex
// encoding counts as an echo of it, and in UTF-16 any run of PartialRun
// code units.
const PartialRun = 16

// minAlignedLen is the shortest base64 fragment kept for a secret embedded
// at an offset inside a longer base64 stream; shorter fragments would match
// unrelated base64 text too often to be useful.
const minAlignedLen = 6

// Forms returns every whole-value form of secret that a Set built from it
// removes: the raw bytes, base64 (standard and URL-safe, padded and not,
// the fragments that appear when the secret sits at any byte offset of a
// longer base64 stream, as in a Basic-auth header, and the standard
// encoding wrapped at 76 and 64 columns with LF or CRLF line ends), hex in
// both cases and wrapped as xxd -p writes it, URL escapes, JSON string
// escapes (and those escaped again, as a JSON document nested in a JSON
// string holds them), HTML and XML entity escapes, for a non-ASCII
// secret its bytes misread as Latin-1 (raw and JSON-escaped), and for a
// secret that is valid UTF-8 its upper- and lower-case forms and its
// UTF-16LE and UTF-16BE encodings. Partial echoes (runs of PartialRun or
// more bytes of the raw, case-changed, JSON-escaped (once or twice) or
// HTML-escaped value, of its base64 fragments or of its hex, runs of
// 2*PartialRun bytes of its UTF-16 forms) are matched in addition and are
// not listed. The result has no duplicates.
func Forms(secret []byte) [][]byte {
	return formsWith(secret, escapedForms(secret), slices.Concat(caseForms(secret), utf16Forms(secret)))
}

// escapedForms returns secret's JSON escapes (once and nested) and HTML
// escapes, which both Forms and partialForms list.
func escapedForms(secret []byte) []string {
	js := jsonForms(secret)
	return slices.Concat(js, nestedJSONForms(secret, js), htmlForms(secret))
}

// formsWith is Forms, given secret's escapedForms and its caseForms and
// utf16Forms (echoes).
func formsWith(secret []byte, escaped []string, echoes [][]byte) [][]byte {
	if len(secret) == 0 {
		return nil
	}
	var forms [][]byte
	add := func(f []byte) {
		if len(f) == 0 {
			return
		}
		for _, g := range forms {
			if bytes.Equal(f, g) {
				return
			}
		}
		forms = append(forms, f)
	}
	add(secret)
	for _, f := range base64Forms(secret) {
		add(f)
	}
	h := hex.EncodeToString(secret)
	add([]byte(h))
	add([]byte(strings.ToUpper(h)))
	if len(h) > hexWrapWidth {
		add([]byte(wrapLines(h, hexWrapWidth, "\n")))
	}
	for _, f := range urlForms(secret) {
		add(f)
	}
	for _, f := range escaped {
		add([]byte(f))
	}
	if m, ok := latin1Misread(secret); ok {
		add(m)
		for _, f := range jsonForms(m) {
			add([]byte(f))
		}
	}
	for _, f := range echoes {
		add(f)
	}
	return forms
}

// caseForms returns the upper- and lower-case forms of v that differ from
// it, as an upstream that changes the letter case of what it echoes writes
// them (an error message, a case-normalising log). A value that is not
// valid UTF-8 has none, and a form shorter than v is left out: a few
// characters shrink when their case changes (the Kelvin sign K becomes k),
// and a short secret's form would then remove ordinary text.
func caseForms(v []byte) [][]byte {
	if !utf8.Valid(v) {
		return nil
	}
	var out [][]byte
	for _, c := range [][]byte{bytes.ToUpper(v), bytes.ToLower(v)} {
		if !bytes.Equal(c, v) && len(c) >= len(v) {
			out = append(out, c)
		}
	}
	return out
}

// utf16Run is the shortest partial echo of a UTF-16 form, in bytes:
// PartialRun code units, as many characters as a partial echo of the raw
// value holds.
const utf16Run = 2 * PartialRun

// utf16Forms returns v in UTF-16LE and UTF-16BE, as Windows tools,
// PowerShell redirection and Java or .NET APIs write text: an ASCII
// character with a NUL byte after it (LE) or before it (BE). A value that
// is not valid UTF-8 has none.
func utf16Forms(v []byte) [][]byte {
	if !utf8.Valid(v) {
		return nil
	}
	le := make([]byte, 0, 2*len(v))
	be := make([]byte, 0, 2*len(v))
	var units [2]uint16
	for _, r := range string(v) {
		for _, u := range utf16.AppendRune(units[:0], r) {
			le = binary.LittleEndian.AppendUint16(le, u)
			be = binary.BigEndian.AppendUint16(be, u)
		}
	}
	return [][]byte{le, be}
}

// runForms returns the forms among fs (forms of secret) whose runs of run
// bytes are echoes too: those longer than run, none for a secret shorter
// than PartialRun.
func runForms(secret []byte, fs [][]byte, run int) [][]byte {
	if len(secret) < PartialRun {
		return nil
	}
	var out [][]byte
	for _, f := range fs {
		if len(f) > run {
			out = append(out, f)
		}
	}
	return out
}

// latin1Misread is secret as a server echoes it when it reads the header
// bytes as Latin-1 and writes them back as UTF-8 (Python's http.server,
// Werkzeug): each byte of 0x80 or more becomes a two-byte character. It is
// another form only for a secret with such bytes.
func latin1Misread(secret []byte) ([]byte, bool) {
	n := 0
	for _, c := range secret {
		if c >= utf8.RuneSelf {
			n++
		}
	}
	if n == 0 {
		return nil, false
	}
	out := make([]byte, 0, len(secret)+n)
	for _, c := range secret {
		out = utf8.AppendRune(out, rune(c))
	}
	return out, true
}

// partialForms returns the forms of secret whose runs of PartialRun or more
// bytes are echoes: the raw value and its JSON (single and nested) and
// HTML escapes (escaped, its escapedForms).
func partialForms(secret []byte, escaped []string) [][]byte {
	if len(secret) < PartialRun {
		return nil
	}
	out := [][]byte{secret}
	for _, f := range escaped {
		if len(f) >= PartialRun {
			out = append(out, []byte(f))
		}
	}
	return out
}

// nestedJSONForms returns v as a JSON document nested in a JSON string
// holds it (an error detail, a webhook payload): each of its JSON forms js
// that differs from v, escaped again by every encoder of jsonForms, without
// repeats. Between two characters escaped twice (\\\" for '"') there may
// be too few bytes for a partial run of a form escaped once. A value JSON
// writes unchanged (letters, digits, '-', '_') has none.
func nestedJSONForms(v []byte, js []string) []string {
	var out []string
	for i, f := range js {
		if f == string(v) || slices.Contains(js[:i], f) {
			continue
		}
		for _, g := range jsonForms([]byte(f)) {
			if !slices.Contains(out, g) {
				out = append(out, g)
			}
		}
	}
	return out
}

// encodedPartialForms returns the encoded forms of secret whose runs of
// PartialRun or more bytes are echoes too: its base64 fragments at each
// offset and its hex. They catch the lines of an encoding wrapped at any
// column and starting anywhere (base64 of "user:" + secret wrapped at 76,
// xxd -p of a file holding the secret), whose whole-value forms are too
// many to list. They are whole-value forms as well, so they add no gram to
// the index.
func encodedPartialForms(secret []byte) [][]byte {
	if len(secret) < PartialRun {
		return nil
	}
	var out [][]byte
	for _, f := range alignedBase64Forms(secret) {
		if len(f) >= PartialRun {
			out = append(out, f)
		}
	}
	h := hex.EncodeToString(secret)
	return append(out, []byte(h), []byte(strings.ToUpper(h)))
}

var base64Encodings = []*base64.Encoding{
	base64.StdEncoding, base64.RawStdEncoding,
	base64.URLEncoding, base64.RawURLEncoding,
}

// wrapWidths are the line lengths base64 is commonly wrapped at: 76 for
// MIME (GNU base64, Python base64.encodebytes), 64 for PEM (openssl).
var wrapWidths = []int{76, 64}

// hexWrapWidth is the line length of xxd -p.
const hexWrapWidth = 60

func base64Forms(v []byte) [][]byte {
	var out [][]byte
	for _, enc := range base64Encodings {
		out = append(out, []byte(enc.EncodeToString(v)))
	}
	out = append(out, alignedBase64Forms(v)...)
	// The value encoded alone and wrapped, as base64 and openssl write it.
	std := base64.StdEncoding.EncodeToString(v)
	for _, width := range wrapWidths {
		for _, eol := range []string{"\n", "\r\n"} {
			if len(std) > width {
				out = append(out, []byte(wrapLines(std, width, eol)))
			}
		}
	}
	return out
}

// alignedBase64Forms returns the fragments of the base64 encodings of v
// (standard and URL-safe) that appear whatever byte offset v sits at in a
// longer base64 stream, one per offset modulo 3.
func alignedBase64Forms(v []byte) [][]byte {
	var out [][]byte
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		for lead := 0; lead < 3; lead++ {
			if f := alignedBase64(enc, v, lead); len(f) >= minAlignedLen {
				out = append(out, f)
			}
		}
	}
	return out
}

// wrapLines splits s into lines of width bytes (the last may be shorter)
// joined by eol, with no eol after the last line.
func wrapLines(s string, width int, eol string) string {
	var b strings.Builder
	for len(s) > width {
		b.WriteString(s[:width])
		b.WriteString(eol)
		s = s[width:]
	}
	b.WriteString(s)
	return b.String()
}

// alignedBase64 returns the characters of the base64 encoding of v, placed
// lead bytes into a longer stream, that depend on v alone: whatever precedes
// or follows v in the stream, these characters appear unchanged.
func alignedBase64(enc *base64.Encoding, v []byte, lead int) []byte {
	src := make([]byte, lead+len(v))
	copy(src[lead:], v)
	e := enc.EncodeToString(src)
	lo := (8*lead + 5) / 6
	hi := 8 * (lead + len(v)) / 6
	if hi <= lo {
		return nil
	}
	return []byte(e[lo:hi])
}

// urlEscapers lists, for each common URL escaper, the characters it leaves
// unescaped besides ASCII letters and digits. Every other byte is written
// as %XX; a space as %20 or, in the form-encoding style, as '+'.
var urlEscapers = []string{
	// RFC 3986 unreserved only: Python quote(s, safe="") and quote_plus,
	// curl, PHP rawurlencode, Go url.QueryEscape (space as '+').
	"-._~",
	// Python urllib.parse.quote(s) (safe="/").
	"-._~/",
	// JavaScript encodeURIComponent.
	"-._~!*'()",
	// JavaScript encodeURI.
	"-._~!*'();,/?:@&=+$#",
	// Go url.PathEscape.
	"-._~$&+:=@",
	// Go url.URL.EscapedPath.
	"-._~$&+,/:;=@",
	// Go url.UserPassword in a URL's user info (a connection string).
	"-._~$&+,;=",
	// WHATWG application/x-www-form-urlencoded, Java URLEncoder, Ruby
	// URI.encode_www_form_component.
	"-._*",
	// PHP urlencode ('~' escaped too).
	"-._",
	// Python 2 urllib.quote(s) (safe="/", '~' escaped).
	"-._/",
}

// urlForms returns v escaped by every escaper of urlEscapers, with the
// space written both ways and the %XX digits in upper and lower case. It
// skips escapes equal to v (nothing to escape) and repeats of the previous
// one; Forms removes the other duplicates, so a value with nothing to
// escape adds no form.
func urlForms(v []byte) [][]byte {
	var out [][]byte
	add := func(f []byte) {
		if !bytes.Equal(f, v) && (len(out) == 0 || !bytes.Equal(f, out[len(out)-1])) {
			out = append(out, f)
		}
	}
	hasSpace := bytes.IndexByte(v, ' ') >= 0
	for _, keep := range urlEscapers {
		for _, plus := range []bool{true, false} {
			if plus && !hasSpace {
				continue // same as without
			}
			f := percentEscape(v, keep, plus)
			if bytes.Equal(f, v) {
				continue
			}
			add(f)
			add(lowerPercent(f))
		}
	}
	return out
}

// percentEscape writes v with every byte other than ASCII letters, digits
// and the bytes of keep as %XX (upper-case digits); a space becomes '+'
// when plus is set.
func percentEscape(v []byte, keep string, plus bool) []byte {
	const upperHex = "0123456789ABCDEF"
	b := make([]byte, 0, 3*len(v))
	for _, c := range v {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c < utf8.RuneSelf && strings.IndexByte(keep, c) >= 0:
			b = append(b, c)
		case c == ' ' && plus:
			b = append(b, '+')
		default:
			b = append(b, '%', upperHex[c>>4], upperHex[c&15])
		}
	}
	return b
}

// lowerPercent returns s with every %XX escape in lowercase hex digits.
func lowerPercent(s []byte) []byte {
	b := bytes.Clone(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1] = lowerHex(b[i+1])
			b[i+2] = lowerHex(b[i+2])
			i += 2
		}
	}
	return b
}

func lowerHex(c byte) byte {
	if c >= 'A' && c <= 'F' {
		return c + 'a' - 'A'
	}
	return c
}

// jsonForms returns v escaped as the body of a JSON string the ways common
// encoders write it: encoding/json with and without HTML escaping, the same
// with every non-ASCII character as \uXXXX (lower and upper hex), the PHP
// style that also escapes '/', JavaScript's (U+2028 and U+2029 raw),
// Python's (DEL escaped), Gson's and System.Text.Json's.
func jsonForms(v []byte) []string {
	html := jsonEscape(v, true)
	plain := jsonEscape(v, false)
	asciiHTML := asciiEscape(html)
	asciiPlain := asciiEscape(plain)
	return []string{
		html, plain,
		asciiHTML, asciiPlain,
		upperUnicodeEscapes(asciiHTML), upperUnicodeEscapes(asciiPlain),
		strings.ReplaceAll(asciiPlain, "/", `\/`),
		// JavaScript's JSON.stringify: U+2028 and U+2029 written raw.
		lineSeparatorsRaw.Replace(plain),
		// Python's json.dumps: DEL escaped too.
		strings.ReplaceAll(asciiPlain, "\x7f", `\u007f`),
		gsonEscapes.Replace(plain),
		dotnetEscapes.Replace(upperUnicodeEscapes(asciiPlain)),
	}
}

// gsonEscapes are the escapes Gson (Java) adds by default to the plain
// ones: < > & = and ' as \uXXXX, lower-case digits.
var gsonEscapes = strings.NewReplacer("<", `\u003c`, ">", `\u003e`, "&", `\u0026`, "=", `\u003d`, "'", `\u0027`)

// dotnetEscapes are the escapes System.Text.Json's default encoder
// (ASP.NET Core) adds to the plain ones, applied to the plain escapes with
// every non-ASCII character as \uXXXX in upper-case digits: '"' as \u0022
// rather than \", and < > & ' + and ` as \uXXXX. In a JSON string body a
// '"' is always escaped, so every \" there is an escaped quote.
var dotnetEscapes = strings.NewReplacer(`\"`, `\u0022`, "<", `\u003C`, ">", `\u003E`, "&", `\u0026`,
	"'", `\u0027`, "+", `\u002B`, "`", `\u0060`)

// htmlEscapers write & < > " and ' as HTML and XML escapers do, each with
// its own spelling of the quotes (or none).
var htmlEscapers = []*strings.Replacer{
	// Go html.EscapeString, html/template and xml.EscapeText; Jinja2.
	strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;"),
	// Python html.escape, Django.
	strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#x27;"),
	// PHP htmlspecialchars (ENT_QUOTES, the default since PHP 8.1).
	strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#039;"),
	// Ruby CGI.escapeHTML and ERB, Spring HtmlUtils.
	strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;"),
	// XML's named entities: .NET SecurityElement.Escape, Java XML writers.
	strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;"),
	// '"' only: Python saxutils.quoteattr, Apache Commons escapeHtml4.
	strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;"),
	// Quotes kept: text content (Python saxutils.escape).
	strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;"),
}

// htmlForms returns v as every escaper of htmlEscapers writes it, without
// repeats; none for a value with nothing to escape.
func htmlForms(v []byte) []string {
	if !bytes.ContainsAny(v, `&<>"'`) {
		return nil
	}
	var out []string
	for _, r := range htmlEscapers {
		f := r.Replace(string(v))
		if f != string(v) && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// lineSeparatorsRaw undoes encoding/json's escapes of U+2028 and U+2029.
var lineSeparatorsRaw = strings.NewReplacer(`\u2028`, "\u2028", `\u2029`, "\u2029")

func jsonEscape(v []byte, html bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(html)
	if err := enc.Encode(string(v)); err != nil {
		return ""
	}
	s := b.String()
	// Encode writes "…"\n; keep what is between the quotes.
	return s[1 : len(s)-2]
}

// asciiEscape rewrites every non-ASCII character of s as a \uXXXX escape
// (a surrogate pair beyond the basic plane).
func asciiEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < utf8.RuneSelf:
			b.WriteRune(r)
		case r > 0xFFFF:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

// upperUnicodeEscapes rewrites the hex digits of every \uXXXX escape of the
// JSON string body s in upper case.
func upperUnicodeEscapes(s string) string {
	b := []byte(s)
	for i := 0; i+1 < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if b[i+1] == 'u' && i+5 < len(b) {
			copy(b[i+2:i+6], bytes.ToUpper(b[i+2:i+6]))
			i += 5
			continue
		}
		i++ // skip the escaped character, e.g. the second '\' of `\\`
	}
	return string(b)
}
