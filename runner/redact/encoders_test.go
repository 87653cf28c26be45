package redact_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	mathrand "math/rand/v2"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/The-17/agentsecrets/runner/redact"
)

// Secrets of the encoder tests. The expected echoes below are literal
// outputs of the tools named (python3 urllib.parse, node, GNU base64,
// openssl base64, xxd -p), not computed by the package's code.
const (
	b64Key   = "Tk9+x/Qz=Ab+Cd/Ef"
	punctKey = `sk_live_Abc+Def/Ghi=Jkl"Mno<Pq>r&s  t!u*v(w)x~y$z:@;,?#[]%`
	// Lengths 84, 63 and 50: wrapped at 76 and at 64 columns, the last two
	// leaving a final line shorter than a partial run.
	longKey  = "sk_live_51Hx9+Qw/ErTy=Ui0pAsDfGhJkLzXcVbNm1234567890abcdefghijklmnopqrstuvwxyzABCDEF"
	key63    = "AKIAxxxxxxx+y/zzzz=0123456789abcdefghijklmnopqrstuvwxyzABCDEFGH"
	pemKey50 = "ghp_R2d2+C3p0/Bb8=0123456789abcdefghijKLMNOPQRSTUV"
)

// encoderCase is a body holding one echo of secret as some tool writes it.
type encoderCase struct {
	name   string
	secret string
	body   string
	count  int // replacements expected; -1 when not determinable
}

// crlf rewrites the line ends of s as CRLF.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

func urlEncoderCases() []encoderCase {
	get := func(v string) string { return "GET /v1/charges?key=" + v + "&limit=10 HTTP/1.1\r\n" }
	return []encoderCase{
		// python3 -c 'from urllib.parse import quote; print(quote(s))'
		{"python quote", b64Key, get("Tk9%2Bx/Qz%3DAb%2BCd/Ef"), 1},
		{"python quote lower hex", b64Key, get("Tk9%2bx/Qz%3dAb%2bCd/Ef"), 1},
		{"python quote safe empty lower hex", b64Key, get("Tk9%2bx%2fQz%3dAb%2bCd%2fEf"), 1},
		{"python quote punctuation", punctKey, get("sk_live_Abc%2BDef/Ghi%3DJkl%22Mno%3CPq%3Er%26s%20%20t%21u%2Av%28w%29x~y%24z%3A%40%3B%2C%3F%23%5B%5D%25"), 1},
		{"python quote safe empty", punctKey, get("sk_live_Abc%2BDef%2FGhi%3DJkl%22Mno%3CPq%3Er%26s%20%20t%21u%2Av%28w%29x~y%24z%3A%40%3B%2C%3F%23%5B%5D%25"), 1},
		{"python quote_plus", punctKey, get("sk_live_Abc%2BDef%2FGhi%3DJkl%22Mno%3CPq%3Er%26s++t%21u%2Av%28w%29x~y%24z%3A%40%3B%2C%3F%23%5B%5D%25"), 1},
		// node -e 'console.log(encodeURIComponent(s))'
		{"js encodeURIComponent", punctKey, get("sk_live_Abc%2BDef%2FGhi%3DJkl%22Mno%3CPq%3Er%26s%20%20t!u*v(w)x~y%24z%3A%40%3B%2C%3F%23%5B%5D%25"), 1},
		{"js encodeURIComponent lower hex", punctKey, get("sk_live_Abc%2bDef%2fGhi%3dJkl%22Mno%3cPq%3er%26s%20%20t!u*v(w)x~y%24z%3a%40%3b%2c%3f%23%5b%5d%25"), 1},
		{"js encodeURI", punctKey, "Location: https://cb.example/sk_live_Abc+Def/Ghi=Jkl%22Mno%3CPq%3Er&s%20%20t!u*v(w)x~y$z:@;,?#%5B%5D%25\r\n", 1},
		{"js URLSearchParams", punctKey, "k=sk_live_Abc%2BDef%2FGhi%3DJkl%22Mno%3CPq%3Er%26s++t%21u*v%28w%29x%7Ey%24z%3A%40%3B%2C%3F%23%5B%5D%25&n=1", 1},
		{"php urlencode", punctKey, "k=sk_live_Abc%2BDef%2FGhi%3DJkl%22Mno%3CPq%3Er%26s++t%21u%2Av%28w%29x%7Ey%24z%3A%40%3B%2C%3F%23%5B%5D%25&n=1", 1},
		{"rfc 3986 in json", punctKey, `{"next":"https://api.example/x?k=sk_live_Abc%2BDef%2FGhi%3DJkl%22Mno%3CPq%3Er%26s%20%20t%21u%2Av%28w%29x~y%24z%3A%40%3B%2C%3F%23%5B%5D%25"}`, 1},
	}
}

func wrappedCases() []encoderCase {
	// printf %s "$SECRET" | base64 (python3 base64.encodebytes is the same)
	mime84 := "c2tfbGl2ZV81MUh4OStRdy9FclR5PVVpMHBBc0RmR2hKa0x6WGNWYk5tMTIzNDU2Nzg5MGFiY2Rl\nZmdoaWprbG1ub3BxcnN0dXZ3eHl6QUJDREVG\n"
	mime63 := "QUtJQXh4eHh4eHgreS96enp6PTAxMjM0NTY3ODlhYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ekFC\nQ0RFRkdI\n"
	// printf %s "$SECRET" | openssl base64
	pem84 := "c2tfbGl2ZV81MUh4OStRdy9FclR5PVVpMHBBc0RmR2hKa0x6WGNWYk5tMTIzNDU2\nNzg5MGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6QUJDREVG\n"
	pem63 := "QUtJQXh4eHh4eHgreS96enp6PTAxMjM0NTY3ODlhYmNkZWZnaGlqa2xtbm9wcXJz\ndHV2d3h5ekFCQ0RFRkdI\n"
	pem50 := "Z2hwX1IyZDIrQzNwMC9CYjg9MDEyMzQ1Njc4OWFiY2RlZmdoaWpLTE1OT1BRUlNU\nVVY=\n"
	// printf %s "$SECRET" | xxd -p
	xxd84 := "736b5f6c6976655f35314878392b51772f457254793d5569307041734466\n47684a6b4c7a586356624e6d313233343536373839306162636465666768\n696a6b6c6d6e6f707172737475767778797a414243444546\n"
	xxd63 := "414b4941787878787878782b792f7a7a7a7a3d3031323334353637383961\n62636465666768696a6b6c6d6e6f707172737475767778797a4142434445\n464748\n"
	shell := func(cmd, out string) string { return "$ " + cmd + "\n" + out + "$ echo done\n" }
	pem := func(out string) string { return "-----BEGIN API KEY-----\n" + out + "-----END API KEY-----\n" }
	mimePart := func(out string) string {
		return crlf("Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n" + out + "--boundary--\n")
	}
	embedded := func(prefix, secret string, width int, eol string) string {
		e := base64.StdEncoding.EncodeToString([]byte(prefix + secret + "\n# end of file\n"))
		return "data:\n" + wrap(e, width, eol) + eol
	}
	xxdEmbedded := func(prefix, secret string) string {
		return wrap(hex.EncodeToString([]byte(prefix+secret+"\nOTHER=1\n")), 60, "\n") + "\n"
	}
	return []encoderCase{
		{"gnu base64 84 bytes", longKey, shell(`printf %s "$KEY" | base64`, mime84), 1},
		{"gnu base64 63 bytes, short last line", key63, shell(`printf %s "$KEY" | base64`, mime63), 1},
		{"mime crlf 84 bytes", longKey, mimePart(mime84), 1},
		{"mime crlf 63 bytes", key63, mimePart(mime63), 1},
		{"openssl base64 84 bytes", longKey, shell(`printf %s "$KEY" | openssl base64`, pem84), 1},
		{"pem 63 bytes", key63, pem(pem63), 1},
		{"pem 50 bytes, wraps at 64 only", pemKey50, pem(pem50), 1},
		{"pem crlf 50 bytes", pemKey50, crlf(pem(pem50)), 1},
		{"pem crlf 84 bytes", longKey, crlf(pem(pem84)), 1},
		{"xxd -p 84 bytes", longKey, shell(`printf %s "$KEY" | xxd -p`, xxd84), 1},
		{"xxd -p 63 bytes, short last line", key63, shell(`printf %s "$KEY" | xxd -p`, xxd63), 1},
		// Not at a line start: the partial-run safety net catches every
		// run of 16 or more characters of the encoding.
		{"base64 of user:secret wrapped at 76", longKey, embedded("user:", longKey, 76, "\n"), -1},
		{"base64 of an env file wrapped at 64 crlf", key63, embedded("API_KEY=", key63, 64, "\r\n"), -1},
		{"base64 of a file wrapped at 76, secret across a line end", testSecret, embedded(strings.Repeat("# padding line\n", 3)+"KEY=", testSecret, 76, "\n"), -1},
		{"xxd -p of an env file", longKey, xxdEmbedded("API_KEY=", longKey), -1},
		{"xxd -p of an env file, secret across a line end", testSecret, xxdEmbedded("K=", testSecret), -1},
	}
}

// TestRedactOtherEncoders checks echoes written by URL escapers of other
// languages and by line-wrapping base64 and hex encoders, whole and split
// at every boundary, byte by byte and in random chunks.
func TestRedactOtherEncoders(t *testing.T) {
	rng := mathrand.New(mathrand.NewPCG(21, 22))
	for _, tc := range append(urlEncoderCases(), wrappedCases()...) {
		t.Run(tc.name, func(t *testing.T) {
			if len(leaks([]byte(tc.body), tc.secret)) == 0 {
				t.Fatalf("case does not echo the secret")
			}
			set := redact.NewSet([]byte(tc.secret), []byte("second-secret-for-the-set"))
			body := []byte(tc.body)
			want, wantN := set.Redact(body)
			if got := leaks(want, tc.secret); len(got) > 0 {
				t.Fatalf("leaked %v in %q", got, want)
			}
			if tc.count >= 0 && wantN != tc.count {
				t.Errorf("count = %d, want %d (output %q)", wantN, tc.count, want)
			}
			if replacements(want) != wantN {
				t.Errorf("count %d does not match the replacements in %q", wantN, want)
			}
			check := func(how string, out []byte, n int, err error) {
				t.Helper()
				if err != nil {
					t.Fatalf("%s: %v", how, err)
				}
				if !bytes.Equal(out, want) || n != wantN {
					t.Fatalf("%s: got %q (%d), want %q (%d)", how, out, n, want, wantN)
				}
			}
			forEveryChunking(rng, set, body, 10, check)
		})
	}
}

// TestWrappedWholeValue: a wrapped encoding starting at a line start is one
// replacement covering every line, the short last one included.
func TestWrappedWholeValue(t *testing.T) {
	set := redact.NewSet([]byte(key63))
	body := "$ printf %s \"$KEY\" | base64\n" +
		"QUtJQXh4eHh4eHgreS96enp6PTAxMjM0NTY3ODlhYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ekFC\nQ0RFRkdI\n$ "
	out, n := set.RedactString(body)
	if want := "$ printf %s \"$KEY\" | base64\n" + redact.Replacement + "\n$ "; out != want || n != 1 {
		t.Fatalf("got %q, %d; want %q, 1", out, n, want)
	}
}

// TestURLFormsDeduplicated: a secret with nothing to escape adds no URL
// form, and one with the base64 alphabet's specials adds few.
func TestURLFormsDeduplicated(t *testing.T) {
	plain := redact.Forms([]byte("abcdefghijklmnopqrstuvwxyz_-.0123"))
	for _, f := range plain {
		if bytes.Contains(f, []byte("%")) {
			t.Errorf("plain secret has form %q", f)
		}
	}
	var escaped int
	for _, f := range redact.Forms([]byte(b64Key)) {
		if bytes.Contains(f, []byte("%")) {
			escaped++
		}
	}
	// '/' kept or escaped, '+' and '=' kept or escaped, in two hex cases.
	if escaped != 6 {
		t.Errorf("%d URL forms of %q, want 6", escaped, b64Key)
	}
}

// TestEncodedTextNotRedacted: ordinary wrapped base64, PEM, hex dumps and
// URL-escaped text, and text ending with the start of an encoded secret,
// pass unchanged whole and in chunks.
func TestEncodedTextNotRedacted(t *testing.T) {
	secrets := []string{b64Key, punctKey, longKey, key63, pemKey50, testSecret}
	var raw [][]byte
	for _, s := range secrets {
		raw = append(raw, []byte(s))
	}
	set := redact.NewSet(raw...)
	random := make([]byte, 6000)
	rand.Read(random)
	b64 := base64.StdEncoding.EncodeToString(random)
	h := hex.EncodeToString(random[:3000])
	bodies := map[string]string{
		"mime base64":        crlf(wrap(b64, 76, "\n")),
		"pem certificate":    "-----BEGIN CERTIFICATE-----\n" + wrap(b64, 64, "\n") + "\n-----END CERTIFICATE-----\n",
		"xxd -p dump":        wrap(h, 60, "\n") + "\n",
		"url-escaped text":   "GET /search?q=caf%C3%A9+au+lait&redirect=https%3a%2f%2fexample.com%2f%3fa%3db%2bc&k=Tk9%2Bx%2FQz HTTP/1.1\r\n",
		"base64 line starts": "a\n" + wrap(base64.StdEncoding.EncodeToString([]byte(longKey)), 76, "\n")[:15] + "\n",
		"xxd line start":     hex.EncodeToString([]byte(key63))[:15] + "\n" + hex.EncodeToString([]byte(key63))[60:75],
		"escaped prefix":     "k=sk_live_Abc%2BDef%2FG&n=1",
	}
	rng := mathrand.New(mathrand.NewPCG(23, 24))
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			for _, s := range secrets {
				if got := leaks([]byte(body), s); len(got) > 0 {
					t.Fatalf("fixture holds a form of %q: %v", s, got)
				}
			}
			out, n := set.Redact([]byte(body))
			if n != 0 || string(out) != body {
				t.Fatalf("Redact changed the text (%d replacements): %q", n, out)
			}
			for _, sizes := range [][]int{{1}, {7, 1, 3}, randomSizes(rng, 16, 500)} {
				out, n, err := viaReader(set, []byte(body), sizes)
				if err != nil || n != 0 || string(out) != body {
					t.Fatalf("reader with chunks %v changed the text (%d replacements, %v)", sizes[:min(3, len(sizes))], n, err)
				}
				out, n, err = viaWriter(set, []byte(body), sizes)
				if err != nil || n != 0 || string(out) != body {
					t.Fatalf("writer with chunks %v changed the text (%d replacements, %v)", sizes[:min(3, len(sizes))], n, err)
				}
			}
		})
	}
}

// TestLatin1Misread: a server that reads header bytes as Latin-1 and
// writes them back as UTF-8 (Python's http.server, Werkzeug) turns each
// non-ASCII byte into two; that echo, raw and JSON-escaped, is redacted.
func TestLatin1Misread(t *testing.T) {
	secret := "tok-üñí-çødé-9876"
	var misread []byte
	for _, c := range []byte(secret) {
		misread = utf8.AppendRune(misread, rune(c))
	}
	jsonMisread, _ := json.Marshal(string(misread))
	set := redact.NewSet([]byte(secret))
	for _, body := range []string{
		"cred=" + string(misread) + "\n",
		`{"X-K":` + asciiJSON(string(misread)) + `}`,
		`{"X-K":` + string(jsonMisread) + `}`,
	} {
		out, n := set.RedactString(body)
		if n == 0 || strings.Contains(out, "9876") {
			t.Errorf("misread echo not redacted: %q -> %q", body, out)
		}
	}
}

// asciiJSON is s as Python's json.dumps writes it: a JSON string with every
// non-ASCII character as \uXXXX.
func asciiJSON(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		if r < utf8.RuneSelf {
			b.WriteRune(r)
			continue
		}
		fmt.Fprintf(&b, `\u%04x`, r)
	}
	b.WriteByte('"')
	return b.String()
}

// TestUserInfoEscape: a password echoed inside a URL's user info, escaped
// the way Go's url.UserPassword writes it (':', '@' and '/' escaped, ';',
// ',' and '$' kept, unlike any query or path escaper), is redacted.
func TestUserInfoEscape(t *testing.T) {
	const secret = "pa@s:w/r;d,x$yq@z:k/m;n,o$t" // no long unescaped run
	dsn := (&url.URL{Scheme: "postgres", User: url.UserPassword("app", secret), Host: "db:5432", Path: "/app"}).String()
	got, n := redact.NewSet([]byte(secret)).RedactString("connecting to " + dsn)
	if n != 1 || strings.Contains(got, "w%2Fr;d,x$yq") {
		t.Errorf("%d replacements in %q", n, got)
	}
}

// TestJSONEncoderVariants: JSON string escapes other encoders write and
// encoding/json does not — DEL as \u007f (Python's json.dumps), U+2028
// left raw (JavaScript's JSON.stringify) — are redacted, for secrets too
// short to be caught by a partial run.
func TestJSONEncoderVariants(t *testing.T) {
	tests := []struct{ name, secret, echo string }{
		{"python DEL", "k\x7f\"q\x7f\\z", `{"k":"k\u007f\"q\u007f\\z"}`},
		{"javascript line separator", "ab\u2028\"cd\u2029e", "{\"k\":\"ab\u2028\\\"cd\u2029e\"}"},
		// Gson 2.10 (Java), new Gson().toJson(s): < > & = ' as \u escapes.
		{"gson", "p=ss&w0rd'x", `{"k":"p\u003dss\u0026w0rd\u0027x"}`},
		// System.Text.Json's default encoder (ASP.NET Core), as its
		// documentation describes it: HTML-sensitive characters, '+' and
		// '`' as \u escapes with upper-case digits, '"' as \u0022, every
		// non-ASCII character escaped. A base64 key's '+' is enough.
		{"system.text.json base64 key", "AbCdEf+GhIjKlMn/OpQr+StUv==", `{"k":"AbCdEf\u002BGhIjKlMn/OpQr\u002BStUv=="}`},
		{"system.text.json punctuation", "p\"s<s>w&r'd`é", `{"k":"p\u0022s\u003Cs\u003Ew\u0026r\u0027d\u0060\u00E9"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, n := redact.NewSet([]byte(tc.secret)).RedactString(tc.echo)
			if n != 1 || got != `{"k":"[REDACTED_BY_AGENTSECRETS]"}` {
				t.Errorf("%d replacements: %q", n, got)
			}
		})
	}
}

// Secrets of the nested JSON tests: every stretch between two characters
// JSON escapes is shorter than a partial run, once escaped and twice.
const (
	nestedKey    = `Tq"8\wZ"k3\Pm"o9\Xr"`   // 20 bytes
	nestedShort  = `ü"9\q<Ä>"x\é`           // 15 bytes: whole forms only
	nestedBase64 = "q+W2e+R4t=Y6u+I8o=P0a+" // '+' and '=' escaped by some encoders
)

// TestNestedJSONEscapes: an upstream that nests a JSON document in a JSON
// string (an error detail, a webhook payload) escapes the secret twice, so
// `"` becomes \\\" and `\` becomes \\\\. Each echo is replaced whole, and
// decoding the output once, then the document it holds, gives no form of
// the secret. The bodies are literal outputs of the tools named.
func TestNestedJSONEscapes(t *testing.T) {
	tests := []struct {
		name, secret, body string
		echo               string // the stretch of body that is replaced
	}{
		// python3: json.dumps({"detail": json.dumps({"api_key": s})})
		{"python json.dumps twice", nestedKey,
			`{"detail": "{\"api_key\": \"Tq\\\"8\\\\wZ\\\"k3\\\\Pm\\\"o9\\\\Xr\\\"\"}"}`,
			`Tq\\\"8\\\\wZ\\\"k3\\\\Pm\\\"o9\\\\Xr\\\"`},
		{"python json.dumps twice, non-ascii", nestedShort,
			`{"detail": "{\"api_key\": \"\\u00fc\\\"9\\\\q<\\u00c4>\\\"x\\\\\\u00e9\"}"}`,
			`\\u00fc\\\"9\\\\q<\\u00c4>\\\"x\\\\\\u00e9`},
		// node: JSON.stringify({detail: JSON.stringify({api_key: s})})
		{"javascript JSON.stringify twice", nestedShort,
			`{"detail":"{\"api_key\":\"ü\\\"9\\\\q<Ä>\\\"x\\\\é\"}"}`,
			`ü\\\"9\\\\q<Ä>\\\"x\\\\é`},
		// go: json.Marshal twice (HTML escaping both times)
		{"go json.Marshal twice", nestedShort,
			`{"detail":"{\"api_key\":\"ü\\\"9\\\\q\\u003cÄ\\u003e\\\"x\\\\é\"}"}`,
			`ü\\\"9\\\\q\\u003cÄ\\u003e\\\"x\\\\é`},
		// go: json.Marshal of the python document (a gateway wrapping an
		// upstream's error)
		{"python document in go json", nestedShort,
			`{"detail":"{\"api_key\": \"\\u00fc\\\"9\\\\q\u003c\\u00c4\u003e\\\"x\\\\\\u00e9\"}"}`,
			`\\u00fc\\\"9\\\\q\u003c\\u00c4\u003e\\\"x\\\\\\u00e9`},
		// System.Text.Json twice, as its documentation describes the
		// default encoder: '+' as \u002B, '"' as \u0022.
		{"system.text.json twice", nestedBase64,
			`{"detail":"{\u0022api_key\u0022:\u0022q\\u002BW2e\\u002BR4t=Y6u\\u002BI8o=P0a\\u002B\u0022}"}`,
			`q\\u002BW2e\\u002BR4t=Y6u\\u002BI8o=P0a\\u002B`},
		// Gson twice: '=' as \u003d.
		{"gson twice", nestedBase64,
			`{"detail":"{\"api_key\":\"q+W2e+R4t\\u003dY6u+I8o\\u003dP0a+\"}"}`,
			`q+W2e+R4t\\u003dY6u+I8o\\u003dP0a+`},
		// A partial echo (18 bytes of the secret) of the go form.
		{"partial echo, escaped twice", nestedKey,
			`{"detail":"{\"error\":\"key q\\\"8\\\\wZ\\\"k3\\\\Pm\\\"o9\\\\Xr is revoked\"}"}`,
			`q\\\"8\\\\wZ\\\"k3\\\\Pm\\\"o9\\\\Xr`},
	}
	rng := mathrand.New(mathrand.NewPCG(25, 26))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !json.Valid([]byte(tc.body)) || !strings.Contains(tc.body, tc.echo) {
				t.Fatal("bad fixture")
			}
			set := redact.NewSet([]byte(tc.secret), []byte("second-secret-for-the-set"))
			got, n := set.RedactString(tc.body)
			if want := strings.Replace(tc.body, tc.echo, redact.Replacement, 1); n != 1 || got != want {
				t.Fatalf("%d replacements: %q, want %q", n, got, want)
			}
			// Decoded once, the output holds a JSON document; decoded
			// twice, plain strings.
			var outer struct{ Detail string }
			if err := json.Unmarshal([]byte(got), &outer); err != nil {
				t.Fatalf("output is no longer JSON: %v", err)
			}
			if l := leaks([]byte(outer.Detail), tc.secret); len(l) > 0 {
				t.Errorf("decoded once, the output leaks %v: %q", l, outer.Detail)
			}
			var inner map[string]string
			if err := json.Unmarshal([]byte(outer.Detail), &inner); err != nil {
				t.Fatalf("decoded output is no longer JSON: %v", err)
			}
			for k, v := range inner {
				if l := leaks([]byte(v), tc.secret); len(l) > 0 || strings.Contains(v, tc.secret) {
					t.Errorf("decoded twice, %s leaks %v: %q", k, l, v)
				}
			}
			forEveryChunking(rng, set, []byte(tc.body), 5, func(how string, out []byte, n int, err error) {
				t.Helper()
				if err != nil || string(out) != got || n != 1 {
					t.Fatalf("%s: got %q (%d, %v), want %q (1)", how, out, n, err, got)
				}
			})
		})
	}
}

// TestNestedJSONFormsOnlyWhenEscaped: a secret JSON writes unchanged
// (letters, digits, '-', '_') has no JSON form, so no nested one either.
func TestNestedJSONFormsOnlyWhenEscaped(t *testing.T) {
	for _, secret := range []string{"sk_live_51HxQwErTyUi0pAsDfGhJkLz", "ghp_abc-DEF_123", "k"} {
		for _, f := range redact.Forms([]byte(secret)) {
			if bytes.ContainsRune(f, '\\') {
				t.Errorf("secret %q has form %q", secret, f)
			}
		}
	}
}

// TestHTMLEntityEscapes: a secret echoed in an HTML page or an XML
// document (an error page, a login form filled again, a SOAP fault) has
// & < > " and ' written as entities, each escaper with its own spelling
// of the quotes. Every piece between two entities may be shorter than a
// partial run, so these are whole forms of their own.
func TestHTMLEntityEscapes(t *testing.T) {
	tests := []struct{ name, secret, echo string }{
		// python3 html.escape(s)
		{"python html.escape", "p=ss&w0rd'x", "p=ss&amp;w0rd&#x27;x"},
		{"python html.escape quotes", `a<b>c"d'e&f`, "a&lt;b&gt;c&quot;d&#x27;e&amp;f"},
		// go html.EscapeString(s), html/template, xml.EscapeText
		{"go html.EscapeString", "p=ss&w0rd'x", "p=ss&amp;w0rd&#39;x"},
		{"go html.EscapeString quotes", `a<b>c"d'e&f`, "a&lt;b&gt;c&#34;d&#39;e&amp;f"},
		// python3 xml.sax.saxutils.escape(s) and quoteattr(s)
		{"python saxutils.escape", `a<b>c"d'e&f`, `a&lt;b&gt;c"d'e&amp;f`},
		{"python saxutils.quoteattr", `a<b>c"d'e&f`, `a&lt;b&gt;c&quot;d'e&amp;f`},
		// PHP htmlspecialchars($s) since 8.1 (ENT_QUOTES)
		{"php htmlspecialchars", "p=ss&w0rd'x", "p=ss&amp;w0rd&#039;x"},
		// XML's named entities (.NET SecurityElement.Escape)
		{"xml named entities", `a<b>c"d'e&f`, "a&lt;b&gt;c&quot;d&apos;e&amp;f"},
		// Both pieces around the entity are shorter than a partial run.
		{"form filled again", "Tr0ub4dor&3-horse-battery", "Tr0ub4dor&amp;3-horse-battery"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := `<input name="password" value="` + tc.echo + `">`
			got, n := redact.NewSet([]byte(tc.secret)).RedactString(body)
			if want := `<input name="password" value="` + redact.Replacement + `">`; n != 1 || got != want {
				t.Errorf("%d replacements: %q", n, got)
			}
		})
	}
}

// caseKey is the secret of the case and UTF-16 tests: letters of both
// cases, so each case change gives another value.
const caseKey = "sk_live_51HxQwErTyUi0pAsDfGhJkLz"

// TestCaseChangedEchoes: an upstream that upper-cases or lower-cases what
// it echoes (an error message, a case-normalising log) hands back a value
// no other form matches. The whole value and runs of PartialRun bytes of
// it are redacted; hex, already matched in both cases, needs nothing more.
func TestCaseChangedEchoes(t *testing.T) {
	const r = redact.Replacement
	tests := []struct{ name, secret, body, want string }{
		{"upper-cased error", caseKey,
			`{"error":"INVALID API KEY SK_LIVE_51HXQWERTYUI0PASDFGHJKLZ"}`,
			`{"error":"INVALID API KEY ` + r + `"}`},
		{"lower-cased log", caseKey,
			"level=warn msg=\"auth failed\" token=sk_live_51hxqwertyui0pasdfghjklz\n",
			"level=warn msg=\"auth failed\" token=" + r + "\n"},
		{"upper-cased partial echo", caseKey,
			"INVALID KEY SK_LIVE_51HXQWERTYUI0P...",
			"INVALID KEY " + r + "..."},
		{"lower-cased partial echo", caseKey,
			"unknown key '...qwertyui0pasdfghjklz'",
			"unknown key '..." + r + "'"},
		{"short secret upper-cased", "Ab3$xY-q", "bad password AB3$XY-Q", "bad password " + r},
		{"non-ascii upper-cased", "clé-Ünïcode-Sécret-42", "CLÉ-ÜNÏCODE-SÉCRET-42 rejected", r + " rejected"},
		// A server upper-casing a hex echo writes the upper-case hex form.
		{"upper-cased hex", "Ab3$xY-q", "DIGEST 4162332478592D71", "DIGEST " + r},
	}
	rng := mathrand.New(mathrand.NewPCG(27, 28))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set := redact.NewSet([]byte(tc.secret), []byte("second-secret-for-the-set"))
			got, n := set.RedactString(tc.body)
			if got != tc.want || n != 1 {
				t.Fatalf("got %q (%d), want %q (1)", got, n, tc.want)
			}
			forEveryChunking(rng, set, []byte(tc.body), 5, func(how string, out []byte, n int, err error) {
				t.Helper()
				if err != nil || string(out) != got || n != 1 {
					t.Fatalf("%s: got %q (%d, %v), want %q (1)", how, out, n, err, got)
				}
			})
		})
	}
}

// TestCaseFormsNeverShorter: a character whose case change shrinks it (the
// Kelvin sign K, 3 bytes, lower-cases to k) gives no case form: the
// secret's form would be shorter than the secret and remove ordinary text.
func TestCaseFormsNeverShorter(t *testing.T) {
	set := redact.NewSet([]byte("\u212a"))
	if got, n := set.RedactString("kkk key"); got != "kkk key" || n != 0 {
		t.Fatalf("got %q (%d), want the text unchanged", got, n)
	}
	if got, n := set.RedactString("x\u212ay"); got != "x"+redact.Replacement+"y" || n != 1 {
		t.Fatalf("the secret itself: got %q (%d)", got, n)
	}
}

// TestUTF16Echoes: a body or a child process's output in UTF-16
// (PowerShell redirection, Windows tools, Java and .NET APIs) holds the
// secret with a NUL byte after (LE) or before (BE) each ASCII character.
// The whole value and runs of PartialRun characters are redacted; the text
// around is kept but for a NUL byte next to the replacement.
func TestUTF16Echoes(t *testing.T) {
	tests := []struct {
		name, secret, bom, before, echo, after string
		be                                     bool
	}{
		// PowerShell 5.1: "Key: $k" > out.txt writes UTF-16LE with a BOM.
		{"powershell redirection", caseKey, "\xff\xfe", "Key: ", caseKey, "\r\n", false},
		// Java: s.getBytes(StandardCharsets.UTF_16) writes a BOM and BE.
		{"java utf-16", caseKey, "\xfe\xff", `{"key":"`, caseKey, `"}`, true},
		{"utf-16le partial echo", caseKey, "", "invalid key ...", caseKey[4:24], "...\r\n", false},
		{"utf-16be partial echo", caseKey, "", "invalid key ...", caseKey[4:24], "...", true},
		{"short secret", "pw-123!", "", "password=", "pw-123!", "\n", false},
		{"non-ascii secret", "clé-🔑-secret", "", "k=", "clé-🔑-secret", ";", false},
		{"non-ascii secret, utf-16be", "clé-🔑-secret", "", "k=", "clé-🔑-secret", ";", true},
	}
	rng := mathrand.New(mathrand.NewPCG(29, 30))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enc := func(s string) string {
				l, b := utf16Bytes(s)
				if tc.be {
					return b
				}
				return l
			}
			before, after := tc.bom+enc(tc.before), enc(tc.after)
			body := before + enc(tc.echo) + after
			set := redact.NewSet([]byte(tc.secret), []byte("second-secret-for-the-set"))
			got, n := set.RedactString(body)
			if want := before + enc(redact.Replacement) + after; n != 1 || got != want {
				t.Fatalf("got %q (%d), want %q (1): the replacement in UTF-16, the text around it as it was", got, n, want)
			}
			// Behind a prefix of odd length (ASCII before a UTF-16 text),
			// the echo is still replaced, and the text after it keeps
			// its alignment.
			odd, n := set.RedactString("!" + body)
			if n != 1 || len(leaks([]byte(odd), tc.secret)) > 0 || !strings.HasSuffix(odd, after) || (len(odd)-len(got))%2 != 1 {
				t.Fatalf("behind one byte: got %q (%d)", odd, n)
			}
			forEveryChunking(rng, set, []byte(body), 5, func(how string, out []byte, n int, err error) {
				t.Helper()
				if err != nil || string(out) != got || n != 1 {
					t.Fatalf("%s: got %q (%d, %v), want %q (1)", how, out, n, err, got)
				}
			})
		})
	}
}

// TestUTF16ShortRunsKept: fewer than PartialRun characters of a secret in
// UTF-16 (a key prefix, a truncated echo) pass unchanged, and a secret that
// is not valid UTF-8 has no case-changed or UTF-16 form.
func TestUTF16ShortRunsKept(t *testing.T) {
	set := redact.NewSet([]byte(caseKey))
	for _, s := range []string{"sk_live_", caseKey[:15], caseKey[3:18], caseKey[17:]} {
		l, b := utf16Bytes("key " + s + " ok")
		for _, body := range []string{l, b} {
			if got, n := set.RedactString(body); n != 0 || got != body {
				t.Errorf("%q: changed to %q (%d)", body, got, n)
			}
		}
	}
	invalid := []byte("\xffAbCdEf-0123456789-ghIJ")
	for _, f := range redact.Forms(invalid) {
		if bytes.IndexByte(f, 0) >= 0 || bytes.Contains(f, []byte("abcdef")) || bytes.Contains(f, []byte("ABCDEF")) {
			t.Errorf("invalid UTF-8 secret has form %q", f)
		}
	}
}
