package seal_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"

	"github.com/The-17/agentsecrets/vault/seal"
)

func TestSealToOpenFrom(t *testing.T) {
	// Bob's key pair from RFC 7748 §6.1, then a fresh one.
	bobPriv, _ := hex.DecodeString("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
	bobPub, err := seal.PublicKey(bobPriv)
	if err != nil {
		t.Fatal(err)
	}
	freshPub, freshPriv, err := seal.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	for _, kp := range []struct{ pub, priv []byte }{{bobPub, bobPriv}, {freshPub, freshPriv}} {
		aad := []byte("workspace key v1")
		blob, err := seal.SealTo(kp.pub, []byte("workspace key"), aad)
		if err != nil {
			t.Fatal(err)
		}
		got, err := seal.OpenFrom(kp.priv, blob, aad)
		if err != nil || string(got) != "workspace key" {
			t.Fatalf("OpenFrom = %q, %v", got, err)
		}
	}
}

func TestSealToIsRandomised(t *testing.T) {
	pub, _, _ := seal.GenerateKeyPair()
	a, _ := seal.SealTo(pub, []byte("v"), nil)
	b, _ := seal.SealTo(pub, []byte("v"), nil)
	if bytes.Equal(a[:32], b[:32]) || bytes.Equal(a, b) {
		t.Fatal("two seals share an ephemeral key")
	}
}

func TestOpenFromRejectsTampering(t *testing.T) {
	pub, priv, _ := seal.GenerateKeyPair()
	_, otherPriv, _ := seal.GenerateKeyPair()
	aad := []byte("member alice")
	blob, err := seal.SealTo(pub, []byte("workspace key"), aad)
	if err != nil {
		t.Fatal(err)
	}
	forOther, _ := seal.SealTo(pub, []byte("another key"), []byte("member bob"))
	cases := map[string]struct {
		priv, blob, aad []byte
	}{
		"wrong aad":        {priv, blob, []byte("member bob")},
		"blob for bob":     {priv, forOther, aad},
		"other recipient":  {otherPriv, blob, aad},
		"truncated":        {priv, blob[:len(blob)-1], aad},
		"only the eph key": {priv, blob[:32], aad},
		"empty":            {priv, nil, aad},
	}
	for i := range blob {
		b := bytes.Clone(blob)
		b[i] ^= 0x80
		cases[fmt.Sprintf("flipped byte %d", i)] = struct{ priv, blob, aad []byte }{priv, b, aad}
	}
	for name, c := range cases {
		if got, err := seal.OpenFrom(c.priv, c.blob, c.aad); !errors.Is(err, seal.ErrAuth) {
			t.Errorf("%s: got %q, %v; want ErrAuth", name, got, err)
		}
	}
}

func FuzzOpenFrom(f *testing.F) {
	pub, priv, err := seal.GenerateKeyPair()
	if err != nil {
		f.Fatal(err)
	}
	valid, err := seal.SealTo(pub, []byte("value"), []byte("aad"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid, []byte("aad"))
	f.Add(valid[:40], []byte("aad"))
	f.Add(make([]byte, 80), []byte{})
	f.Fuzz(func(t *testing.T, blob, aad []byte) {
		got, err := seal.OpenFrom(priv, blob, aad)
		if err == nil {
			if string(aad) != "aad" || string(got) != "value" {
				t.Fatalf("forged blob of %d bytes opened", len(blob))
			}
			return
		}
		if !errors.Is(err, seal.ErrAuth) {
			t.Fatalf("unexpected error %v", err)
		}
	})
}
