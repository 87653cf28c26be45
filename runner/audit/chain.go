package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// The version tags that open a canonical encoding, so encodings of
// different versions never collide. Version 2 is version 1 followed by the
// allowlist state; version 3 is version 2 followed by what an allowlist
// change changed. A row is encoded under the lowest version that holds
// all it has, byte for byte as that version always encoded it, so every
// row written before a version existed verifies unchanged.
const (
	chainVersion  = "agentsecrets-audit-chain-v1"
	chainVersion2 = "agentsecrets-audit-chain-v2"
	chainVersion3 = "agentsecrets-audit-chain-v3"
)

// genesisHash is the prev_hash of row 1: 32 zero bytes in hex.
const genesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// row is an event as stored: with its id and its place in the chain.
type row struct {
	ID       int64
	Event    Event
	PrevHash string
	Hash     string
}

// chainHash is hex(SHA-256(prev || canonical encoding of id and e)). A prev that is not
// valid hex is hashed as its text, so a tampered prev_hash still yields a
// (mismatching) hash rather than an error.
func chainHash(prev string, id int64, e Event) string {
	var h chainHasher
	return h.hash(prev, id, &e)
}

// chainHasher computes chainHash in a buffer it keeps between rows, so an
// append allocates only the resulting hex string. It remembers the last
// hash it made, so chaining the next row does not decode it from hex. It
// is not safe for concurrent use.
type chainHasher struct {
	buf     []byte
	last    string
	lastRaw [sha256.Size]byte
}

// hash is chainHash(prev, id, *e).
func (h *chainHasher) hash(prev string, id int64, e *Event) string {
	var b []byte
	if prev == h.last && prev != "" {
		b = append(h.buf[:0], h.lastRaw[:]...)
	} else {
		b = appendPrev(h.buf[:0], prev)
	}
	b = appendCanonical(b, id, e)
	h.buf = b
	h.lastRaw = sha256.Sum256(b)
	var out [2 * sha256.Size]byte
	hex.Encode(out[:], h.lastRaw[:])
	h.last = string(out[:])
	return h.last
}

// appendPrev appends the bytes prev stands for: the 32 bytes it encodes in
// hex (either case), or else its text.
func appendPrev(b []byte, prev string) []byte {
	if len(prev) != 2*sha256.Size {
		return append(b, prev...)
	}
	var raw [sha256.Size]byte
	for i := range raw {
		hi, ok1 := fromHexChar(prev[2*i])
		lo, ok2 := fromHexChar(prev[2*i+1])
		if !ok1 || !ok2 {
			return append(b, prev...)
		}
		raw[i] = hi<<4 | lo
	}
	return append(b, raw[:]...)
}

// fromHexChar is the value of one hex digit, as encoding/hex reads it.
func fromHexChar(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// appendCanonical appends the canonical encoding of id and every field of
// e, in a fixed order; strings and lists are length-prefixed and integers
// big-endian, so the encoding is unambiguous. A row with allowlist state
// is encoded under version 2, which appends the entry and the digest; a
// row of an allowlist change under version 3, which appends the domains
// changed, the digest before and the list after to those of version 2.
func appendCanonical(b []byte, id int64, e *Event) []byte {
	version := chainVersionOf(e)
	b = appendString(b, version)
	b = binary.BigEndian.AppendUint64(b, uint64(id))
	b = binary.BigEndian.AppendUint64(b, uint64(e.Time.UnixNano()))
	for _, s := range [...]string{e.Source, e.Agent, e.Workspace, e.Project, e.Environment, e.Method, e.URL} {
		b = appendString(b, s)
	}
	b = appendStrings(b, e.Keys)
	b = appendStrings(b, e.AuthStyles)
	b = binary.BigEndian.AppendUint64(b, uint64(int64(e.Status)))
	b = binary.BigEndian.AppendUint64(b, uint64(int64(e.Duration)))
	b = appendString(b, string(e.Decision))
	b = appendString(b, e.Reason)
	b = binary.BigEndian.AppendUint64(b, uint64(int64(e.Redactions)))
	if version != chainVersion {
		b = appendString(b, e.AllowlistEntry)
		b = appendString(b, e.AllowlistDigest)
	}
	if version == chainVersion3 {
		b = appendStrings(b, e.AllowlistChange)
		b = appendString(b, e.AllowlistBefore)
		b = appendStrings(b, e.AllowlistDomains)
	}
	return b
}

// chainVersionOf is the version e is encoded under: 3 when it has any
// field of an allowlist change, else 2 when it has allowlist state, else 1.
func chainVersionOf(e *Event) string {
	switch {
	case len(e.AllowlistChange) > 0 || e.AllowlistBefore != "" || len(e.AllowlistDomains) > 0:
		return chainVersion3
	case e.AllowlistEntry != "" || e.AllowlistDigest != "":
		return chainVersion2
	}
	return chainVersion
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func appendStrings(b []byte, list []string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(list)))
	for _, s := range list {
		b = appendString(b, s)
	}
	return b
}
