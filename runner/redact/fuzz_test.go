package redact_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"math/rand/v2"
	"testing"

	"github.com/The-17/agentsecrets/runner/redact"
)

func addSeeds(f *testing.F) {
	f.Add([]byte(testSecret), []byte("hello world, this is some text"), uint64(1))
	f.Add([]byte("k"), []byte("kkk k"), uint64(2))
	f.Add([]byte("aaaaaaaaaaaaaaaaaaaaaaaaa"), bytes.Repeat([]byte("a"), 100), uint64(3))
	f.Add([]byte("ab"), []byte("abababab"), uint64(4))
	f.Add([]byte("p@ss:w0rd/é+="), []byte(`{"a":"b"}`), uint64(5))
	f.Add([]byte(punctKey), []byte("GET /x?k=1 HTTP/1.1\r\n"), uint64(6))
	f.Add([]byte(longKey), []byte("$ base64 key.txt\n"), uint64(7))
}

// insertForms returns text with forms of secret inserted at random places,
// chosen by rng.
func insertForms(rng *rand.Rand, secret string, text []byte) []byte {
	forms := expectedForms(secret)
	extra := []string{
		"Basic " + base64.StdEncoding.EncodeToString([]byte("user:"+secret)),
		base64.StdEncoding.EncodeToString(append([]byte("xy"), secret...)),
		// Wrapped, starting mid-line: caught by partial runs.
		wrap(base64.StdEncoding.EncodeToString([]byte("user:"+secret+"\n")), 76, "\n") + "\n",
		wrap(hex.EncodeToString([]byte("K="+secret)), 60, "\n") + "\n",
	}
	var out []byte
	for range 1 + rng.IntN(6) {
		cut := rng.IntN(len(text) + 1)
		out = append(out, text[:cut]...)
		text = text[cut:]
		if rng.IntN(4) == 0 {
			out = append(out, extra[rng.IntN(len(extra))]...)
		} else {
			out = append(out, forms[rng.IntN(len(forms))].text...)
		}
	}
	return append(out, text...)
}

// FuzzRedactNeverLeaks inserts forms of a random secret into random text,
// redacts the result whole and in random chunks, and checks that no form
// of the secret survives.
func FuzzRedactNeverLeaks(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, secret, text []byte, seed uint64) {
		if len(secret) == 0 || len(secret) > 64 || len(text) > 4096 {
			t.Skip()
		}
		rng := rand.New(rand.NewPCG(seed, seed>>7))
		body := insertForms(rng, string(secret), text)
		set := redact.NewSet(secret)
		out, _ := set.Redact(body)
		if got := leaks(out, string(secret)); len(got) > 0 {
			t.Fatalf("whole buffer leaked %v", got)
		}
		streamed, _, err := viaReader(set, body, randomSizes(rng, 8, 1+rng.IntN(64)))
		if err != nil {
			t.Fatal(err)
		}
		if got := leaks(streamed, string(secret)); len(got) > 0 {
			t.Fatalf("stream leaked %v", got)
		}
	})
}

// FuzzStreamingEqualsWhole checks that a Writer and a Reader, fed in random
// chunks, give exactly the output and count of Redact over the whole input.
func FuzzStreamingEqualsWhole(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, secret, text []byte, seed uint64) {
		if len(secret) > 64 || len(text) > 4096 {
			t.Skip()
		}
		rng := rand.New(rand.NewPCG(seed, seed>>3))
		body := text
		if len(secret) > 0 {
			body = insertForms(rng, string(secret), text)
		}
		set := redact.NewSet(secret, []byte("second-secret-for-the-set"))
		want, wantN := set.Redact(body)
		sizes := randomSizes(rng, 8, 1+rng.IntN(100))
		for via, run := range map[string]func(*redact.Set, []byte, []int) ([]byte, int, error){"reader": viaReader, "writer": viaWriter} {
			out, n, err := run(set, body, sizes)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, want) || n != wantN {
				t.Fatalf("%s: got %q (%d), want %q (%d)", via, out, n, want, wantN)
			}
		}
	})
}
