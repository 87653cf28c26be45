package seal_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/The-17/agentsecrets/vault/seal"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, seal.KeySize) }

func TestSealOpenRoundTrip(t *testing.T) {
	key := testKey(1)
	for _, pt := range [][]byte{nil, {}, []byte("x"), bytes.Repeat([]byte("secret"), 1000)} {
		for _, aad := range [][]byte{nil, []byte("ws/proj/dev/KEY#1")} {
			blob, err := seal.Seal(key, pt, aad)
			if err != nil {
				t.Fatal(err)
			}
			if len(blob) != len(pt)+seal.Overhead {
				t.Errorf("blob length %d for plaintext %d", len(blob), len(pt))
			}
			got, err := seal.Open(key, blob, aad)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, pt) {
				t.Fatalf("round trip changed %d bytes of plaintext", len(pt))
			}
		}
	}
}

func TestSealUsesFreshNonces(t *testing.T) {
	key := testKey(2)
	a, _ := seal.Seal(key, []byte("same"), nil)
	b, _ := seal.Seal(key, []byte("same"), nil)
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same plaintext are identical")
	}
}

func TestSealDoesNotContainPlaintext(t *testing.T) {
	pt := []byte("sk_live_plaintext_marker")
	blob, err := seal.Seal(testKey(3), pt, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(blob, pt) {
		t.Fatal("blob contains the plaintext")
	}
}

func TestOpenRejectsTampering(t *testing.T) {
	key := testKey(4)
	aad := []byte("ws/proj/dev/STRIPE_KEY#3")
	otherAAD := []byte("ws/proj/dev/OTHER_KEY#3")
	pt := []byte("value")
	blob, err := seal.Seal(key, pt, aad)
	if err != nil {
		t.Fatal(err)
	}
	other, err := seal.Seal(key, []byte("other value"), otherAAD)
	if err != nil {
		t.Fatal(err)
	}
	type tc struct {
		name      string
		key, blob []byte
		aad       []byte
	}
	var cases []tc
	for i := range blob {
		flipped := bytes.Clone(blob)
		flipped[i] ^= 0x01
		cases = append(cases, tc{"flipped byte", key, flipped, aad})
	}
	for n := 0; n < len(blob); n++ {
		cases = append(cases, tc{"truncated", key, blob[:n], aad})
	}
	cases = append(cases,
		tc{"wrong aad", key, blob, otherAAD},
		tc{"missing aad", key, blob, nil},
		tc{"blob of another item", key, other, aad},
		tc{"wrong key", testKey(5), blob, aad},
		tc{"appended byte", key, append(bytes.Clone(blob), 0), aad},
	)
	for _, c := range cases {
		got, err := seal.Open(c.key, c.blob, c.aad)
		if !errors.Is(err, seal.ErrAuth) {
			t.Fatalf("%s (len %d): got %q, %v; want ErrAuth", c.name, len(c.blob), got, err)
		}
	}
}

func TestSealRejectsBadKeyLength(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33} {
		if _, err := seal.Seal(make([]byte, n), []byte("v"), nil); err == nil {
			t.Errorf("Seal with a %d-byte key succeeded", n)
		}
		if _, err := seal.Open(make([]byte, n), make([]byte, 64), nil); err == nil || errors.Is(err, seal.ErrAuth) {
			t.Errorf("Open with a %d-byte key: %v, want a key-length error", n, err)
		}
	}
}

func FuzzOpen(f *testing.F) {
	key := testKey(6)
	aad := []byte("ws/proj/dev/KEY#1")
	valid, err := seal.Seal(key, []byte("value"), aad)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid, aad)
	f.Add(valid[:20], aad)
	f.Add([]byte{}, []byte{})
	f.Add(bytes.Repeat([]byte{0xff}, 64), aad)
	f.Fuzz(func(t *testing.T, blob, ad []byte) {
		got, err := seal.Open(key, blob, ad)
		if err == nil {
			// Only blobs this test sealed open; fuzzing workers re-run the
			// setup, so the seed may come from another Seal of the same value.
			if !bytes.Equal(ad, aad) || string(got) != "value" {
				t.Fatalf("forged blob of %d bytes opened", len(blob))
			}
			return
		}
		if !errors.Is(err, seal.ErrAuth) {
			t.Fatalf("unexpected error %v", err)
		}
	})
}

func BenchmarkSeal1KiB(b *testing.B) {
	key, pt := testKey(7), make([]byte, 1024)
	b.SetBytes(1024)
	for b.Loop() {
		if _, err := seal.Seal(key, pt, []byte("aad")); err != nil {
			b.Fatal(err)
		}
	}
}
