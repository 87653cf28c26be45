package vault

import (
	"fmt"
	"log/slog"
)

const redacted = "[secret]"

// Secret is a value read from the store. Every way of printing it (fmt
// verbs, encoding/json, encoding.TextMarshaler, log/slog) gives
// "[secret]"; Bytes is the only way to the value.
type Secret struct {
	value []byte
}

// NewSecret wraps b (not copied).
func NewSecret(b []byte) Secret { return Secret{value: b} }

// Bytes returns the value, for the code that splices it into a request, an
// environment or a reply. Do not keep, log or print it.
func (s Secret) Bytes() []byte { return s.value }

// Len is the value's length in bytes.
func (s Secret) Len() int { return len(s.value) }

// String returns "[secret]".
func (s Secret) String() string { return redacted }

// GoString returns "[secret]".
func (s Secret) GoString() string { return redacted }

// Format prints "[secret]" whatever the verb.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// MarshalJSON returns the JSON string "[secret]".
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText returns "[secret]".
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogValue makes log/slog print "[secret]".
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }
