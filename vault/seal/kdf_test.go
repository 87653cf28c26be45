package seal_test

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/The-17/agentsecrets/vault/seal"
)

// Argon2id (version 0x13) known answers from the reference implementation,
// phc-winner-argon2 src/test.c. The RFC 9106 §5.3 vector cannot be
// reproduced here: it uses a secret key and associated data, inputs that
// golang.org/x/crypto/argon2 does not expose; these reference vectors use
// neither.
var argon2idVectors = []struct {
	password, salt string
	p              seal.Params
	want           string
}{
	{"password", "somesalt", seal.Params{Time: 2, MemoryKiB: 1 << 16, Threads: 1, KeyLen: 32}, "09316115d5cf24ed5a15a31a3ba326e5cf32edc24702987c02b6566f61913cf7"},
	{"password", "somesalt", seal.Params{Time: 2, MemoryKiB: 1 << 8, Threads: 1, KeyLen: 32}, "9dfeb910e80bad0311fee20f9c0e2b12c17987b4cac90c2ef54d5b3021c68bfe"},
	{"password", "somesalt", seal.Params{Time: 2, MemoryKiB: 1 << 8, Threads: 2, KeyLen: 32}, "6d093c501fd5999645e0ea3bf620d7b8be7fd2db59c20d9fff9539da2bf57037"},
	{"password", "somesalt", seal.Params{Time: 1, MemoryKiB: 1 << 16, Threads: 1, KeyLen: 32}, "f6a5adc1ba723dddef9b5ac1d464e180fcd9dffc9d1cbf76cca2fed795d9ca98"},
	{"password", "somesalt", seal.Params{Time: 4, MemoryKiB: 1 << 16, Threads: 1, KeyLen: 32}, "9025d48e68ef7395cca9079da4c4ec3affb3c8911fe4f86d1a2520856f63172c"},
	{"differentpassword", "somesalt", seal.Params{Time: 2, MemoryKiB: 1 << 16, Threads: 1, KeyLen: 32}, "0b84d652cf6b0c4beaef0dfe278ba6a80df6696281d7e0d2891b817d8c458fde"},
	{"password", "diffsalt", seal.Params{Time: 2, MemoryKiB: 1 << 16, Threads: 1, KeyLen: 32}, "bdf32b05ccc42eb15d58fd19b1f856b113da1e9a5874fdcc544308565aa8141c"},
}

func TestDeriveKeyReferenceVectors(t *testing.T) {
	for _, v := range argon2idVectors {
		got, err := seal.DeriveKey([]byte(v.password), []byte(v.salt), v.p)
		if err != nil {
			t.Fatalf("%s/%s %+v: %v", v.password, v.salt, v.p, err)
		}
		if hex.EncodeToString(got) != v.want {
			t.Errorf("%s/%s %+v = %x, want %s", v.password, v.salt, v.p, got, v.want)
		}
	}
}

func TestDefaultParamsAreRFC9106SecondOption(t *testing.T) {
	p := seal.DefaultParams()
	want := seal.Params{Time: 3, MemoryKiB: 65536, Threads: 4, KeyLen: seal.KeySize}
	if p != want {
		t.Fatalf("DefaultParams = %+v, want %+v", p, want)
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestDeriveKeyRejectsBadInput(t *testing.T) {
	ok := seal.Params{Time: 1, MemoryKiB: 64, Threads: 1, KeyLen: 32}
	salt := []byte("0123456789abcdef")
	cases := []struct {
		name string
		p    seal.Params
		salt []byte
	}{
		{"zero time", seal.Params{Time: 0, MemoryKiB: 64, Threads: 1, KeyLen: 32}, salt},
		{"huge time", seal.Params{Time: 1000, MemoryKiB: 64, Threads: 1, KeyLen: 32}, salt},
		{"zero lanes", seal.Params{Time: 1, MemoryKiB: 64, Threads: 0, KeyLen: 32}, salt},
		{"memory below 8 per lane", seal.Params{Time: 1, MemoryKiB: 31, Threads: 4, KeyLen: 32}, salt},
		{"huge memory", seal.Params{Time: 1, MemoryKiB: 1 << 30, Threads: 1, KeyLen: 32}, salt},
		{"short key", seal.Params{Time: 1, MemoryKiB: 64, Threads: 1, KeyLen: 8}, salt},
		{"long key", seal.Params{Time: 1, MemoryKiB: 64, Threads: 1, KeyLen: 1024}, salt},
		{"short salt", ok, []byte("1234567")},
		{"no salt", ok, nil},
	}
	for _, c := range cases {
		if key, err := seal.DeriveKey([]byte("pw"), c.salt, c.p); err == nil {
			t.Errorf("%s: got a %d-byte key, want an error", c.name, len(key))
		}
	}
}

func TestNewSaltIsRandom(t *testing.T) {
	a, err := seal.NewSalt()
	if err != nil {
		t.Fatal(err)
	}
	b, err := seal.NewSalt()
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != seal.SaltSize || bytes.Equal(a, b) {
		t.Fatalf("salts %x and %x", a, b)
	}
}

func BenchmarkDeriveKeyDefault(b *testing.B) {
	salt := []byte("0123456789abcdef")
	for b.Loop() {
		if _, err := seal.DeriveKey([]byte("correct horse"), salt, seal.DefaultParams()); err != nil {
			b.Fatal(err)
		}
	}
}
