package openclaw

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"

	"github.com/The-17/agentsecrets/vault"
)

// ProtocolVersion is the only protocol version this package speaks.
const ProtocolVersion = 1

// MaxRequestBytes bounds the request read from standard input: the most
// OpenClaw's secrets.resolution.maxBatchBytes can be set to (its default is
// 256 KiB). Every request OpenClaw can send is read, up to MaxIDs ids of
// MaxIDLen bytes (more than 1 MiB).
const MaxRequestBytes = 5 << 20

// MaxIDs bounds the ids of one request: the most OpenClaw's
// secrets.resolution.maxRefsPerProvider can be set to (its default is 512).
const MaxIDs = 4096

// Errors for a request that cannot be served as a whole. Each error returned
// by ReadRequest and ParseRequest matches exactly one of them.
var (
	ErrEmptyRequest       = errors.New("openclaw: empty request")
	ErrRequestTooLarge    = errors.New("openclaw: request too large")
	ErrMalformedRequest   = errors.New("openclaw: malformed request")
	ErrUnsupportedVersion = errors.New("openclaw: unsupported protocol version")
)

// Error codes given per id under errors.
const (
	CodeNotFound     = "NOT_FOUND"     // no such key, or no such project
	CodeInvalidID    = "INVALID_ID"    // the id is not KEY, ENV/KEY or PROJECT/ENV/KEY
	CodeNoContext    = "NO_CONTEXT"    // a short id and no active project
	CodeEmptyValue   = "EMPTY_VALUE"   // the stored value is empty
	CodeInvalidValue = "INVALID_VALUE" // the stored value is not UTF-8 text
	CodeLocked       = "VAULT_LOCKED"  // the file backend has no or a wrong passphrase
	CodeUnavailable  = "UNAVAILABLE"   // the OS keychain did not answer
	CodeTampered     = "TAMPERED"      // the stored item failed authentication
	CodeTimeout      = "TIMEOUT"       // the deadline passed before the id was read
	CodeAuditFailed  = "AUDIT_FAILED"  // the resolution could not be audited
	CodeError        = "ERROR"         // anything else
)

// Request is an exec provider request.
type Request struct {
	ProtocolVersion int
	// Provider is the provider alias in OpenClaw's configuration ("" when
	// the request has none).
	Provider string
	// IDs are the requested ids, in order, duplicates kept.
	IDs []string
}

// IDError is the error reported for one id.
type IDError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Response is an exec provider response. Values are vault.Secrets, which
// print as "[secret]" everywhere but through WriteTo.
type Response struct {
	Values map[string]vault.Secret
	Errors map[string]IDError
}

// ReadRequest reads at most MaxRequestBytes from r and parses them.
func ReadRequest(r io.Reader) (Request, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxRequestBytes+1))
	if err != nil {
		return Request{}, fmt.Errorf("%w: reading it: %v", ErrMalformedRequest, err)
	}
	if len(data) > MaxRequestBytes {
		return Request{}, fmt.Errorf("%w: more than %d bytes", ErrRequestTooLarge, MaxRequestBytes)
	}
	return ParseRequest(data)
}

// ParseRequest parses one request: a JSON object with protocolVersion 1,
// an optional provider string and an ids array of strings. Other members
// are ignored. Member names are matched exactly.
func ParseRequest(data []byte) (Request, error) {
	if len(data) > MaxRequestBytes {
		return Request{}, fmt.Errorf("%w: more than %d bytes", ErrRequestTooLarge, MaxRequestBytes)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return Request{}, fmt.Errorf("%w: expected a JSON object on standard input", ErrEmptyRequest)
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(data, &members); err != nil {
		return Request{}, malformed("not a JSON object: %s", describeJSONError(err))
	}
	if members == nil {
		return Request{}, malformed("not a JSON object: null")
	}
	version, err := parseVersion(members["protocolVersion"])
	if err != nil {
		return Request{}, err
	}
	req := Request{ProtocolVersion: version}
	if raw, ok := members["provider"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &req.Provider); err != nil {
			return Request{}, malformed("provider is not a string")
		}
	}
	if req.IDs, err = parseIDs(members["ids"]); err != nil {
		return Request{}, err
	}
	return req, nil
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformedRequest, fmt.Sprintf(format, args...))
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

func parseVersion(raw json.RawMessage) (int, error) {
	if raw == nil {
		return 0, malformed("protocolVersion is missing")
	}
	var n json.Number
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || (t[0] != '-' && (t[0] < '0' || t[0] > '9')) || json.Unmarshal(t, &n) != nil {
		return 0, malformed("protocolVersion is not a number")
	}
	f, err := strconv.ParseFloat(n.String(), 64)
	if err != nil || f != ProtocolVersion {
		return 0, fmt.Errorf("%w %s: this provider speaks protocol version %d", ErrUnsupportedVersion, n, ProtocolVersion)
	}
	return ProtocolVersion, nil
}

func parseIDs(raw json.RawMessage) ([]string, error) {
	if raw == nil {
		return nil, malformed("ids is missing")
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil || isNull(raw) {
		return nil, malformed("ids is not an array")
	}
	if len(items) > MaxIDs {
		return nil, malformed("%d ids, more than the %d allowed in one request", len(items), MaxIDs)
	}
	ids := make([]string, 0, len(items))
	for i, item := range items {
		var id string
		if err := json.Unmarshal(item, &id); err != nil || isNull(item) {
			return nil, malformed("ids[%d] is not a string", i)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// describeJSONError keeps the position of a syntax error and drops the
// decoder's Go type names.
func describeJSONError(err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Sprintf("%v (at byte %d)", syn, syn.Offset)
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return "a JSON " + typ.Value
	}
	return err.Error()
}

// Len is the number of ids the response answers.
func (r Response) Len() int { return len(r.Values) + len(r.Errors) }

// WriteTo writes the response as one line of JSON:
// {"protocolVersion":1,"values":{...},"errors":{...}}, ids sorted, errors left
// out when there are none. It is the only way a Response gives out values.
func (r Response) WriteTo(w io.Writer) (int64, error) {
	var b bytes.Buffer
	b.WriteString(`{"protocolVersion":1,"values":{`)
	for i, id := range sortedKeys(r.Values) {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSONString(&b, id)
		b.WriteByte(':')
		writeJSONString(&b, string(r.Values[id].Bytes()))
	}
	b.WriteByte('}')
	if len(r.Errors) > 0 {
		b.WriteString(`,"errors":{`)
		for i, id := range sortedKeys(r.Errors) {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(&b, id)
			b.WriteByte(':')
			e, _ := json.Marshal(r.Errors[id])
			b.Write(e)
		}
		b.WriteByte('}')
	}
	b.WriteString("}\n")
	n, err := w.Write(b.Bytes())
	return int64(n), err
}

func writeJSONString(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s) // a string always encodes
	b.Write(enc)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
