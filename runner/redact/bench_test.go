package redact_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/The-17/agentsecrets/runner/redact"
)

// benchSecrets returns n API-key-like secrets of 24 to 48 bytes.
func benchSecrets(n int) [][]byte {
	rng := rand.New(rand.NewPCG(11, 12))
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-+/="
	prefixes := []string{"sk_live_", "ghp_", "xoxb-", "AKIA", "", "pk_test_"}
	out := make([][]byte, n)
	for i := range out {
		b := []byte(prefixes[i%len(prefixes)])
		for len(b) < 24+rng.IntN(25) {
			b = append(b, alphabet[rng.IntN(len(alphabet))])
		}
		out[i] = b
	}
	return out
}

// benchBody returns about size bytes of JSON-like API responses without
// secrets.
func benchBody(size int) []byte {
	rng := rand.New(rand.NewPCG(13, 14))
	words := strings.Fields("the quick brown fox jumps over lazy dog status ok error " +
		"customer invoice amount currency usd eur created updated id object list data " +
		"has_more true false null payment_intent succeeded requires_action")
	var b bytes.Buffer
	for b.Len() < size {
		fmt.Fprintf(&b, `{"id":"obj_%08x","object":"%s","amount":%d,"description":"`,
			rng.Uint32(), words[rng.IntN(len(words))], rng.IntN(100000))
		for range 5 + rng.IntN(10) {
			b.WriteString(words[rng.IntN(len(words))])
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, `","hash":"%016x","created":%d}`+"\n", rng.Uint64(), 1700000000+rng.IntN(1e6))
	}
	return b.Bytes()[:size]
}

// benchBodyWithSecrets returns about size bytes of benchBody text with a
// form of one of the secrets every every bytes.
func benchBodyWithSecrets(secrets [][]byte, size, every int) ([]byte, int) {
	base := benchBody(size)
	var forms [][]byte
	for _, s := range secrets {
		forms = append(forms, redact.Forms(s)...)
		forms = append(forms, s[2:18])
	}
	var b bytes.Buffer
	n := 0
	for i := 0; i < len(base); i += every {
		b.Write(base[i:min(i+every, len(base))])
		b.WriteString(" ")
		b.Write(forms[n%len(forms)])
		b.WriteString(" ")
		n++
	}
	return b.Bytes(), n
}

func benchRedact(b *testing.B, body []byte) {
	set := redact.NewSet(benchSecrets(20)...)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		set.Redact(body)
	}
}

// BenchmarkRedact1MBNoMatch is the common case: a response without secrets.
func BenchmarkRedact1MBNoMatch(b *testing.B) {
	benchRedact(b, benchBody(1<<20))
}

// BenchmarkRedact5MBManyMatches redacts a 5 MB body holding thousands of
// occurrences in every form.
func BenchmarkRedact5MBManyMatches(b *testing.B) {
	body, n := benchBodyWithSecrets(benchSecrets(20), 5<<20, 1000)
	benchRedact(b, body)
	b.ReportMetric(float64(n), "occurrences")
}

// BenchmarkRedact1MBBase64NoMatch scans encoded data, whose characters are
// those of the base64 and hex forms, so more samples need verifying.
func BenchmarkRedact1MBBase64NoMatch(b *testing.B) {
	rng := rand.New(rand.NewPCG(15, 16))
	raw := make([]byte, 3<<18)
	for i := range raw {
		raw[i] = byte(rng.Uint32())
	}
	body := []byte(base64.StdEncoding.EncodeToString(raw[:len(raw)/2]) + hex.EncodeToString(raw[len(raw)/2:]))
	benchRedact(b, body[:1<<20])
}

func BenchmarkReader1MBNoMatch(b *testing.B) {
	set := redact.NewSet(benchSecrets(20)...)
	body := benchBody(1 << 20)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		io.Copy(io.Discard, set.NewReader(bytes.NewReader(body)))
	}
}

func BenchmarkWriter1MBNoMatch(b *testing.B) {
	set := redact.NewSet(benchSecrets(20)...)
	body := benchBody(1 << 20)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		w := set.NewWriter(io.Discard)
		w.Write(body)
		w.Close()
	}
}

// naiveForms is every string the naive redactor replaces: all forms and
// every 16-byte window of each secret.
func naiveForms(secrets [][]byte) []string {
	var out []string
	for _, s := range secrets {
		for _, f := range redact.Forms(s) {
			out = append(out, string(f))
		}
		for i := 0; i+16 <= len(s); i++ {
			out = append(out, string(s[i:i+16]))
		}
	}
	return out
}

func benchNaive(b *testing.B, body []byte) {
	forms := naiveForms(benchSecrets(20))
	text := string(body)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		out := text
		for _, f := range forms {
			out = strings.ReplaceAll(out, f, redact.Replacement)
		}
	}
	b.ReportMetric(float64(len(forms)), "patterns")
}

// BenchmarkNaiveReplaceAll1MBNoMatch is the baseline: strings.ReplaceAll
// over every form in turn.
func BenchmarkNaiveReplaceAll1MBNoMatch(b *testing.B) {
	benchNaive(b, benchBody(1<<20))
}

func BenchmarkNaiveReplaceAll5MBManyMatches(b *testing.B) {
	body, _ := benchBodyWithSecrets(benchSecrets(20), 5<<20, 1000)
	benchNaive(b, body)
}

// BenchmarkNewSet20 is the cost of compiling 20 secrets, paid once per set.
func BenchmarkNewSet20(b *testing.B) {
	secrets := benchSecrets(20)
	b.ReportAllocs()
	for b.Loop() {
		redact.NewSet(secrets...)
	}
}

// BenchmarkNewSet1 is the cost of compiling the set of a call that opens
// one secret.
func BenchmarkNewSet1(b *testing.B) {
	secrets := benchSecrets(1)
	b.ReportAllocs()
	for b.Loop() {
		redact.NewSet(secrets...)
	}
}

// BenchmarkHeaders redacts the headers of a typical response, names
// included.
func BenchmarkHeaders(b *testing.B) {
	set := redact.NewSet(benchSecrets(20)...)
	h := http.Header{
		"Content-Type":                {"application/json; charset=utf-8"},
		"Date":                        {"Mon, 02 Jan 2006 15:04:05 GMT"},
		"Cache-Control":               {"no-store, max-age=0"},
		"Request-Id":                  {"req_0123456789abcdef"},
		"Strict-Transport-Security":   {"max-age=63072000; includeSubDomains; preload"},
		"X-Ratelimit-Remaining":       {"99"},
		"Access-Control-Allow-Origin": {"*"},
		"Vary":                        {"Accept-Encoding"},
	}
	b.ReportAllocs()
	for b.Loop() {
		set.Headers(h)
	}
}

// BenchmarkRedactPeriodic redacts 1 MB of text made of a secret with a
// short period (abab...), the worst case of partial-run matching: the
// secret's grams sit at every other offset and every offset matches.
func BenchmarkRedactPeriodic(b *testing.B) {
	for _, n := range []int{64, 256} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			set := redact.NewSet(bytes.Repeat([]byte("ab"), n/2))
			text := bytes.Repeat([]byte("ab"), 1<<19)
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				set.Redact(text)
			}
		})
	}
}
