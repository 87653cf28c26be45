// Package redact removes secrets, in every common encoding, from data on its
// way to an agent: response headers and bodies, process output. Each
// occurrence becomes Replacement.
//
// # Forms covered
//
// A Set is built from secret values (NewSet). Each value is expanded into
// its forms (Forms lists them):
//
//   - the raw bytes;
//   - base64, standard and URL-safe, with and without padding;
//   - the base64 characters that depend on the secret alone when it sits at
//     byte offset 0, 1 or 2 of a longer base64 stream, so a secret embedded
//     in an encoded blob is caught too — for instance the password inside a
//     Basic-auth header, base64("user:" + secret); fragments shorter than 6
//     characters are not used;
//   - standard base64 of the secret alone, wrapped at 76 columns (MIME: GNU
//     base64, Python base64.encodebytes) and at 64 (PEM: openssl base64),
//     with LF or CRLF line ends, for secrets long enough to wrap;
//   - hex, lower and upper case, and lower case wrapped at 60 columns as
//     xxd -p writes it;
//   - URL escapes: the character sets of url.QueryEscape, url.PathEscape,
//     URL.EscapedPath and a URL's user info (url.UserPassword), RFC 3986 (Python quote(s, safe=""), curl, PHP
//     rawurlencode), Python quote(s) (which keeps '/'), JavaScript
//     encodeURIComponent and encodeURI, form encoding (URLSearchParams,
//     Java URLEncoder) and PHP urlencode; each with a space as %20 or '+'
//     and with upper- and lower-case %XX digits. A secret with nothing to
//     escape adds no URL form, one made of letters, digits and "+/=" adds
//     six;
//   - JSON string escapes: encoding/json with and without HTML escaping
//     (\u003c for <), with non-ASCII characters as \uXXXX (lower and upper
//     hex digits), with '/' escaped as \/, with U+2028 and U+2029 raw
//     (JavaScript's JSON.stringify), with DEL as \u007f (Python), as Gson
//     writes them (< > & = ' as \u escapes) and as System.Text.Json's
//     default encoder does (ASP.NET Core: also + and `, '"' as \u0022,
//     every non-ASCII character, upper-case digits);
//   - nested JSON: each of those JSON escapes that differs from the raw
//     value, escaped again by each of those encoders, as a JSON document
//     nested in a JSON string holds it (an error detail, a webhook
//     payload): '"' becomes \\\" and '\' becomes \\\\, and every stretch
//     between two such characters may be shorter than a partial run. A
//     secret JSON writes unchanged (letters, digits, '-', '_') adds none;
//   - HTML and XML entities for & < > " and ', with each common spelling
//     of the quotes (&#34; &quot;, &#39; &#x27; &#039; &apos;, or kept),
//     as Go's html package, Python's html.escape, PHP's htmlspecialchars
//     and XML writers put a value in a page or a document;
//   - for a non-ASCII secret, its bytes misread as Latin-1 and written back
//     as UTF-8 (Python's http.server), raw and JSON-escaped;
//   - the raw value upper-cased and lower-cased (Unicode case mapping),
//     when that changes it, as an upstream that changes the case of what it
//     echoes writes it (INVALID KEY SK_LIVE_...). Hex needs no more: a
//     case-changed hex echo is the lower- or upper-case hex form. Base64
//     gets none: case-changed base64 is no longer the secret;
//   - UTF-16LE and UTF-16BE, as PowerShell redirection, Windows tools and
//     Java or .NET APIs write text: an ASCII secret with a NUL byte after
//     (LE) or before (BE) each character. An occurrence made of UTF-16
//     forms alone is replaced by Replacement in UTF-16, its characters and
//     NULs where the echo had its characters and NULs, and of a length of
//     the same parity (the form of the other byte order matches there too,
//     taking a NUL next to the echo), so that the text reads the marker
//     and the rest of it keeps its alignment. The case-changed and UTF-16
//     forms are made only for a secret that is valid UTF-8;
//   - partial echoes: any run of PartialRun (16) or more consecutive bytes of
//     the raw value, of its upper- or lower-case form, of its JSON (single
//     or nested) or HTML escapes, of its base64 characters at each offset
//     (standard and URL-safe) or of its hex (either case), and any run of
//     2*PartialRun bytes (PartialRun characters of an ASCII secret) of its
//     UTF-16 forms. These catch encodings wrapped at any column or
//     starting mid-line: every line holding 16 or more characters of the
//     secret's encoding is removed, a shorter piece at a line end may
//     remain. The encoded forms are already whole forms, so this adds no
//     pattern. Secrets shorter than PartialRun are matched as whole values
//     only; in header names runs of the raw, JSON and HTML forms count,
//     the other forms only whole (compared without case, a case-changed
//     run is a run of the raw value).
//
// Overlapping or adjacent occurrences are merged and replaced once, so an
// echoed stretch of a secret becomes a single Replacement. Results do not
// depend on how the data is split: a stream gives the same output and count
// as Set.Redact over the whole of it.
//
// # Matching
//
// Every occurrence is at least as long as the shortest form (or PartialRun),
// so the scanner samples a 4-byte gram at a fixed stride no greater than that
// length minus 3 and tests it against a bitset of the grams of every form.
// Only a sample whose gram belongs to some form is verified, by comparing the
// forms holding that gram at that alignment. Text without secrets costs a
// load, a multiply and a bit test every dozen bytes or so.
//
// # Streaming and memory bound
//
// Set.NewWriter and Set.NewReader redact a stream of any length. A secret
// split across writes, reads or HTTP chunks is still found: the stream keeps
// the last bytes seen (as many as the longest form) as context for the next
// input. Output is released as soon as it is final: after each input only
// the bytes that could begin an occurrence completed by later input are held
// back — usually none or a few — so server-sent events pass through event by
// event. Memory is bounded by the longest form plus one input chunk (32 KiB),
// whatever the length of the stream. Writer.Close and the end of a Reader's
// input release the held tail. When the underlying reader fails, the held
// tail is discarded instead of being released unchecked.
//
// # Decoding policy
//
// A compressed body cannot be scanned. DecodeBody decodes gzip (and
// x-gzip), deflate (zlib-wrapped as the HTTP specification says, or raw as
// some servers send it), identity, and lists of these, and removes
// Content-Encoding and Content-Length, since what is passed on is the
// decoded, redacted body. Any other encoding (br, zstd, compress, ...) gives
// ErrUnsupportedEncoding: the response must be refused, never passed through
// unscanned. Requests should ask for identity first (AcceptEncoding).
//
// A Set is immutable and safe for concurrent use; a Writer or Reader is for
// one goroutine.
package redact
