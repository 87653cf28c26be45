package redact

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// PartialRun is the length of the shortest echo of a secret that is
// removed: any run of PartialRun or more consecutive bytes of a secret
// (raw or JSON-escaped) counts as an echo of it.
const PartialRun = 16

// minAlignedLen is the shortest base64 fragment kept for a secret embedded
// at an offset inside a longer base64 stream; shorter fragments would match
// unrelated base64 text too often to be useful.
const minAlignedLen = 6

// Forms returns every whole-value form of secret that a Set built from it
// removes: the raw bytes, base64 (standard and URL-safe, padded and not,
// and the fragments that appear when the secret sits at any byte offset of
// a longer base64 stream, as in a Basic-auth header), hex in both cases,
// URL escapes and JSON string escapes. Partial echoes (runs of PartialRun
// or more bytes of the raw or JSON-escaped value) are matched in addition
// and are not listed. The result has no duplicates.
func Forms(secret []byte) [][]byte {
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
	for _, f := range urlForms(secret) {
		add([]byte(f))
	}
	for _, f := range jsonForms(secret) {
		add([]byte(f))
	}
	return forms
}

// partialForms returns the forms of secret whose runs of PartialRun or more
// bytes are echoes: the raw value and its JSON escapes.
func partialForms(secret []byte) [][]byte {
	if len(secret) < PartialRun {
		return nil
	}
	out := [][]byte{secret}
	for _, f := range jsonForms(secret) {
		if len(f) >= PartialRun {
			out = append(out, []byte(f))
		}
	}
	return out
}

var base64Encodings = []*base64.Encoding{
	base64.StdEncoding, base64.RawStdEncoding,
	base64.URLEncoding, base64.RawURLEncoding,
}

func base64Forms(v []byte) [][]byte {
	var out [][]byte
	for _, enc := range base64Encodings {
		out = append(out, []byte(enc.EncodeToString(v)))
	}
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		for lead := 0; lead < 3; lead++ {
			if f := alignedBase64(enc, v, lead); len(f) >= minAlignedLen {
				out = append(out, f)
			}
		}
	}
	return out
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

func urlForms(v []byte) []string {
	q := url.QueryEscape(string(v))
	p := url.PathEscape(string(v))
	return []string{q, p, lowerPercent(q), lowerPercent(p)}
}

// lowerPercent rewrites every %XX escape of s with lowercase hex digits.
func lowerPercent(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1] = lowerHex(b[i+1])
			b[i+2] = lowerHex(b[i+2])
			i += 2
		}
	}
	return string(b)
}

func lowerHex(c byte) byte {
	if c >= 'A' && c <= 'F' {
		return c + 'a' - 'A'
	}
	return c
}

// jsonForms returns v escaped as the body of a JSON string the ways common
// encoders write it: encoding/json with and without HTML escaping, the same
// with every non-ASCII character as \uXXXX (lower and upper hex), and the
// PHP style that also escapes '/'.
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
	}
}

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
