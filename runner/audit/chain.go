package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// chainVersion opens every canonical encoding, so a future encoding can
// never collide with this one.
const chainVersion = "agentsecrets-audit-chain-v1"

// genesisHash is the prev_hash of row 1: 32 zero bytes in hex.
const genesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// row is an event as stored: with its id and its place in the chain.
type row struct {
	ID       int64
	Event    Event
	PrevHash string
	Hash     string
}

// chainHash is hex(SHA-256(prev || canonical(id, e))). A prev that is not
// valid hex is hashed as its text, so a tampered prev_hash still yields a
// (mismatching) hash rather than an error.
func chainHash(prev string, id int64, e Event) string {
	h := sha256.New()
	prevBytes, err := hex.DecodeString(prev)
	if err != nil || len(prevBytes) != sha256.Size {
		prevBytes = []byte(prev)
	}
	h.Write(prevBytes)
	h.Write(canonical(id, e))
	return hex.EncodeToString(h.Sum(nil))
}

// canonical encodes id and every field of e in a fixed order; strings and
// lists are length-prefixed and integers big-endian, so the encoding is
// unambiguous.
func canonical(id int64, e Event) []byte {
	b := make([]byte, 0, 256)
	b = appendString(b, chainVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(id))
	b = binary.BigEndian.AppendUint64(b, uint64(e.Time.UnixNano()))
	for _, s := range []string{e.Source, e.Agent, e.Workspace, e.Project, e.Environment, e.Method, e.URL} {
		b = appendString(b, s)
	}
	b = appendStrings(b, e.Keys)
	b = appendStrings(b, e.AuthStyles)
	b = binary.BigEndian.AppendUint64(b, uint64(int64(e.Status)))
	b = binary.BigEndian.AppendUint64(b, uint64(int64(e.Duration)))
	b = appendString(b, string(e.Decision))
	b = appendString(b, e.Reason)
	b = binary.BigEndian.AppendUint64(b, uint64(int64(e.Redactions)))
	return b
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
