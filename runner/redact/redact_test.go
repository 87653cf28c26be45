package redact_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/The-17/agentsecrets/runner/redact"
)

// echoCase is a response body echoing the test secret in some form.
type echoCase struct {
	name  string
	body  string
	count int // replacements expected; -1 when not determinable
}

func echoCases(t *testing.T) []echoCase {
	t.Helper()
	s := testSecret
	b := []byte(s)
	marshal := func(html bool) string {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(html)
		if err := enc.Encode(struct {
			Key  string `json:"key"`
			Note string `json:"note"`
		}{s, "<echo>"}); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	le := func(v string) string { l, _ := utf16Bytes(v); return l }
	be := func(v string) string { _, b := utf16Bytes(v); return b }
	embedded := func(lead int) string {
		blob := append(append([]byte("0123456789abcdef"[:lead]), b...), "trailing bytes"...)
		return `{"blob":"` + base64.StdEncoding.EncodeToString(blob) + `"}`
	}
	return []echoCase{
		{"raw", "you sent " + s + " as your key", 1},
		{"raw at start and end", s + " and " + s, 2},
		{"base64 std", "token: " + base64.StdEncoding.EncodeToString(b) + ".", 1},
		{"base64 std unpadded", "token: " + base64.RawStdEncoding.EncodeToString(b) + ".", 1},
		{"base64 url", "token: " + base64.URLEncoding.EncodeToString(b) + ".", 1},
		{"base64 url unpadded", "token: " + base64.RawURLEncoding.EncodeToString(b) + ".", 1},
		{"base64 embedded at offset 0", embedded(0), 1},
		{"base64 embedded at offset 1", embedded(1), 1},
		{"base64 embedded at offset 2", embedded(2), 1},
		{"base64 embedded at offset 3", embedded(3), 1},
		{"basic auth echo", "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("user:"+s)) + "\r\n", 1},
		{"hex lower", "digest=" + hex.EncodeToString(b), 1},
		{"hex upper", "digest=" + strings.ToUpper(hex.EncodeToString(b)), 1},
		{"query escape", "https://api.example/x?key=" + url.QueryEscape(s) + "&a=b", 1},
		{"path escape", "https://api.example/keys/" + url.PathEscape(s) + "/x", 1},
		{"lowercase percent escapes", "key=" + lowerEscapes(url.QueryEscape(s)), 1},
		{"python quote", "https://api.example/keys/" + percentExcept(s, "_.-~/", false) + "?x=1", 1},
		{"xxd -p", "$ xxd -p key.txt\n" + wrap(hex.EncodeToString(b), 60, "\n") + "\n$ ", 1},
		{"json marshal", marshal(true), 1},
		{"json marshal without html escaping", marshal(false), 1},
		{"json with non-ascii escaped", `{"key":"` + jsonASCII(jsonBody(s, false)) + `"}`, 1},
		{"partial echo of 16 bytes", "invalid key '" + s[5:21] + "'", 1},
		{"partial echo of 20 bytes", "invalid key '" + s[10:30] + "...'", 1},
		{"partial echo of a json form", `"hint":"` + jsonBody(s, true)[8:30] + `"`, 1},
		{"forms back to back merge", s + base64.StdEncoding.EncodeToString(b) + hex.EncodeToString(b), 1},
		{"overlapping partial echoes merge", s[:20] + s[4:], 1},
		{"upper-cased echo", "INVALID KEY " + strings.ToUpper(s), 1},
		{"lower-cased echo", "key=" + strings.ToLower(s) + " not found", 1},
		{"partial upper-cased echo", "INVALID KEY '" + strings.ToUpper(s[:20]) + "...'", 1},
		{"partial lower-cased echo", "token " + strings.ToLower(s[2:20]) + " revoked", 1},
		{"utf-16le", le("Key: " + s + "\r\n"), 1},
		{"utf-16be", be("Key: " + s + "\r\n"), 1},
		{"partial utf-16le echo of 16 characters", le("key " + s[1:17] + "..."), 1},
		{"partial utf-16be echo of 16 characters", be("key " + s[1:17] + "..."), 1},
	}
}

func TestRedactEveryForm(t *testing.T) {
	set := redact.NewSet([]byte(testSecret))
	for _, tc := range echoCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			if got := leaks([]byte(tc.body), testSecret); len(got) == 0 {
				t.Fatalf("case does not echo the secret")
			}
			out, n := set.Redact([]byte(tc.body))
			if got := leaks(out, testSecret); len(got) > 0 {
				t.Fatalf("leaked %v in %q", got, out)
			}
			if tc.count >= 0 && n != tc.count {
				t.Errorf("count = %d, want %d (output %q)", n, tc.count, out)
			}
			if replacements(out) != n {
				t.Errorf("count %d does not match the replacements in %q", n, out)
			}
			str, sn := set.RedactString(tc.body)
			if str != string(out) || sn != n {
				t.Errorf("RedactString = %q, %d; Redact = %q, %d", str, sn, out, n)
			}
		})
	}
}

func TestRedactKeepsSurroundingText(t *testing.T) {
	set := redact.NewSet([]byte(testSecret))
	out, n := set.Redact([]byte("before " + testSecret + " after"))
	if want := "before " + redact.Replacement + " after"; string(out) != want || n != 1 {
		t.Fatalf("got %q, %d; want %q, 1", out, n, want)
	}
	partial := "key " + testSecret[:18] + "!"
	out, _ = set.Redact([]byte(partial))
	if want := "key " + redact.Replacement + "!"; string(out) != want {
		t.Fatalf("partial echo: got %q, want %q", out, want)
	}
}

func TestHeaders(t *testing.T) {
	set := redact.NewSet([]byte(testSecret), []byte("second-secret-value"))
	h := http.Header{}
	h.Set("X-Echo-Key", testSecret)
	h.Set("Www-Authenticate", "Basic "+base64.StdEncoding.EncodeToString([]byte("user:"+testSecret)))
	h.Add("Set-Cookie", "session=abc; token="+url.QueryEscape(testSecret))
	h.Add("Set-Cookie", "other=second-secret-value")
	h.Set("Content-Type", "application/json")
	n := set.Headers(h)
	if n != 4 {
		t.Errorf("count = %d, want 4", n)
	}
	for name, values := range h {
		for _, v := range values {
			if got := leaks([]byte(v), testSecret); len(got) > 0 {
				t.Errorf("header %s leaked %v", name, got)
			}
			if strings.Contains(v, "second-secret-value") {
				t.Errorf("header %s leaked the second secret", name)
			}
		}
	}
	if h.Get("Content-Type") != "application/json" {
		t.Errorf("unrelated header changed: %q", h.Get("Content-Type"))
	}
}

// TestHeaderNames: a header whose name holds a secret, in any letter case
// (net/http re-cases names), whole or as a partial run, is removed.
func TestHeaderNames(t *testing.T) {
	const secret = "tok_0123456789abcdefGHIJKLmnop"
	set := redact.NewSet([]byte(secret))
	h := http.Header{
		"X-" + secret:                            {"1"},
		http.CanonicalHeaderKey("x-" + secret):   {"2"},
		strings.ToUpper(secret[3:21]) + "-Trail": {"3"},
		"X-Short-Tok_0123":                       {"4"},
		"Content-Type":                           {"text/plain"},
		// Longer than the stack buffer names are lowered in, and not
		// ASCII (lowered by strings.ToLower).
		"X-" + strings.Repeat("Pad-", 20) + strings.ToUpper(secret): {"5"},
		"Ä-" + strings.ToUpper(secret):                              {"6"},
	}
	if n := set.Headers(h); n != 5 {
		t.Errorf("count = %d, want 5", n)
	}
	var names []string
	for name := range h {
		names = append(names, name)
	}
	if len(h) != 2 || h.Get("Content-Type") != "text/plain" || h.Get("X-Short-Tok_0123") != "4" {
		t.Errorf("headers left: %q", names)
	}
}

// TestManyOccurrences checks a 5 MB body echoing the secret thousands of
// times in every form.
func TestManyOccurrences(t *testing.T) {
	set := redact.NewSet([]byte(testSecret))
	body, inserted := manyOccurrences(t, 5<<20)
	if inserted < 1000 {
		t.Fatalf("only %d occurrences", inserted)
	}
	out, n := set.Redact(body)
	if got := leaks(out, testSecret); len(got) > 0 {
		t.Fatalf("leaked %v", got)
	}
	if n != inserted {
		t.Errorf("count = %d, want %d", n, inserted)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	streamed, sn, err := viaReader(set, body, randomSizes(rng, 64, 70000))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(streamed, out) || sn != n {
		t.Errorf("streamed output differs from whole-buffer output (%d vs %d replacements)", sn, n)
	}
}

// manyOccurrences builds a body of about size bytes cycling through every
// echo case, separated by filler text, and returns the number of echoes.
func manyOccurrences(t *testing.T, size int) ([]byte, int) {
	cases := echoCases(t)
	var b bytes.Buffer
	inserted := 0
	for i := 0; b.Len() < size; i++ {
		c := cases[i%len(cases)]
		b.WriteString("\n--- filler: lorem ipsum dolor sit amet ---\n")
		b.WriteString(c.body)
		inserted += c.count
	}
	return b.Bytes(), inserted
}

// TestNoFalsePositives feeds text without secrets, including text ending
// with the start of a secret, and expects it back byte for byte.
func TestNoFalsePositives(t *testing.T) {
	set := redact.NewSet([]byte(testSecret), []byte("another-secret-0123456789"))
	rng := rand.New(rand.NewPCG(3, 4))
	random := make([]byte, 200000)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	prose := strings.Repeat(`{"id":42,"name":"Ab+/=&% quoted \"text\" é and sk_live_ test","ok":true}`+"\n", 3000)
	bodies := map[string]string{
		"prose":                  prose,
		"random bytes":           string(random),
		"ends with secret start": "partial: " + testSecret[:15],
		"ends with base64 start": "b64: " + base64.StdEncoding.EncodeToString([]byte(testSecret))[:15],
		"ends with hex start":    "hex: " + hex.EncodeToString([]byte(testSecret))[:15],
		"15-byte windows":        testSecret[:15] + " " + testSecret[1:16] + " " + testSecret[17:32],
		"empty":                  "",
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			if got := leaks([]byte(body), testSecret); len(got) > 0 {
				t.Fatalf("fixture holds a secret form: %v", got)
			}
			out, n := set.Redact([]byte(body))
			if n != 0 || string(out) != body {
				t.Fatalf("Redact changed the text (%d replacements)", n)
			}
			for _, sizes := range [][]int{{1}, {7, 1, 3}, randomSizes(rng, 16, 5000)} {
				for via, run := range map[string]func(*redact.Set, []byte, []int) ([]byte, int, error){"reader": viaReader, "writer": viaWriter} {
					out, n, err := run(set, []byte(body), sizes)
					if err != nil {
						t.Fatal(err)
					}
					if n != 0 || string(out) != body {
						t.Fatalf("%s with chunks %v changed the text (%d replacements)", via, sizes[:min(3, len(sizes))], n)
					}
				}
			}
		})
	}
}

func TestEmptySet(t *testing.T) {
	set := redact.NewSet(nil, []byte{})
	if !set.Empty() {
		t.Fatal("set of empty secrets is not empty")
	}
	out, n := set.Redact([]byte("anything"))
	if string(out) != "anything" || n != 0 {
		t.Fatalf("got %q, %d", out, n)
	}
	streamed, n, err := viaWriter(set, []byte("anything"), []int{3})
	if err != nil || string(streamed) != "anything" || n != 0 {
		t.Fatalf("writer: %q, %d, %v", streamed, n, err)
	}
	if redact.NewSet([]byte("x")).Empty() {
		t.Fatal("set with a secret is empty")
	}
}

// TestShortSecrets covers secrets shorter than the partial-echo length,
// down to one byte: whole values only, in every form.
func TestShortSecrets(t *testing.T) {
	for _, secret := range []string{"k", "pw", "abc", "hunter2", "é/+%\"", "fifteen-bytes!!"} {
		set := redact.NewSet([]byte(secret))
		var body strings.Builder
		for _, f := range expectedForms(secret) {
			body.WriteString(" <" + f.text + "> ")
		}
		out, _ := set.Redact([]byte(body.String()))
		if got := leaks(out, secret); len(got) > 0 {
			t.Errorf("secret %q: leaked %v", secret, got)
		}
		rng := rand.New(rand.NewPCG(5, uint64(len(secret))))
		streamed, _, err := viaReader(set, []byte(body.String()), randomSizes(rng, 8, 9))
		if err != nil || !bytes.Equal(streamed, out) {
			t.Errorf("secret %q: streamed output differs (%v)", secret, err)
		}
	}
}

func TestFormsListsEncodings(t *testing.T) {
	forms := redact.Forms([]byte(testSecret))
	has := map[string]bool{}
	for _, f := range forms {
		if has[string(f)] {
			t.Errorf("duplicate form %q", f)
		}
		has[string(f)] = true
	}
	for _, f := range expectedForms(testSecret) {
		if strings.HasPrefix(f.name, "16-byte window") || strings.HasPrefix(f.name, "32-byte window") {
			continue
		}
		if !has[f.text] {
			t.Errorf("Forms lacks %s", f.name)
		}
	}
	if redact.Forms(nil) != nil {
		t.Error("Forms of an empty secret is not empty")
	}
}
