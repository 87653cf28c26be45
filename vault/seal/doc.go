// Package seal holds the cryptographic primitives of the vault: passphrase
// key derivation, authenticated encryption bound to associated data, and
// sealing to a public key.
//
// # Key derivation
//
// DeriveKey runs Argon2id (RFC 9106) over a passphrase and a random salt.
// The cost parameters travel with the data they protect (a file header), so
// a file written with one set of parameters can always be opened later.
// DefaultParams is the second recommended option of RFC 9106 §4: three
// passes over 64 MiB with four lanes.
//
// # Authenticated encryption
//
// Seal encrypts with AES-256-GCM under a fresh random 96-bit nonce that is
// prepended to the ciphertext. The associated data is authenticated but not
// stored: Open must be given the same associated data, so a blob copied to
// another place (another name, another version) does not open there. Any
// change to the key, the blob or the associated data yields ErrAuth.
//
// # Sealing to a public key
//
// SealTo encrypts for the holder of an X25519 private key without any shared
// secret: an ephemeral X25519 key pair is generated per message, the shared
// secret (RFC 7748) is expanded with HKDF-SHA256 into an AES-256-GCM key,
// and the ephemeral public key is prepended to the sealed blob. OpenFrom
// reverses it with the recipient's private key.
package seal
