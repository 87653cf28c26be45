package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// ErrAuth means a blob failed authentication: wrong key, wrong associated
// data, or a blob that was changed, truncated or moved.
var ErrAuth = errors.New("seal: message authentication failed")

const (
	nonceSize = 12
	tagSize   = 16
)

// Overhead is how many bytes Seal adds to a plaintext.
const Overhead = nonceSize + tagSize

// Seal encrypts plaintext with AES-256-GCM under key (KeySize bytes),
// authenticating aad, and returns nonce || ciphertext || tag.
func Seal(key, plaintext, aad []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, nonceSize, nonceSize+len(plaintext)+tagSize)
	if _, err := rand.Read(out); err != nil {
		return nil, fmt.Errorf("seal: random nonce: %v", err)
	}
	return gcm.Seal(out, out[:nonceSize], plaintext, aad), nil
}

// Open authenticates and decrypts a blob made by Seal with the same key and
// aad. Any mismatch gives ErrAuth.
func Open(key, blob, aad []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(blob) < Overhead {
		return nil, ErrAuth
	}
	plaintext, err := gcm.Open(nil, blob[:nonceSize], blob[nonceSize:], aad)
	if err != nil {
		return nil, ErrAuth
	}
	return plaintext, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("seal: key of %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %v", err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal: %v", err)
	}
	return gcm, nil
}
