package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
)

// DigestPrefix opens every allowlist digest, naming its hash function.
const DigestPrefix = "sha256:"

// DigestAllowlist identifies a whole allowlist: "sha256:" and the hex
// SHA-256 of its entries sorted (byte order), without duplicates, each
// followed by a newline. That is exactly what `agentsecrets workspace
// allowlist list` prints for a non-empty list, so
//
//	agentsecrets workspace allowlist list | sha256sum
//
// gives the same hex. An empty list hashes the empty text. Entries are
// domain names, never secrets; they are taken as the list spells them.
func DigestAllowlist(entries []string) string {
	sorted := slices.Clone(entries)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	h := sha256.New()
	for _, e := range sorted {
		h.Write([]byte(e))
		h.Write([]byte{'\n'})
	}
	var sum [sha256.Size]byte
	return DigestPrefix + hex.EncodeToString(h.Sum(sum[:0]))
}
