package seal

import (
	"crypto/rand"
	"errors"
	"fmt"

	"golang.org/x/crypto/argon2"
)

// KeySize is the length in bytes of an AES-256 key.
const KeySize = 32

// SaltSize is the length of the salts NewSalt returns (RFC 9106 §3.1
// recommends 128 bits).
const SaltSize = 16

// minSaltSize is the shortest salt DeriveKey accepts, as in the reference
// implementation of Argon2.
const minSaltSize = 8

// Bounds that keep a hostile or corrupted header from demanding an absurd
// amount of time or memory.
const (
	maxTime      = 64
	maxMemoryKiB = 4 << 20 // 4 GiB
	maxKeyLen    = 64
)

// Params are the Argon2id cost parameters. They are stored next to the data
// they protect.
type Params struct {
	Time      uint32 `json:"t"` // passes over memory
	MemoryKiB uint32 `json:"m"` // memory in KiB
	Threads   uint8  `json:"p"` // lanes
	KeyLen    uint32 `json:"l"` // derived key length in bytes
}

// DefaultParams returns the second recommended option of RFC 9106 §4:
// t=3, m=64 MiB, p=4, with a 32-byte key.
func DefaultParams() Params {
	return Params{Time: 3, MemoryKiB: 64 << 10, Threads: 4, KeyLen: KeySize}
}

// Validate reports whether p is within the bounds Argon2id and this package
// accept.
func (p Params) Validate() error {
	switch {
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("seal: argon2id time %d out of range 1..%d", p.Time, maxTime)
	case p.Threads < 1:
		return errors.New("seal: argon2id needs at least one lane")
	case p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxMemoryKiB:
		return fmt.Errorf("seal: argon2id memory %d KiB out of range %d..%d", p.MemoryKiB, 8*uint32(p.Threads), maxMemoryKiB)
	case p.KeyLen < 16 || p.KeyLen > maxKeyLen:
		return fmt.Errorf("seal: argon2id key length %d out of range 16..%d", p.KeyLen, maxKeyLen)
	}
	return nil
}

// DeriveKey derives a key of p.KeyLen bytes from passphrase and salt with
// Argon2id (version 0x13).
func DeriveKey(passphrase, salt []byte, p Params) ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if len(salt) < minSaltSize {
		return nil, fmt.Errorf("seal: salt of %d bytes is shorter than %d", len(salt), minSaltSize)
	}
	return argon2.IDKey(passphrase, salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen), nil
}

// NewSalt returns SaltSize random bytes.
func NewSalt() ([]byte, error) {
	salt := make([]byte, SaltSize)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("seal: random salt: %v", err)
	}
	return salt, nil
}
