package seal

import (
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
)

// X25519KeySize is the length of X25519 public and private keys.
const X25519KeySize = 32

// hkdfInfo separates the keys SealTo derives from any other use of the
// same shared secret.
const hkdfInfo = "agentsecrets seal x25519-hkdf-sha256-aes256gcm v1"

// GenerateKeyPair returns a fresh X25519 key pair.
func GenerateKeyPair() (pub, priv []byte, err error) {
	key, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("seal: generate x25519 key: %v", err)
	}
	return key.PublicKey().Bytes(), key.Bytes(), nil
}

// PublicKey returns the X25519 public key of priv.
func PublicKey(priv []byte) ([]byte, error) {
	key, err := ecdh.X25519().NewPrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("seal: x25519 private key: %v", err)
	}
	return key.PublicKey().Bytes(), nil
}

// SealTo encrypts plaintext for the holder of the private key matching
// recipientPub, authenticating aad. The result is the ephemeral public key
// followed by a Seal blob.
func SealTo(recipientPub, plaintext, aad []byte) ([]byte, error) {
	ephPub, ephPriv, err := GenerateKeyPair()
	if err != nil {
		return nil, err
	}
	key, err := boxKey(ephPriv, recipientPub, ephPub, recipientPub)
	if err != nil {
		return nil, err
	}
	blob, err := Seal(key, plaintext, aad)
	if err != nil {
		return nil, err
	}
	return append(ephPub, blob...), nil
}

// OpenFrom decrypts a blob made by SealTo with the recipient's private key
// and the same aad. A changed blob or aad, or another key, gives ErrAuth.
func OpenFrom(priv, blob, aad []byte) ([]byte, error) {
	if len(blob) < X25519KeySize+Overhead {
		return nil, ErrAuth
	}
	ephPub := blob[:X25519KeySize]
	recipientPub, err := PublicKey(priv)
	if err != nil {
		return nil, err
	}
	key, err := boxKey(priv, ephPub, ephPub, recipientPub)
	if err != nil {
		return nil, ErrAuth
	}
	return Open(key, blob[X25519KeySize:], aad)
}

// boxKey derives the AES key of one sealed message from the X25519 shared
// secret, bound to both public keys.
func boxKey(priv, peerPub, ephPub, recipientPub []byte) ([]byte, error) {
	shared, err := x25519(priv, peerPub)
	if err != nil {
		return nil, err
	}
	salt := make([]byte, 0, 2*X25519KeySize)
	salt = append(append(salt, ephPub...), recipientPub...)
	key, err := hkdf.Key(sha256.New, shared, salt, hkdfInfo, KeySize)
	if err != nil {
		return nil, fmt.Errorf("seal: hkdf: %v", err)
	}
	return key, nil
}

// x25519 computes the RFC 7748 X25519 function of scalar and u-coordinate.
// An all-zero result (a low-order point) is an error.
func x25519(scalar, u []byte) ([]byte, error) {
	priv, err := ecdh.X25519().NewPrivateKey(scalar)
	if err != nil {
		return nil, fmt.Errorf("seal: x25519 private key: %v", err)
	}
	pub, err := ecdh.X25519().NewPublicKey(u)
	if err != nil {
		return nil, fmt.Errorf("seal: x25519 public key: %v", err)
	}
	shared, err := priv.ECDH(pub)
	if err != nil {
		return nil, fmt.Errorf("seal: x25519: %v", err)
	}
	return shared, nil
}
