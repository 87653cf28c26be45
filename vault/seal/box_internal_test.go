package seal

import (
	"encoding/hex"
	"testing"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// RFC 7748 §5.2 test vectors for the X25519 function. The second input
// u-coordinate has its top bit set, which X25519 must ignore.
func TestX25519RFC7748Vectors(t *testing.T) {
	cases := []struct{ scalar, u, want string }{
		{
			"a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
			"e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
			"c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
		},
		{
			"4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
			"e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
			"95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957",
		},
	}
	for _, c := range cases {
		got, err := x25519(unhex(t, c.scalar), unhex(t, c.u))
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(got) != c.want {
			t.Errorf("X25519(%s, %s) = %x, want %s", c.scalar, c.u, got, c.want)
		}
	}
}

// RFC 7748 §5.2 iterated vector: k = X25519(k, u), u = old k, from k = u = 9.
func TestX25519RFC7748Iterated(t *testing.T) {
	k := make([]byte, 32)
	k[0] = 9
	u := append([]byte(nil), k...)
	want := map[int]string{
		1:    "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079",
		1000: "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51",
	}
	for i := 1; i <= 1000; i++ {
		next, err := x25519(k, u)
		if err != nil {
			t.Fatal(err)
		}
		u, k = k, next
		if w, ok := want[i]; ok && hex.EncodeToString(k) != w {
			t.Fatalf("after %d iterations k = %x, want %s", i, k, w)
		}
	}
}

// RFC 7748 §6.1 Diffie-Hellman vector.
func TestX25519RFC7748DiffieHellman(t *testing.T) {
	alicePriv := unhex(t, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
	bobPriv := unhex(t, "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
	const (
		alicePubHex = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
		bobPubHex   = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
		sharedHex   = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"
	)
	alicePub, err := PublicKey(alicePriv)
	if err != nil || hex.EncodeToString(alicePub) != alicePubHex {
		t.Fatalf("Alice's public key = %x, %v", alicePub, err)
	}
	bobPub, err := PublicKey(bobPriv)
	if err != nil || hex.EncodeToString(bobPub) != bobPubHex {
		t.Fatalf("Bob's public key = %x, %v", bobPub, err)
	}
	k1, err := x25519(alicePriv, bobPub)
	if err != nil || hex.EncodeToString(k1) != sharedHex {
		t.Fatalf("X25519(a, B) = %x, %v", k1, err)
	}
	k2, err := x25519(bobPriv, alicePub)
	if err != nil || hex.EncodeToString(k2) != sharedHex {
		t.Fatalf("X25519(b, A) = %x, %v", k2, err)
	}
}

// A low-order public key gives an all-zero shared secret, which must be
// refused rather than used as a key.
func TestX25519RejectsLowOrderPoint(t *testing.T) {
	priv := unhex(t, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
	if _, err := x25519(priv, make([]byte, 32)); err == nil {
		t.Fatal("all-zero shared secret accepted")
	}
	if _, err := SealTo(make([]byte, 32), []byte("v"), nil); err == nil {
		t.Fatal("SealTo a low-order public key succeeded")
	}
}
